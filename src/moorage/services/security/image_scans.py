"""Scans that jobs run for single images: a pushed tag (scan on push) and an Enterprise Edition
artifact (a manual scan), and where the image of an image-list row is read from.

The bodies of the ``security.scan_on_push`` and ``security.scan_artifact`` jobs: each takes ids,
records the image's tags in its owner's image list and scans the digest through a ``DigestScanner``
(which claims the digest, so a job run twice scans once and writes its result once).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from moorage.auth.keys import MasterKey
from moorage.domain.jobs import JobControl
from moorage.domain.registry import DEFAULT_INSTANCE
from moorage.domain.security import ImageRow, RegistryType
from moorage.metadata.database import Database
from moorage.metadata.queries import enterprise_artifacts as artifacts_q
from moorage.metadata.queries import security_images as images_q
from moorage.metadata.queries import security_registries as registries_q
from moorage.metadata.queries import security_swr as swr_q
from moorage.services.security import engine
from moorage.services.security.failures import ScanFailure
from moorage.services.security.remote_access import remote_access_of
from moorage.services.security.scan_options import engine_options
from moorage.services.security.scanning import DigestScanner
from moorage.services.security.sources import ImageOrigin, LocalOrigin
from moorage.services.security.synchronize import decrypt_password, origin_for
from moorage.settings import Settings
from moorage.storage.blobstore import BlobStore


@dataclass(frozen=True)
class ImageScans:
    """Scans images for jobs, in a worker."""

    settings: Settings
    db: Database
    store: BlobStore
    master_key: Callable[[], MasterKey]
    """Read when a remote registry's password must be decrypted."""

    def digest_scanner(self, job: JobControl, scanners: tuple[str, ...] = engine.ALL_SCANNERS) -> DigestScanner:
        """A scanner of digests for ``job`` (its claims are the job's; it stops when the job must)."""
        return DigestScanner(
            self.db,
            job.job.id,
            engine_options(self.settings, self.db, scanners),
            self.settings.vulndb_path,
            job.check_stopped,
        )

    def origin_of_row(self, row: ImageRow) -> ImageOrigin:
        """Where the image of a row is read from."""
        if RegistryType(row.registry_type).is_builtin:
            if row.repository_id is None:
                raise ScanFailure("get_detail_info_not_found", f"{row.label} has no repository")
            return LocalOrigin(self.db, self.store, repository_id=row.repository_id, name=row.repository_path)
        registry = self.db.run_read(lambda conn: registries_q.by_id(conn, row.registry_id))
        if registry is None:
            raise ScanFailure("get_detail_info_not_found", f"the registry of {row.label} was deleted")
        sealed = self.db.run_read(lambda conn: registries_q.password_encrypted(conn, registry.id))
        password = decrypt_password(self.master_key(), registry.id, sealed)
        return origin_for(registry, password, row.repository_path, remote_access_of(self.settings))

    def scan_pushed(self, job: JobControl, *, repository_id: int, tag: str, digest: str) -> dict[str, Any]:
        """Record a pushed tag in its owner's image list and scan it."""
        row = self.db.run_write(lambda conn: record_tag(conn, repository_id, tag, digest))
        if row is None:
            return {"skipped": "the tag no longer points at the pushed manifest"}
        result = self.digest_scanner(job).scan(self.origin_of_row(row), digest, not_before=0)
        return {"digest": digest, "status": result.status, "failed_code": result.failed_code}

    def scan_artifact(
        self, job: JobControl, *, repository_id: int, digest: str, name: str, requested_at: int
    ) -> dict[str, Any]:
        """A manual scan of one manifest of moorage's repositories (the Enterprise Edition's artifact
        scan): its tags are recorded in the image list, and a result older than the request is not reused."""

        def record(conn: Connection) -> None:
            artifact = artifacts_q.get_artifact(conn, repository_id, digest)
            for tag in artifact.tags if artifact is not None else ():
                record_tag(conn, repository_id, tag.name, digest)

        self.db.run_write(record)
        origin = LocalOrigin(self.db, self.store, repository_id=repository_id, name=name)
        result = self.digest_scanner(job).scan(origin, digest, not_before=requested_at)
        return {"digest": digest, "status": result.status, "failed_code": result.failed_code}


def record_tag(conn: Connection, repository_id: int, tag: str, digest: str) -> ImageRow | None:
    """Record a tag of one of moorage's repositories in its owner's image list (None when the tag no
    longer points at ``digest``: the next push or sync records what is there now)."""
    domain_id, instance_id = swr_q.owner_of(conn, repository_id)
    entry = swr_q.one_tag(conn, repository_id, tag)
    if domain_id is None or entry is None or entry.digest != digest:
        return None
    kind = RegistryType.SWR_PRIVATE if instance_id == DEFAULT_INSTANCE else RegistryType.SWR_ENTERPRISE
    registry = registries_q.ensure_builtin(conn, domain_id, kind)
    ids = images_q.upsert(
        conn, domain_id=domain_id, registry_id=registry.id, image_type=kind.image_type, entries=[entry]
    )
    images_q.refresh_latest_versions(conn, registry.id, repository=(entry.namespace, entry.image_name))
    return images_q.by_id(conn, ids[entry.row_key])
