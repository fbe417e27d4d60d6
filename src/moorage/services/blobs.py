"""Serving, deleting and mounting blobs of a repository."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy.engine import Connection

from moorage.domain.digests import Digest
from moorage.domain.errors import BlobUnknown, NameUnknown, RangeNotSatisfiable
from moorage.domain.names import RepositoryName
from moorage.domain.registry import ByteRange, Repository, UploadTarget
from moorage.metadata.database import Database, now_ms
from moorage.metadata.queries import blobs as q
from moorage.metadata.queries import gc as gc_q
from moorage.metadata.queries import repositories as repo_q
from moorage.services.blob_links import link_blob
from moorage.services.quotas import QuotaLimits, QuotaService
from moorage.storage.blobstore import BlobStore


class BlobService:
    """Blob reads, deletes and cross-repository mounts."""

    def __init__(
        self, db: Database, store: BlobStore, *, quotas: QuotaService | None = None, touch_after_ms: int = 0
    ) -> None:
        self.db = db
        self.store = store
        self.quotas = quotas or QuotaService(db, QuotaLimits())
        self.touch_after_ms = touch_after_ms
        """A blob found by a HEAD or GET is marked as used again once its last use is this old (half the
        garbage collector's grace period: the push that found it has that long to PUT its manifest)."""

    async def size_in(self, *, instance_id: str, name: RepositoryName, digest: Digest) -> int:
        """``size`` of a blob of the repository called ``name`` (or ``NameUnknown``), the repository
        and the blob read in one transaction: a push HEADs every blob before it uploads it."""

        def work(conn: Connection) -> tuple[Repository | None, tuple[int, int] | None]:
            repository = repo_q.get(conn, instance_id, name)
            return repository, None if repository is None else gc_q.linked_blob(conn, repository.id, str(digest))

        repository, found = await self.db.read(work)
        if repository is None:
            raise NameUnknown(f"repository {name} not known to registry", detail={"name": str(name)})
        return await self._used(repository, digest, found)

    async def size(self, *, repository: Repository, digest: Digest) -> int:
        """Size of a blob the repository may serve, or ``BlobUnknown``; a blob not used for a while is
        marked as used now (the client may be about to push a manifest that needs it)."""
        found = await self.db.read(lambda conn: gc_q.linked_blob(conn, repository.id, str(digest)))
        return await self._used(repository, digest, found)

    async def _used(self, repository: Repository, digest: Digest, found: tuple[int, int] | None) -> int:
        """The size ``found`` (size, last use) gives, after marking an old use as new."""
        if found is not None and found[1] < now_ms() - self.touch_after_ms:

            def touch(conn: Connection) -> bool:
                gc_q.writer_fence(conn)
                return gc_q.touch_linked(conn, repository.id, str(digest))

            if not await self.db.write(touch):
                found = None  # collected meanwhile
        if found is None:
            raise BlobUnknown(
                f"blob {digest} unknown to repository {repository.full_name}", detail={"digest": str(digest)}
            )
        return found[0]

    def local_file(self, digest: Digest) -> Path | None:
        """The blob's file on this machine when the storage driver keeps one (the server may send it
        itself), else None; the caller got the blob's size from ``size()`` first."""
        return self.store.local_path(digest)

    def local_name(self, digest: Digest) -> str | None:
        """The blob's file relative to the storage's ``blobs/`` directory when the driver keeps local
        files, else None; the caller got the blob's size from ``size()`` first (which checked the
        repository may serve it)."""
        return self.store.local_name(digest)

    def redirect_url(self, digest: Digest) -> str | None:
        """A short-lived URL of the object store the client may fetch the blob from (ranges included)
        when the storage is configured to redirect, else None; the caller got the size first."""
        return self.store.redirect_url(digest)

    async def stream(
        self, *, digest: Digest, size: int, byte_range: ByteRange | None
    ) -> tuple[ByteRange | None, AsyncIterator[bytes]]:
        """The bytes of a blob whose ``size`` the caller got from ``size()`` (which checked the
        repository may serve it): (the satisfiable part of ``byte_range``, or None for all; stream).
        The stream's first chunk is read before this returns, so a store that cannot be read fails
        here (``StorageUnavailable``: a 503 the client can retry) and not after a 200 went out."""
        if byte_range is None:
            return None, await _primed(self.store.read(digest))
        if byte_range.start >= size:
            raise RangeNotSatisfiable(f"range starts past the blob's {size} bytes", size=size)
        byte_range = ByteRange(byte_range.start, min(byte_range.end, size - 1))
        return byte_range, await _primed(self.store.read(digest, byte_range.start, byte_range.length))

    async def delete(self, *, repository: Repository, digest: Digest) -> None:
        """Stop the repository serving the blob (bytes go at garbage collection)."""
        if not await self.db.write(lambda conn: q.unlink(conn, repository.id, str(digest))):
            raise BlobUnknown(
                f"blob {digest} unknown to repository {repository.full_name}", detail={"digest": str(digest)}
            )

    async def mount(self, *, target: UploadTarget, digest: Digest, source: Repository) -> int | None:
        """Link a blob that ``source`` serves into the target repository (no copy; the repository is
        created if this is its first content); the blob's size, or None when the source does not have
        it (the caller then falls back to an upload session). A blob the target's organization does not
        hold yet is refused (``QuotaExceeded``) when it would not fit its storage quota."""

        def work(conn: Connection) -> int | None:
            gc_q.writer_fence(conn)  # before reading the source's link: the collector may be removing it
            size = q.linked_size(conn, source.id, str(digest))
            if size is not None:
                if self.quotas.storage_enforced:
                    self.quotas.check_link_in(conn, target, str(digest), size)
                link_blob(conn, target, str(digest), size, quotas=self.quotas)
            return size

        return await self.db.write(work)


async def _primed(stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """``stream`` with its first chunk already read (an empty stream stays empty)."""
    try:
        first = await anext(stream)
    except StopAsyncIteration:
        return _chain(b"", stream)
    return _chain(first, stream)


async def _chain(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in rest:
        yield chunk
