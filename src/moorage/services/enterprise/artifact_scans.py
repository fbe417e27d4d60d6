"""Scans of Enterprise Edition artifacts (Harbor's manual scan, scan overview and vulnerability
report, as the SWR EE API exposes them) through the registry's image scanner. A manual scan is a
``security.scan_artifact`` job; the overview and the report are read from the digest's stored scan
result, the same one the HSS image API and the pull policies use."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.engine import Connection

from moorage.domain.enterprise import Artifact, ArtifactScanState
from moorage.domain.errors import Invalid
from moorage.domain.jobs import JobKind, JobSubmitter
from moorage.domain.security import ScanResultRecord
from moorage.metadata.database import Database
from moorage.metadata.queries import security_results as results_q
from moorage.metadata.queries import security_swr as swr_q
from moorage.services.enterprise.artifacts import ArtifactService

SCANNABLE_TYPES = frozenset({"IMAGE"})
"""Artifact kinds the scanner reads (signatures, SBOMs and charts have no file system)."""


class ArtifactScanService:
    """Start scans of instance artifacts and read their results."""

    def __init__(self, db: Database, jobs: JobSubmitter, artifacts: ArtifactService) -> None:
        self.db = db
        self.jobs = jobs
        self.artifacts = artifacts

    async def start(self, *, instance_id: str, namespace: str, repository: str, reference: str) -> Artifact:
        """Queue a fresh scan of an image artifact (a result older than this request is not reused)."""
        artifact = await self.artifacts.get(
            instance_id=instance_id, namespace=namespace, repository=repository, reference=reference
        )
        if artifact.type not in SCANNABLE_TYPES:
            raise Invalid(
                f"{artifact.digest} is a {artifact.type.lower()} artifact: only images are scanned",
                reason="artifact_not_scannable",
            )

        def work(conn: Connection) -> str | None:
            results_q.ensure_row(conn, artifact.digest)  # the overview says Pending from now on
            return swr_q.owner_of(conn, artifact.repository_id)[0]

        domain_id = await self.db.write(work)
        await self.jobs.submit(
            JobKind.SCAN_ARTIFACT,
            {
                "repository_id": artifact.repository_id,
                "digest": artifact.digest,
                "name": f"{namespace}/{repository}",
                "requested_at": int(time.time() * 1000),
            },
            domain_id=domain_id,
        )
        return artifact

    async def state(self, artifact: Artifact, *, with_findings: bool) -> ArtifactScanState:
        """The stored result of an artifact (and the report's vulnerabilities when asked)."""

        def work(conn: Connection) -> tuple[ScanResultRecord | None, dict[str, Any] | None]:
            result = results_q.get(conn, artifact.digest)
            report = results_q.report(conn, artifact.digest) if with_findings and result is not None else None
            return result, report

        result, report = await self.db.read(work)
        if report is None:
            return ArtifactScanState(artifact, result)
        return ArtifactScanState(artifact, result, tuple(report.get("vulnerabilities", [])))

    async def get(
        self, *, instance_id: str, namespace: str, repository: str, reference: str, with_findings: bool
    ) -> ArtifactScanState:
        """An artifact by digest or tag, with its scan state."""
        artifact = await self.artifacts.get(
            instance_id=instance_id, namespace=namespace, repository=repository, reference=reference
        )
        return await self.state(artifact, with_findings=with_findings)
