"""An in-process registry for the garbage collection tests: the real services on a real database
(SQLite or PostgreSQL) and a real filesystem store, pushing images the way the OCI handlers do
(blob uploads, then the manifest), and the helpers the tests share (ageing rows, measuring storage,
running the collector)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text, update

from moorage.domain.digests import Digest
from moorage.domain.gc import GcParameters, GcRun
from moorage.domain.names import RepositoryName
from moorage.domain.registry import DEFAULT_INSTANCE, Repository
from moorage.metadata.database import Database
from moorage.metadata.migrate import upgrade
from moorage.metadata.queries import repositories as repo_q
from moorage.metadata.tables import blobs, manifests, repository_blobs, uploads
from moorage.services.blobs import BlobService
from moorage.services.lifecycle.runs import GcRunService
from moorage.services.manifests import ManifestService
from moorage.services.pulls import PullRecorder
from moorage.services.uploads import UploadService, UploadTarget
from moorage.settings.sections import GcSettings
from moorage.storage.blobstore import BlobStore
from moorage.storage.drivers.filesystem import FilesystemDriver
from moorage.storage.interface import StorageDriver

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
DAY_MS = 24 * 3600 * 1000


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical(document: object) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest_of(data), "size": len(data), **extra}


@dataclass
class Image:
    """A pushed image: its manifest bytes and every blob it references."""

    manifest: bytes
    blobs: dict[str, bytes] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return digest_of(self.manifest)


def image(
    *layers: bytes, config: bytes | None = None, subject: bytes | None = None, artifact_type: str | None = None
) -> Image:
    """An OCI image manifest over ``layers`` (and an optional ``subject``: a referrer)."""
    config_bytes = config if config is not None else canonical({"layers": [digest_of(layer) for layer in layers]})
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, config_bytes),
        "layers": [descriptor(OCI_LAYER, layer) for layer in layers],
    }
    if subject is not None:
        document["subject"] = descriptor(OCI_MANIFEST, subject)
    if artifact_type is not None:
        document["artifactType"] = artifact_type
    blobs_ = {digest_of(config_bytes): config_bytes, **{digest_of(layer): layer for layer in layers}}
    return Image(canonical(document), blobs_)


def index(*children: Image) -> Image:
    """An OCI index of ``children`` (pushed before it)."""
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            descriptor(OCI_MANIFEST, child.manifest, platform={"architecture": f"arch{i}", "os": "linux"})
            for i, child in enumerate(children)
        ],
    }
    return Image(canonical(document))


async def _body(data: bytes) -> AsyncIterator[bytes]:
    yield data


@dataclass
class Registry:
    """The services of one registry, in this process."""

    db: Database
    store: BlobStore
    root: Path
    uploads: UploadService
    manifests: ManifestService
    blobs: BlobService
    pulls: PullRecorder

    def target(self, repository: str, instance_id: str = DEFAULT_INSTANCE) -> UploadTarget:
        return UploadTarget(instance_id, RepositoryName.parse(repository), None)

    def repository(self, name: str, instance_id: str = DEFAULT_INSTANCE) -> Repository:
        found = self.db.run_read(lambda conn: repo_q.get(conn, instance_id, RepositoryName.parse(name)))
        assert found is not None, name
        return found

    async def upload(self, repository: str, data: bytes, *, instance_id: str = DEFAULT_INSTANCE) -> None:
        """A monolithic blob upload (``POST ?digest=``)."""
        await self.uploads.monolithic(
            target=self.target(repository, instance_id),
            digest=Digest.parse(digest_of(data)),
            chunks=_body(data),
            length=len(data),
        )

    async def put_manifest(
        self,
        repository: str,
        reference: str,
        payload: bytes,
        *,
        media_type: str = OCI_MANIFEST,
        instance_id: str = DEFAULT_INSTANCE,
    ) -> None:
        await self.manifests.put(
            target=self.target(repository, instance_id), reference=reference, content_type=media_type, payload=payload
        )

    async def push(
        self,
        repository: str,
        reference: str,
        pushed: Image,
        *,
        media_type: str = OCI_MANIFEST,
        instance_id: str = DEFAULT_INSTANCE,
    ) -> None:
        """Upload the image's blobs, then its manifest (tag or digest reference)."""
        for data in pushed.blobs.values():
            await self.upload(repository, data, instance_id=instance_id)
        await self.put_manifest(repository, reference, pushed.manifest, media_type=media_type, instance_id=instance_id)

    async def delete(self, repository: str, reference: str, *, instance_id: str = DEFAULT_INSTANCE) -> None:
        """``DELETE /v2/<repository>/manifests/<reference>``."""
        await self.manifests.delete(repository=self.repository(repository, instance_id), reference=reference)

    async def pull_blob(self, repository: str, digest: str, *, instance_id: str = DEFAULT_INSTANCE) -> bytes:
        """A blob's bytes as a GET serves them (``BlobUnknown`` if the repository cannot serve it)."""
        parsed = Digest.parse(digest)
        size = await self.blobs.size(repository=self.repository(repository, instance_id), digest=parsed)
        _, stream = await self.blobs.stream(digest=parsed, size=size, byte_range=None)
        return b"".join([chunk async for chunk in stream])

    async def pull(
        self, repository: str, reference: str, pushed: Image, *, instance_id: str = DEFAULT_INSTANCE
    ) -> None:
        """Fetch the manifest and every blob it needs, and check them byte for byte."""
        record = await self.manifests.get(
            instance_id=instance_id, name=RepositoryName.parse(repository), reference=reference, accept=()
        )
        assert record.payload == pushed.manifest
        for digest, data in pushed.blobs.items():
            assert await self.pull_blob(repository, digest, instance_id=instance_id) == data, digest

    def stored_bytes(self) -> int:
        """Apparent size of every blob file in storage."""
        return sum(p.stat().st_size for p in (self.root / "blobs").rglob("*") if p.is_file())

    def has_bytes(self, digest: str) -> bool:
        return (self.root / "blobs" / "sha256" / digest[7:9] / digest[7:] / "data").is_file()

    def blob_rows(self) -> set[str]:
        return {r[0] for r in self.db.run_read(lambda conn: conn.execute(blobs.select()).all())}

    def age(self, milliseconds: int) -> None:
        """Move every recorded time this far into the past (as if everything happened that long ago)."""

        def work(conn: Any) -> None:
            conn.execute(
                update(blobs).values(
                    touched_at=blobs.c.touched_at - milliseconds, created_at=blobs.c.created_at - milliseconds
                )
            )
            conn.execute(update(repository_blobs).values(created_at=repository_blobs.c.created_at - milliseconds))
            conn.execute(update(manifests).values(created_at=manifests.c.created_at - milliseconds))
            conn.execute(
                update(uploads).values(
                    updated_at=uploads.c.updated_at - milliseconds, created_at=uploads.c.created_at - milliseconds
                )
            )

        self.db.run_write(work)
        for path in (*(self.root / "blobs").rglob("*"), *(self.root / "uploads").rglob("*")):
            info = path.stat()
            os.utime(path, (info.st_atime - milliseconds / 1000, info.st_mtime - milliseconds / 1000))

    def gc_service(self, **settings: Any) -> GcRunService:
        return GcRunService(self.db, self.store, GcSettings(**{"grace_seconds": 3600, **settings}), jobs=None)

    async def collect(
        self, *, delete_untagged: bool = False, dry_run: bool = False, workers: int = 2, **settings: Any
    ) -> GcRun:
        """One run of the whole registry, here (as ``moorage gc`` does)."""
        return await self.gc_service(**settings).run_here(
            parameters=GcParameters(delete_untagged=delete_untagged, workers=workers, dry_run=dry_run)
        )


