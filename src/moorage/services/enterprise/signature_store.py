"""Reading and writing signature artifacts in a repository: small blobs into the blob store, and the
signature manifest and its tag into the metadata database, with optimistic concurrency (two
executions signing the same digest never lose each other's signatures)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.engine import Connection

from moorage.domain.digests import Digest
from moorage.domain.manifests import parse_manifest
from moorage.domain.registry import Repository
from moorage.metadata.database import Database
from moorage.metadata.queries import blobs as blob_q
from moorage.metadata.queries import gc as gc_q
from moorage.metadata.queries import manifests as manifest_q
from moorage.metadata.tables import repositories
from moorage.services.lifecycle.guard import secure_blob
from moorage.signing.interface import SignatureArtifact
from moorage.storage import paths
from moorage.storage.blobstore import BlobStore


async def put_blob(store: BlobStore, data: bytes, digest: str) -> None:
    """Store a small blob made here (no-op when it is stored already): written in one atomic,
    durable step, with no upload session."""
    parsed = Digest.parse(digest)
    if Digest.of(data, parsed.algorithm) != parsed:
        raise ValueError(f"blob content does not match {digest}")
    if await store.stat(parsed) is None:
        await store.driver.put_content(paths.blob_data(parsed), data)


class SignatureStore:
    """Signature artifacts of repositories."""

    def __init__(self, db: Database, store: BlobStore) -> None:
        self.db = db
        self.store = store

    async def current(self, repository: Repository, tag: str) -> tuple[str, bytes] | None:
        """(digest, manifest bytes) under a signature tag, or None."""
        record = await self.db.read(lambda conn: manifest_q.by_tag(conn, repository.id, tag, with_payload=True))
        return (record.digest, record.payload) if record else None

    async def write(
        self,
        repository: Repository,
        artifact: SignatureArtifact,
        *,
        replacing: str | None,
        also: Callable[[Connection], None] | None = None,
    ) -> bool:
        """Store the artifact and point its tag at it, if the tag still points at ``replacing`` (None:
        nowhere); False when another writer moved it first (read again and retry). ``also`` runs in
        the same transaction (recording the outcome with the signature, atomically)."""
        for blob in artifact.blobs:
            await put_blob(self.store, blob.data, blob.digest)
        digest = str(Digest.of(artifact.manifest))
        parsed = parse_manifest(artifact.manifest, artifact.media_type)

        def work(conn: Connection) -> bool:
            gc_q.writer_fence(conn)  # the garbage collector deletes nothing these blobs need meanwhile
            # Serialise signature writers of one repository (PostgreSQL row lock; SQLite's write
            # transactions are serial already).
            conn.execute(select(repositories.c.id).where(repositories.c.id == repository.id).with_for_update())
            now = manifest_q.by_tag(conn, repository.id, artifact.tag, with_payload=False)
            if (now.digest if now else None) != replacing:
                return False
            for blob in artifact.blobs:
                secure_blob(self.store, Digest.parse(blob.digest), data=blob.data)
                blob_q.add(conn, blob.digest, len(blob.data))
                gc_q.revive(conn, blob.digest)
                blob_q.link(conn, repository.id, blob.digest, len(blob.data))
            manifest_id = manifest_q.store(conn, repository.id, digest, artifact.manifest, parsed)
            manifest_q.tag(conn, repository.id, artifact.tag, manifest_id)
            if also is not None:
                also(conn)
            return True

        return await self.db.write(work)
