"""The image-security pass workers run periodically (and once as they start): queue an advisory
database update when one is due, a re-match when a new database is installed, and the scheduled
scans that are due (see ``advisory_updates`` and ``schedule``)."""

from __future__ import annotations

from moorage.domain.jobs import JobSubmitter
from moorage.metadata.database import Database
from moorage.services.security.advisory_updates import UpdatePolicy, schedule_update
from moorage.services.security.schedule import periodic
from moorage.services.security.tasks import TaskService
from moorage.settings import Settings


def advisory_update_pass(settings: Settings, db: Database, jobs: JobSubmitter) -> None:
    """Queue an advisory database update when one is due (also run once as a worker starts, so a
    fresh install fetches its database without waiting a period)."""
    job_id = schedule_update(db, UpdatePolicy.of(settings), settings.vulndb_path)
    if job_id:
        jobs.send(job_id)


def periodic_pass(settings: Settings, db: Database, jobs: JobSubmitter) -> None:
    """The workers' periodic pass."""
    advisory_update_pass(settings, db, jobs)
    periodic(db, TaskService(db, jobs), settings.vulndb_path, lambda job_id: jobs.send(job_id))