def migrated_template(url: str) -> None:
    """Migrate the (empty) database at ``url`` and add the default instance, to be copied by
    ``copy_database`` (migrating every test's database costs seconds)."""
    db = Database(url)
    try:
        upgrade(db)
        db.run_write(lambda conn: repo_q.ensure_instance(conn, DEFAULT_INSTANCE, DEFAULT_INSTANCE))
    finally:
        db.dispose()


def copy_database(template_url: str, name: str, directory: Path) -> str:
    """A new database with the template's contents: a copied file (SQLite) or ``CREATE DATABASE ...
    TEMPLATE`` (PostgreSQL); its URL."""
    if template_url.startswith("sqlite"):
        target = directory / f"{name}.db"
        shutil.copyfile(template_url.removeprefix("sqlite:///"), target)
        return f"sqlite:///{target}"
    server_url, _, template = template_url.rpartition("/")
    engine = create_engine(server_url + "/postgres", isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    finally:
        engine.dispose()
    return f"{server_url}/{name}"


def open_registry(url: str, root: Path, *, driver: StorageDriver | None = None) -> Registry:
    """The database at ``url`` (migrated: ``migrated_template``) and a store in ``root``."""
    db = Database(url)
    store = BlobStore(driver or FilesystemDriver(root))
    pulls = PullRecorder(db)
    return Registry(
        db,
        store,
        root,
        UploadService(db, store),
        ManifestService(db, max_bytes=4 << 20, pulls=pulls),
        BlobService(db, store),
        pulls,
    )
