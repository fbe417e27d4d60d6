"""Reading and writing signature artifacts in a repository: small blobs into the blob store, and the
signature manifest and its tag into the metadata database, with optimistic concurrency (two
executions signing the same digest never lose each other's signatures)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from sqlalchemy import select
from sqlalchemy.engine import Connection

from moorage.domain.digests import Digest, new_hasher
from moorage.domain.manifests import parse_manifest
from moorage.domain.registry import Repository
from moorage.metadata.database import Database
from moorage.metadata.queries import blobs as blob_q
from moorage.metadata.queries import manifests as manifest_q
from moorage.metadata.tables import repositories
from moorage.services.enterprise.artifacts import read_small_blob
from moorage.signing.interface import SignatureArtifact, SigningError
from moorage.storage.blobstore import BlobStore


async def put_blob(store: BlobStore, data: bytes, digest: str) -> None:
    """Store a small blob (no-op when it is stored already)."""
    parsed = Digest.parse(digest)
    if await store.stat(parsed) is not None:
        return
    upload_id = uuid.uuid4().hex
    hasher = new_hasher(parsed.algorithm)

    async def chunks() -> AsyncIterator[bytes]:
        yield data

    try:
        await store.append(upload_id, offset=0, chunks=chunks(), hasher=hasher)
        await store.commit(upload_id, digest=parsed, size=len(data), hasher=hasher)
    except BaseException:
        await store.delete_upload(upload_id)
        raise


class SignatureStore:
    """Signature artifacts of repositories."""

    def __init__(self, db: Database, store: BlobStore) -> None:
        self.db = db
        self.store = store

    async def current(self, repository: Repository, tag: str) -> tuple[str, bytes] | None:
        """(digest, manifest bytes) under a signature tag, or None."""
        record = await self.db.read(lambda conn: manifest_q.by_tag(conn, repository.id, tag, with_payload=True))
        return (record.digest, record.payload) if record else None

    async def read_blob(self, repository: Repository, digest: str, limit: int) -> bytes:
        """A blob the repository holds (signature payloads), at most ``limit`` bytes."""
        linked = await self.db.read(lambda conn: blob_q.linked_size(conn, repository.id, digest))
        if linked is None:
            raise SigningError(f"blob {digest} is not in {repository.full_name}")
        return await read_small_blob(self.store, digest, limit)

    async def write(self, repository: Repository, artifact: SignatureArtifact, *, replacing: str | None) -> bool:
        """Store the artifact and point its tag at it, if the tag still points at ``replacing`` (None:
        nowhere); False when another writer moved it first (read again and retry)."""
        for blob in artifact.blobs:
            await put_blob(self.store, blob.data, blob.digest)
        digest = str(Digest.of(artifact.manifest))
        parsed = parse_manifest(artifact.manifest, artifact.media_type)

        def work(conn: Connection) -> bool:
            # Serialise signature writers of one repository (PostgreSQL row lock; SQLite's write
            # transactions are serial already).
            conn.execute(select(repositories.c.id).where(repositories.c.id == repository.id).with_for_update())
            now = manifest_q.by_tag(conn, repository.id, artifact.tag, with_payload=False)
            if (now.digest if now else None) != replacing:
                return False
            for blob in artifact.blobs:
                blob_q.add(conn, blob.digest, len(blob.data))
                blob_q.link(conn, repository.id, blob.digest, len(blob.data))
            manifest_id = manifest_q.store(conn, repository.id, digest, artifact.manifest, parsed)
            manifest_q.tag(conn, repository.id, artifact.tag, manifest_id)
            return True

        return await self.db.write(work)
