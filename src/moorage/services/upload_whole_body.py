"""Uploads whose request carries the whole blob: ``POST ?digest=`` (monolithic) and a closing PUT whose
body is all of an empty session's blob (how docker, skopeo and podman push configs and small layers).

Why they are not the session paths (``uploads.py``): the blob arrives in one request, so there is no
chunk to order and no lease to take, and no session row is written for it. A monolithic upload has
none at all (its bytes go to a private upload directory, swept by the purge if the process dies), and
a closing PUT ends its session in the one transaction that links the blob. A small body (up to
``SMALL_BLOB_BYTES``) is received into memory, verified there and written once (temporary file,
fsync, hard link) instead of through upload data: a dozen thread round trips fewer, and the bytes held
in memory are the writer's own copy should the stored one vanish before the link (``secure_blob``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterable
from dataclasses import dataclass

import anyio
from sqlalchemy.engine import Connection

from moorage.domain.digests import Digest, new_hasher
from moorage.domain.errors import RangeNotSatisfiable, TooLarge, UploadUnknown
from moorage.domain.registry import UploadTarget
from moorage.metadata.database import Database
from moorage.metadata.queries import gc as gc_queries
from moorage.metadata.queries import quotas as quota_queries
from moorage.metadata.queries import uploads as q
from moorage.services.blob_links import link_blob, quick_link
from moorage.services.lifecycle.guard import secure_blob
from moorage.services.quotas import QuotaService, stream_reservation
from moorage.services.upload_bodies import HashCache, receive_exactly
from moorage.storage.blobstore import BlobStore
from moorage.storage.interface import NewFile

log = logging.getLogger(__name__)

SMALL_BLOB_BYTES = 1 << 20
"""Whole bodies up to this size are received into memory and written in one go."""


@dataclass(frozen=True, slots=True)
class Received:
    """A monolithic upload's blob, stored and verified."""

    size: int
    placed: bool
    """Whether the upload's bytes became the stored blob (else they wait in the upload, in case the
    blob already stored is being collected: ``secure_blob`` adopts them)."""
    data: bytes | None
    """The bytes of a small blob, kept in memory for the same reason."""


