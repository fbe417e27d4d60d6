"""Blob upload sessions: chunked and streamed, resumable after a restart (requests that carry the whole
blob, monolithic or a closing PUT into an empty session, are ``upload_whole_body.py``'s).

Bytes live in storage and the session's size in the database, so any node can continue a
session. The running hash lives in this node's memory (``HashCache``); when a chunk arrives
where the cache cannot follow (restart, another node), hashing is deferred to the close, which
re-reads the stored bytes once. Under a storage quota every byte is reserved before it is read
(``services/quotas.py``): a chunk that would not fit is refused whole and not kept.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator

import anyio
from sqlalchemy.engine import Connection

from moorage.domain.digests import Digest, new_hasher
from moorage.domain.errors import (
    RangeNotSatisfiable,
    StorageUnavailable,
    UploadInvalid,
    UploadUnknown,
)
from moorage.domain.registry import UploadSession, UploadTarget
from moorage.metadata.database import Database, now_ms
from moorage.metadata.queries import gc as gc_queries
from moorage.metadata.queries import quotas as quota_queries
from moorage.metadata.queries import uploads as q
from moorage.services.blob_links import link_blob, quick_link
from moorage.services.lifecycle.guard import secure_blob
from moorage.services.quotas import QuotaLimits, QuotaService, stream_reservation
from moorage.services.upload_bodies import HashCache, mismatch, receive_exactly, replay
from moorage.services.upload_states import UploadStates
from moorage.services.upload_whole_body import WholeBodyUploads
from moorage.storage.blobstore import BlobStore

LEASE_SECONDS = 60.0
"""A chunk in flight holds its session this long by default (``registry.upload_lease_seconds``),
renewed every third of it while bytes keep coming: another chunk of the session, on this node or
another, is refused meanwhile, and a chunk whose node died releases it when the lease lapses."""


class UploadService:
    """Start, feed, inspect, finish and cancel upload sessions."""

    def __init__(
        self,
        db: Database,
        store: BlobStore,
        *,
        quotas: QuotaService | None = None,
        lease_seconds: float = LEASE_SECONDS,
        blob_max_bytes: int | None = None,
        states: UploadStates | None = None,
    ) -> None:
        self.db = db
        self.states = states
        """Signs the state of sessions started without a row; None: every session gets its row."""
        self.store = store
        self.lease_seconds = lease_seconds
        self.hashes = HashCache()
        self.quotas = quotas or QuotaService(db, QuotaLimits())
        self.blob_max_bytes = blob_max_bytes
        """The largest blob accepted (``registry.blob_max_bytes``); None: no bound."""
        self.whole = WholeBodyUploads(db, store, quotas=self.quotas, hashes=self.hashes, blob_max_bytes=blob_max_bytes)
        """The requests that carry a whole blob: ``monolithic``, and a closing PUT's small body."""

    async def start(self, *, target: UploadTarget) -> UploadSession:
        """A new empty session (refused when its repository or its bytes could not fit a quota). Without
        quotas to admit it, no row is written: the session's state is signed (``UploadSession.state``)
        and its row is made by its first chunk, if one comes."""
        upload_id = uuid.uuid4().hex
        quotas = self.quotas if self.quotas.storage_enforced or self.quotas.repositories_enforced else None
        if quotas is None and self.states is not None:
            state = self.states.sign(upload_id, target, now_ms())
            self.hashes.put(upload_id, 0, new_hasher("sha256"))
            return UploadSession(upload_id, str(target.name), 0, state=state)

        def create(conn: Connection) -> UploadSession:
            if quotas is not None:
                quotas.admit_upload_in(conn, target)
            return q.create(conn, upload_id, target.instance_id, str(target.name))

        session = await self.db.write(create, quick=True)
        self.hashes.put(session.id, 0, new_hasher("sha256"))
        return session

    def _verified(self, target: UploadTarget, upload_id: str, state: str | None) -> int | None:
        """The start time of a session whose ``_state`` came with the request (``UploadInvalid`` if it
        is not this session's, ``UploadUnknown`` if expired); None without one."""
        if state is None:
            return None
        if self.states is None:
            raise UploadInvalid("this registry does not take upload states", detail={"upload": upload_id})
        return self.states.verify(state, upload_id=upload_id, target=target)

    async def get(self, *, target: UploadTarget, upload_id: str, state: str | None = None) -> UploadSession:
        """A session of the repository (one started without a row and not used up yet is empty), or
        ``UploadUnknown``."""
        created = self._verified(target, upload_id, state)

        def look(conn: Connection) -> UploadSession | None:
            session = q.get(conn, upload_id, target.instance_id, str(target.name))
            if session is None and created is not None and not q.claimed(conn, upload_id):
                return UploadSession(upload_id, str(target.name), 0, state=state)
            return session

        session = await self.db.read(look)
        if session is None:
            raise UploadUnknown(f"upload {upload_id} unknown", detail={"upload": upload_id})
        return session

    async def _open(self, *, target: UploadTarget, upload_id: str, state: str | None) -> UploadSession:
        """The session's row, made now (and its state used up) for a session started without one."""
        session = await self.get(target=target, upload_id=upload_id, state=state)
        if session.state is None:
            return session
        created = self._verified(target, upload_id, state)
        quotas = self.quotas if self.quotas.storage_enforced or self.quotas.repositories_enforced else None

        def materialize(conn: Connection) -> UploadSession:
            if not q.claim(conn, upload_id):  # another request made the row (or ended the session) meanwhile
                current = q.get(conn, upload_id, target.instance_id, str(target.name))
                if current is None:
                    raise UploadUnknown(f"upload {upload_id} unknown", detail={"upload": upload_id})
                return current
            if quotas is not None:  # quotas enforced since the session started
                quotas.admit_upload_in(conn, target)
            return q.create(conn, upload_id, target.instance_id, str(target.name), created_ms=created)

        return await self.db.write(materialize, quick=True)

    async def append(
        self,
        *,
        target: UploadTarget,
        upload_id: str,
        chunks: AsyncIterable[bytes],
        start: int | None,
        length: int | None,
        state: str | None = None,
    ) -> UploadSession:
        """Add a chunk. ``start`` (from Content-Range) must be where the session ends; ``length``
        (Content-Length) when given must match what arrives."""
        session = await self._open(target=target, upload_id=upload_id, state=state)
        if start is not None and start != session.size:
            raise RangeNotSatisfiable(
                f"chunk starts at {start} but the upload holds {session.size} bytes", size=session.size
            )

        quotas = self.quotas if self.quotas.storage_enforced else None

        def take_lease(conn: Connection) -> int:
            if not q.lease(conn, upload_id, size=session.size, seconds=self.lease_seconds):
                current = q.get(conn, upload_id, target.instance_id, str(target.name))
                raise RangeNotSatisfiable(
                    "another chunk of this upload is in progress",
                    size=current.size if current else session.size,
                )
            if quotas is None:
                return 0
            # The chunk's bytes are reserved before the first one is read (a refusal rolls the lease back).
            wanted = session.size + length if length is not None else stream_reservation(session.size)
            return quotas.reserve_in(
                conn, reservation_id=upload_id, target=target, total=wanted, partial=length is None
            )

        granted = await self.db.write(take_lease, quick=True)
        new_size = session.size
        hasher = self.hashes.take(upload_id, session.size)
        body = self._renewing(upload_id, session.size, chunks)
        if quotas is not None and length is None:
            body = quotas.reserving(upload_id, target, session.size, granted, body)
        try:
            new_size = await self.store.append(
                upload_id,
                offset=session.size,
                chunks=body,
                hasher=hasher,
                limit=length,
                exact=True,
                max_size=self.blob_max_bytes,
            )
        except BaseException:
            # The chunk is void: the session keeps its old size (the store has given back the chunk's
            # bytes) and the hasher, which may have seen part of it, is dropped.
            def void(conn: Connection) -> None:
                q.release(conn, upload_id, size=session.size)
                if quotas is not None:
                    quotas.settle_in(conn, upload_id, session.size)

            with anyio.CancelScope(shield=True):
                await self.db.write(void)
            raise

        def done(conn: Connection) -> None:
            q.release(conn, upload_id, size=new_size)
            if quotas is not None:
                quotas.settle_in(conn, upload_id, new_size)

        await self.db.write(done, quick=True)
        if hasher is not None:
            self.hashes.put(upload_id, new_size, hasher)
        return UploadSession(upload_id, str(target.name), new_size)

    async def _renewing(self, upload_id: str, size: int, chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        """Pass chunks through, renewing the session's lease while a long chunk streams in."""
        renewed = time.monotonic()
        async for chunk in chunks:
            yield chunk
            if time.monotonic() - renewed > self.lease_seconds / 3:
                await self.db.write(lambda conn: q.lease_renew(conn, upload_id, seconds=self.lease_seconds))
                renewed = time.monotonic()

    async def finish(
        self,
        *,
        target: UploadTarget,
        upload_id: str,
        digest: Digest,
        chunks: AsyncIterable[bytes] | None,
        length: int | None,
        state: str | None = None,
    ) -> int:
        """Close a session with an optional last chunk: verify the digest, store the blob, link it to
        the repository (created now if this is its first content); return the blob's size. On a
        digest mismatch nothing is stored and the session ends."""
        created = self._verified(target, upload_id, state)
        if chunks is not None and length is not None and self.whole.receives_whole(length):
            # A small closing body is most often the whole blob of an empty session (docker, skopeo and
            # podman push configs and small layers so): digest it first, and read the session only when
            # it is not the blob (then it is the last chunk of a session that has the others). A session
            # without a verified state is read first all the same: the blob is stored before the
            # transaction that ends the session, so an upload id the repository does not know must be
            # refused before a byte is written (such sessions are rare: quotas, or after a first chunk).
            data = await receive_exactly(chunks, length)
            known = None if created is not None else await self.get(target=target, upload_id=upload_id)
            if (known is None or known.size == 0) and await self.store.matches(digest, data):
                return await self.whole.finish(
                    target=target, upload_id=upload_id, digest=digest, data=data, created=created
                )
            session = known or await self.get(target=target, upload_id=upload_id, state=state)
            if session.size == 0:
                with anyio.CancelScope(shield=True):
                    await self.db.write(lambda conn: self._remove(conn, upload_id, claim=created is not None))
                    self.hashes.drop(upload_id)
                raise mismatch(digest, data)
            chunks = replay(data)
        else:
            session = await self.get(target=target, upload_id=upload_id, state=state)
        if chunks is not None and (length is None or length > 0):
            session = await self.append(
                target=target, upload_id=upload_id, chunks=chunks, start=None, length=length, state=state
            )
        if session.state is None:  # a session with a row, which a chunk may be appending to right now
            await self._hold_for_close(target, upload_id, session.size)
        hasher = self.hashes.take(upload_id, session.size)
        try:
            placed = await self.store.commit(
                upload_id, digest=digest, size=session.size, hasher=hasher, keep_if_stored=True
            )
        except StorageUnavailable:
            # The bytes are still there: the client may send the same PUT again once the store is back.
            with anyio.CancelScope(shield=True):
                await self.db.write(lambda conn: q.release(conn, upload_id, size=session.size))
            raise
        except BaseException:
            # The session ends with its bytes (whatever failed: a wrong digest or size, the disk, the
            # client leaving while a large blob was hashed), not at the next purge.
            with anyio.CancelScope(shield=True):
                await self.db.write(lambda conn: self._remove(conn, upload_id, claim=created is not None))
                await self.store.delete_upload(upload_id)
            raise

        def record(conn: Connection) -> None:
            gc_queries.writer_fence(conn)
            secure_blob(self.store, digest, upload_id=None if placed else upload_id)
            link_blob(conn, target, str(digest), session.size, quotas=self.quotas)
            self._remove(conn, upload_id, claim=created is not None)

        try:
            await self.db.write(record, quick=quick_link(self.store, digest))
        finally:
            if not placed:  # the copy kept in case the stored one was being collected
                with anyio.CancelScope(shield=True):
                    await self.store.delete_upload(upload_id)
        return session.size

    async def _hold_for_close(self, target: UploadTarget, upload_id: str, size: int) -> None:
        """Take the session for its close as a chunk takes it (416 while a chunk holds it, or when it
        grew past ``size``), until the transaction that links the blob removes it: the upload data
        becomes the blob file, which every repository pushing those bytes shares, so no chunk may
        append to it meanwhile (a chunk's writer appends to the file it opened, moved or not)."""

        def take(conn: Connection) -> None:
            if not q.lease(conn, upload_id, size=size, seconds=self.lease_seconds):
                current = q.get(conn, upload_id, target.instance_id, str(target.name))
                if current is None:
                    raise UploadUnknown(f"upload {upload_id} unknown", detail={"upload": upload_id})
                raise RangeNotSatisfiable("another chunk of this upload is in progress", size=current.size)

        await self.db.write(take, quick=True)

    async def monolithic(
        self, *, target: UploadTarget, digest: Digest, chunks: AsyncIterable[bytes], length: int | None
    ) -> int:
        """``POST ?digest=``: the whole blob in one request, with no session (``WholeBodyUploads``)."""
        return await self.whole.monolithic(target=target, digest=digest, chunks=chunks, length=length)

    def _remove(self, conn: Connection, upload_id: str, *, claim: bool = False) -> None:
        """Remove a session, and its reservation under a storage quota; with ``claim`` use up its
        signed state too (a session that had one cannot be opened again by it)."""
        q.remove(conn, upload_id)
        if claim:
            q.claim(conn, upload_id)
        if self.quotas.storage_enforced:
            self.quotas.release_in(conn, upload_id)

    async def cancel(self, *, target: UploadTarget, upload_id: str, state: str | None = None) -> None:
        """Abandon a session and its bytes (a session started without a row has its state used up)."""
        await self.get(target=target, upload_id=upload_id, state=state)
        await self.db.write(lambda conn: self._remove(conn, upload_id, claim=state is not None))
        self.hashes.drop(upload_id)
        await self.store.delete_upload(upload_id)

    async def purge(self, *, older_than_seconds: float, idle_after_seconds: float | None = None) -> int:
        """Delete sessions untouched for ``older_than_seconds``; upload data that no session owns and
        the storage's temporary files (both left by a process killed mid-request) once untouched for
        ``idle_after_seconds`` (default ``older_than_seconds``) and held by no writer: an upload still
        streaming is never touched. Return how many sessions and files were removed."""
        cutoff = now_ms() - int(older_than_seconds * 1000)
        idle = older_than_seconds if idle_after_seconds is None else idle_after_seconds

        def remove_stale(conn: Connection) -> list[str]:
            found = q.stale(conn, before_ms=cutoff)
            for upload_id in found:
                q.remove(conn, upload_id)
                quota_queries.release(conn, upload_id)
            quota_queries.purge_expired(conn, now_ms())  # reservations a killed process left
            # Claims of states that expired (states live as long as untouched sessions; an hour's
            # margin for the clocks of other nodes).
            q.purge_claims(conn, before_ms=cutoff - 3_600_000)
            return found

        stale = await self.db.write(remove_stale)
        for upload_id in stale:
            self.hashes.drop(upload_id)
            await self.store.delete_upload(upload_id)
        orphans = 0
        stored = await self.store.list_uploads()
        known = await self.db.read(lambda conn: q.known(conn, stored))
        for upload_id in stored:
            if upload_id not in known and await self.store.delete_idle_upload(upload_id, older_than_seconds=idle):
                orphans += 1
        temporary = await self.store.purge_temporary(older_than_seconds=idle)
        return len(stale) + orphans + temporary
