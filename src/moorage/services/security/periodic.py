"""The image-security pass workers run periodically (and once as they start): queue an advisory
database update when one is due, a re-match when a new database is installed, and the scheduled
scans that are due (see ``advisory_updates`` and ``schedule``); with the database shared through
storage (``vulndb_share``), publish a newer local one."""

from __future__ import annotations

import asyncio
import logging

from moorage.domain.jobs import JobSubmitter
from moorage.metadata.database import Database
from moorage.services.security.advisory_updates import UpdatePolicy, schedule_update
from moorage.services.security.schedule import periodic
from moorage.services.security.tasks import TaskService
from moorage.services.security.vulndb_share import VulndbShare
from moorage.settings import Settings
from moorage.storage.blobstore import BlobStore

log = logging.getLogger(__name__)


def vulndb_share(settings: Settings, db: Database, store: BlobStore) -> VulndbShare | None:
    """The process's link to the published advisory database, when the settings share it."""
    return VulndbShare(db, store, settings.vulndb_path) if settings.vulndb_shared else None


def advisory_update_pass(settings: Settings, db: Database, jobs: JobSubmitter) -> None:
    """Queue an advisory database update when one is due (also run once as a worker starts, so a
    fresh install fetches its database without waiting a period)."""
    job_id = schedule_update(db, UpdatePolicy.of(settings), settings.vulndb_path, shared=settings.vulndb_shared)
    if job_id:
        jobs.send(job_id)


def periodic_pass(settings: Settings, db: Database, jobs: JobSubmitter, share: VulndbShare | None = None) -> None:
    """The workers' periodic pass (one worker of all per period)."""
    if share is not None:
        try:
            asyncio.run(share.publish_if_newer())
        except Exception:  # the rest of the pass does not depend on it; the next pass tries again
            log.exception("publishing the advisory database to storage failed")
    advisory_update_pass(settings, db, jobs)
    periodic(db, TaskService(db, jobs), settings.vulndb_path, lambda job_id: jobs.send(job_id))