class WholeBodyUploads:
    """Store and link a blob that one request brought whole; ``UploadService`` hands these requests
    over and shares its running hashes (a closed session's is dropped)."""

    def __init__(
        self,
        db: Database,
        store: BlobStore,
        *,
        quotas: QuotaService,
        hashes: HashCache,
        blob_max_bytes: int | None = None,
    ) -> None:
        self.db = db
        self.store = store
        self.quotas = quotas
        self.hashes = hashes
        self.blob_max_bytes = blob_max_bytes
        """The largest blob accepted (``registry.blob_max_bytes``); None: no bound."""

    def receives_whole(self, length: int) -> bool:
        """Whether a closing body of ``length`` bytes (its Content-Length) is received into memory and
        digested before the session is read: a small one the blob size bound admits, when no storage
        quota has to reserve its bytes before they are read."""
        return (
            0 < length <= SMALL_BLOB_BYTES
            and (self.blob_max_bytes is None or length <= self.blob_max_bytes)
            and not self.quotas.storage_enforced
        )

    async def finish(
        self, *, target: UploadTarget, upload_id: str, digest: Digest, data: bytes, created: int | None
    ) -> int:
        """Close an empty session whose closing PUT carried the whole (small, verified) blob: it is
        written once (temporary file, fsync, hard link), and one write transaction ends the session and
        links it. A session started without a row (``created``: its verified state's start) has its
        state used up; one with a row (which the caller found) has it removed. No upload data, no
        lease, no upload directory.

        Whether the session can end is known only in that transaction, after the write (reading it
        first would cost every push a statement): when it cannot (a chunk holds it, or it was used
        up), the file this close made is taken back (``_withdraw``)."""
        made = await self.store.put_verified(digest, data, verified=True)

        def record(conn: Connection) -> None:
            if created is not None:
                ended = q.claim_in_fence(conn, upload_id)
            else:
                gc_queries.writer_fence(conn)
                ended = False
            if not ended and not q.remove_empty_of(conn, upload_id, target.instance_id, str(target.name)):
                # Used up, cancelled, another repository's, or a chunk of the session arrived meanwhile:
                # the blob stays unlinked (and its file is taken back: ``_withdraw``).
                current = q.get(conn, upload_id, target.instance_id, str(target.name))
                if current is None:
                    raise UploadUnknown(f"upload {upload_id} unknown", detail={"upload": upload_id})
                raise RangeNotSatisfiable("another chunk of this upload is in progress", size=current.size)
            secure_blob(self.store, digest, data=data)
            link_blob(conn, target, str(digest), len(data), quotas=self.quotas)

        try:
            await self.db.write(record, quick=quick_link(self.store, digest))
        except BaseException:
            if made is not None:
                with anyio.CancelScope(shield=True):
                    await self._withdraw(digest, made)
            raise
        self.hashes.drop(upload_id)
        return len(data)

    async def _withdraw(self, digest: Digest, made: NewFile) -> None:
        """Take back the blob file a push made and did not link, as the collector would (inside its
        fence, and only if no blob row names the digest: no repository links it and no writer has it
        in a transaction). Another push of the same bytes may be about to link them: one holding its
        own copy (its upload data, or the bytes in memory) puts it back (``secure_blob``), and one whose
        upload became the file renamed its own file there, which ``BlobStore.withdraw`` leaves. Where
        files cannot be told apart (object stores) the file waits for the collector's orphan scan."""
        if made.identity is None:
            return

        def take_back(conn: Connection) -> None:
            gc_queries.collector_fence(conn)
            if not gc_queries.known_digests(conn, [str(digest)]):
                self.store.withdraw(digest, made)

        try:
            await self.db.write(take_back)
        except Exception as error:  # the refusal is the client's answer; the collector's scan remains
            log.warning("blob %s stored by a refused push stays for the orphan scan: %s", digest, error)

    async def monolithic(
        self, *, target: UploadTarget, digest: Digest, chunks: AsyncIterable[bytes], length: int | None
    ) -> int:
        """``POST ?digest=``: the whole blob in one request. No session row is written: the bytes go
        to a private upload directory (swept by ``purge`` if the process dies mid-request)."""
        if length is not None and self.blob_max_bytes is not None and length > self.blob_max_bytes:
            raise TooLarge(f"a blob of more than {self.blob_max_bytes} bytes is not accepted")
        upload_id = uuid.uuid4().hex
        granted = await self._reserve(upload_id, target, str(digest), length)
        try:
            received = await self._receive(upload_id, target, digest, chunks, length, granted)
            size = received.size

            def record(conn: Connection) -> None:
                gc_queries.writer_fence(conn)
                if received.data is not None:
                    secure_blob(self.store, digest, data=received.data)
                else:
                    secure_blob(self.store, digest, upload_id=None if received.placed else upload_id)
                if granted is None and self.quotas.storage_enforced:
                    self.quotas.check_link_in(conn, target, str(digest), size)
                link_blob(conn, target, str(digest), size, quotas=self.quotas)
                if granted is not None:
                    self.quotas.release_in(conn, upload_id)

            try:
                await self.db.write(record, quick=quick_link(self.store, digest))
            finally:
                if received.data is None and not received.placed:  # the copy kept in case GC took the blob
                    with anyio.CancelScope(shield=True):
                        await self.store.delete_upload(upload_id)
        except BaseException:
            if granted is not None:
                with anyio.CancelScope(shield=True):
                    await self.quotas.release(upload_id)
            raise
        return size

    async def _reserve(self, reservation_id: str, target: UploadTarget, digest: str, length: int | None) -> int | None:
        """Under quotas, refuse a monolithic upload whose repository would be one too many, and reserve
        its bytes (its declared length, or a first part of a stream); None when there is no storage
        quota or the organization holds the blob already (linking it again costs nothing;
        ``check_link_in`` looks again when it is linked)."""
        quotas = self.quotas
        if not quotas.storage_enforced and not quotas.repositories_enforced:
            return None

        def work(conn: Connection) -> int | None:
            quotas.admit_repository_in(conn, target)
            if not quotas.storage_enforced or quota_queries.linked_in_namespace(
                conn, target.instance_id, target.name.namespace, digest
            ):
                return None
            return quotas.reserve_in(
                conn,
                reservation_id=reservation_id,
                target=target,
                total=length if length is not None else stream_reservation(0),
                partial=length is None,
            )

        return await self.db.write(work)

    async def _receive(
        self,
        upload_id: str,
        target: UploadTarget,
        digest: Digest,
        chunks: AsyncIterable[bytes],
        length: int | None,
        granted: int | None,
    ) -> Received:
        """Store a monolithic upload's blob (verified)."""
        if length is not None and length <= SMALL_BLOB_BYTES:
            # Small blobs (configs, tiny layers) arrive whole: verify in memory and write once, which
            # saves a dozen thread round trips of the streaming path.
            whole = await receive_exactly(chunks, length)
            await self.store.put_verified(digest, whole)
            return Received(length, placed=True, data=whole)
        if granted is not None and length is None:
            chunks = self.quotas.reserving(upload_id, target, 0, granted, chunks)
        hasher = new_hasher(digest.algorithm)
        try:
            size = await self.store.append(
                upload_id,
                offset=0,
                chunks=chunks,
                hasher=hasher,
                limit=length,
                exact=True,
                max_size=self.blob_max_bytes,
            )
            placed = await self.store.commit(upload_id, digest=digest, size=size, hasher=hasher, keep_if_stored=True)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.store.delete_upload(upload_id)
            raise
        return Received(size, placed=placed, data=None)
