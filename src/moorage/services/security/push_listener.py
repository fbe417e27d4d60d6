"""Scan on push: a listener of stored manifests that queues a scan of each tagged push when the
organization's policy (or, without one, the global setting) asks for it. It only queues a job:
the push answers as soon as the job row exists; the image row and the scan happen in a worker.
A digest the account's pipeline already scanned against today's advisory database is not queued
(``cicd_reuse.py``)."""

from __future__ import annotations

import logging
from pathlib import Path

from moorage.domain.jobs import JobKind, JobSubmitter
from moorage.metadata.database import Database
from moorage.services.manifests import ManifestStored
from moorage.services.security.cicd_reuse import reuse_upload
from moorage.services.security.policies import PolicyService

log = logging.getLogger(__name__)


class ScanOnPush:
    """Queues ``security.scan_on_push`` jobs for tagged pushes the policies want scanned."""

    def __init__(self, db: Database, jobs: JobSubmitter, policies: PolicyService, vulndb_path: Path) -> None:
        self.db = db
        self.jobs = jobs
        self.policies = policies
        self.vulndb_path = vulndb_path

    async def manifest_stored(self, event: ManifestStored) -> None:
        """See ``moorage.services.manifests.ManifestListener``."""
        if event.tag is None:
            return  # platform images and referrers are pushed by digest; the tag's push scans them
        if not await self.policies.scans_push(event.namespace_id):
            return
        if event.domain_id and await reuse_upload(
            self.db,
            self.vulndb_path,
            domain_id=event.domain_id,
            repository_id=event.repository_id,
            tag=event.tag,
            digest=event.digest,
        ):
            return  # a pipeline of the account scanned this digest against today's database
        await self.jobs.submit(
            JobKind.SCAN_ON_PUSH,
            {"repository_id": event.repository_id, "tag": event.tag, "digest": event.digest},
            dedupe_key=f"push:{event.repository_id}:{event.tag}:{event.digest}"[:255],
            domain_id=event.domain_id,
        )
