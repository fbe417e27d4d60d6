"""The content-addressed blob store: upload data in, digest-verified blobs out.

It sits on a ``StorageDriver`` and knows the layout (``paths.py``); it does not know repositories
(links live in the metadata database). Incoming bytes are written and hashed in worker threads,
in parallel with each other and with the event loop receiving the next batch, so a large push
costs roughly the slower of disk and hash, not their sum.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import mmap
import os
import shutil
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path

import anyio.to_thread

from moorage.domain.digests import Digest, Hasher, new_hasher
from moorage.domain.errors import DigestInvalid, Invalid, SizeInvalid, TooLarge
from moorage.storage import paths
from moorage.storage.interface import FileInfo, NewFile, StorageDriver, StorageWriter

BATCH = 4 << 20
"""Bytes gathered before one write+hash round trip to the worker threads."""
SPARE_BATCHES = 8
"""Batches kept for reuse between appends (32 MiB); more appends at once allocate their own."""
INLINE_HASH_BYTES = 64 << 10
"""Below this, hashing on the event loop costs less than the hop to a thread."""


class BlobStore:
    """Blobs by digest, and the upload data they are made from."""

    def __init__(self, driver: StorageDriver) -> None:
        self.driver = driver
        self._spare: list[mmap.mmap] = []
        """Batches of finished appends, reused (a new mapping's pages fault in on first touch)."""

    async def stat(self, digest: Digest) -> FileInfo | None:
        """Size of a stored blob, or None."""
        return await self.driver.stat(paths.blob_data(digest))

    def read(self, digest: Digest, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        """Stream a stored blob (or a byte range of it)."""
        return self.driver.read(paths.blob_data(digest), offset, length)

    def local_path(self, digest: Digest) -> Path | None:
        """The blob's file on this machine, when the driver keeps one."""
        return self.driver.local_path(paths.blob_data(digest))

    def local_name(self, digest: Digest) -> str | None:
        """The blob's file relative to the local ``blobs/`` directory when the driver keeps files on
        this machine (a web server in front, given that directory, may send it), else None."""
        if self.driver.local_path(paths.blob_data(digest)) is None:
            return None
        return paths.blob_data_in_blobs_root(digest)

    def redirect_url(self, digest: Digest) -> str | None:
        """A short-lived URL the client may fetch the blob from itself, when the driver hands them out."""
        return self.driver.redirect_url(paths.blob_data(digest))

    async def upload_size(self, upload_id: str) -> int:
        """Bytes stored for an upload session (0 when none yet)."""
        info = await self.driver.stat(paths.upload_data(upload_id))
        return info.size if info else 0

    async def append(
        self,
        upload_id: str,
        *,
        offset: int,
        chunks: AsyncIterable[bytes],
        hasher: Hasher | None,
        limit: int | None = None,
        exact: bool = False,
        max_size: int | None = None,
    ) -> int:
        """Append a request body to an upload at ``offset``; return the new size.

        ``hasher`` (already fed with the first ``offset`` bytes) is updated in step, so the digest is
        known when the upload closes. ``limit`` caps how many bytes this call accepts; with ``exact``
        fewer is an error too (``SizeInvalid``: the body was cut short). ``max_size`` caps the whole
        upload (``TooLarge``: the largest blob accepted). A chunk that fails leaves no bytes behind: the
        upload is as long as it was.
        """
        if max_size is not None and limit is not None and offset + limit > max_size:
            raise TooLarge(f"a blob of more than {max_size} bytes is not accepted")
        writer = await self.driver.writer(paths.upload_data(upload_id), offset=offset)
        received = 0
        pending: asyncio.Future[None] | None = None
        failed = True
        # A driver writing with O_DIRECT gets two page-aligned batches taken in turn (one is written
        # and hashed while the next fills), which the disk takes without a copy; others get a new
        # bytearray per batch, as before direct writes (reusing mapped batches there measured no better).
        direct = bool(getattr(writer, "direct", False))
        batches = (self._batch(), self._batch()) if direct else ()
        current, filled = 0, 0
        buffer = bytearray()
        try:
            async for chunk in chunks:
                received += len(chunk)
                if limit is not None and received > limit:
                    raise TooLarge(f"chunk larger than the {limit} bytes declared")
                if max_size is not None and offset + received > max_size:
                    raise TooLarge(f"a blob of more than {max_size} bytes is not accepted")
                if not direct:
                    buffer += chunk
                    if len(buffer) >= BATCH:
                        if pending is not None:
                            await pending
                        pending = asyncio.ensure_future(_write_and_hash(writer, hasher, memoryview(buffer)))
                        buffer = bytearray()
                    continue
                piece = memoryview(chunk)
                while piece:
                    take = min(len(piece), BATCH - filled)
                    batches[current][filled : filled + take] = piece[:take]
                    filled += take
                    piece = piece[take:]
                    if filled == BATCH:
                        if pending is not None:
                            await pending  # it wrote the other batch, which fills next
                        pending = asyncio.ensure_future(_write_and_hash(writer, hasher, memoryview(batches[current])))
                        current, filled = 1 - current, 0
            if pending is not None:
                await pending
                pending = None
            tail = memoryview(batches[current])[:filled] if direct else memoryview(buffer)
            if tail:
                pending = asyncio.ensure_future(_write_and_hash(writer, hasher, tail))
                await pending
                pending = None
            if exact and limit is not None and received != limit:
                raise SizeInvalid(f"received {received} bytes, Content-Length said {limit}")
            failed = False
        finally:
            with anyio.CancelScope(shield=True):
                if pending is not None:
                    # Never close the file under a thread still writing to it: wait, whatever happened.
                    await asyncio.gather(pending, return_exceptions=True)
                self._spare.extend(batches)
                del self._spare[SPARE_BATCHES:]
                try:
                    if failed:
                        await writer.discard()  # an aborted chunk leaves no bytes behind
                finally:
                    await writer.close()
        return offset + received

    def _batch(self) -> mmap.mmap:
        """A page-aligned buffer of ``BATCH`` bytes: a spare one, or a new anonymous mapping."""
        return self._spare.pop() if self._spare else mmap.mmap(-1, BATCH)

    async def commit(
        self, upload_id: str, *, digest: Digest, size: int, hasher: Hasher | None, keep_if_stored: bool = False
    ) -> bool:
        """Verify that the upload's bytes are ``digest`` and make them the blob; drop the upload.
        True when the upload's bytes became the blob, False when the blob was stored already.

        ``hasher`` is the running hash when this node saw every byte; otherwise (restart, another
        node, another algorithm) the data is hashed again from storage. A mismatch stores nothing.
        With ``keep_if_stored``, an upload whose blob was stored already keeps its data for the
        caller to ``adopt_upload`` or ``delete_upload`` (the stored copy may be one that garbage
        collection is deleting: ``moorage.services.lifecycle.guard``).
        """
        stored = await self.upload_size(upload_id)
        if stored != size:
            raise SizeInvalid(f"upload holds {stored} bytes, expected {size}")
        if hasher is not None and hasher.name == digest.algorithm:
            actual = hasher.hexdigest()
        else:
            actual = await self._hash_stored(paths.upload_data(upload_id), digest.algorithm)
        if actual != digest.hex:
            await self.delete_upload(upload_id)
            raise DigestInvalid(
                f"content digest {digest.algorithm}:{actual} does not match {digest}",
                detail={"digest": str(digest)},
            )
        if await self.stat(digest) is None:
            await self.adopt_upload(upload_id, digest)
            placed = True
        else:
            placed = False
            if keep_if_stored:
                return False
        await self.delete_upload(upload_id)
        return placed

    async def adopt_upload(self, upload_id: str, digest: Digest) -> None:
        """Make an upload's verified data the blob ``digest`` (replacing a stored copy, which holds the
        same bytes) and drop the upload."""
        if await self.driver.stat(paths.upload_data(upload_id)) is None:
            await self.driver.put_content(paths.blob_data(digest), b"")  # an empty upload: nothing was written
        else:
            await self.driver.move(paths.upload_data(upload_id), paths.blob_data(digest))
        await self.delete_upload(upload_id)

    async def matches(self, digest: Digest, data: bytes) -> bool:
        """Whether ``data`` (a small blob in memory) has ``digest`` (hashed in a thread when large)."""
        actual = new_hasher(digest.algorithm)
        if len(data) > INLINE_HASH_BYTES:
            await anyio.to_thread.run_sync(actual.update, data)
        else:
            actual.update(data)
        return actual.hexdigest() == digest.hex

    async def put_verified(self, digest: Digest, data: bytes, *, verified: bool = False) -> NewFile | None:
        """Store a small blob received whole (in memory): verify it (unless the caller did:
        ``verified``), then write it in one go (temporary file, fsync, hard link: never over a file
        put there meanwhile) unless it is already stored. What was made (for ``withdraw``), or None
        when the blob was there. A mismatch stores nothing."""
        if not verified and not await self.matches(digest, data):
            actual = new_hasher(digest.algorithm)
            actual.update(data)
            raise DigestInvalid(
                f"content digest {digest.algorithm}:{actual.hexdigest()} does not match {digest}",
                detail={"digest": str(digest)},
            )
        return await self.driver.put_new_content(paths.blob_data(digest), data)

    async def _hash_stored(self, path: str, algorithm: str) -> str:

        local = self.driver.local_path(path)
        if local is not None:

            def _file_digest() -> str:
                with open(local, "rb") as f:
                    return hashlib.file_digest(f, algorithm).hexdigest()

            return await anyio.to_thread.run_sync(_file_digest)
        hasher = new_hasher(algorithm)
        async for chunk in self.driver.read(path):
            await anyio.to_thread.run_sync(hasher.update, chunk)
        return hasher.hexdigest()

    async def hash_upload(self, upload_id: str, algorithm: str = "sha256") -> Hasher:
        """A hasher fed with everything stored for an upload (to resume after a restart)."""
        hasher = new_hasher(algorithm)
        local = self.driver.local_path(paths.upload_data(upload_id))
        if local is not None and local.exists():

            def _feed() -> None:
                with open(local, "rb") as f:
                    while block := f.read(BATCH):
                        hasher.update(block)

            await anyio.to_thread.run_sync(_feed)
            return hasher
        if await self.driver.stat(paths.upload_data(upload_id)) is not None:
            async for chunk in self.driver.read(paths.upload_data(upload_id)):
                await anyio.to_thread.run_sync(hasher.update, chunk)
        return hasher

    async def delete_upload(self, upload_id: str) -> None:
        """Remove an upload session's data."""
        await self.driver.delete(paths.upload_dir(upload_id))

    async def delete_idle_upload(self, upload_id: str, *, older_than_seconds: float) -> bool:
        """Remove an upload's data if it is idle (``StorageDriver.delete_if_idle``): data left without
        a session by a killed process, never data a request is writing. Whether a file went."""
        return await self.driver.delete_if_idle(paths.upload_dir(upload_id), older_than_seconds=older_than_seconds) > 0

    async def purge_temporary(self, *, older_than_seconds: float) -> int:
        """Remove the storage's idle temporary files; how many."""
        return await self.driver.purge_temporary(older_than_seconds=older_than_seconds)

    async def list_uploads(self) -> list[str]:
        """Ids of every upload session with data in storage."""
        return [name for name in await self.driver.list(paths.UPLOADS_ROOT) if paths.is_upload_id(name)]

    async def delete_blob(self, digest: Digest) -> None:
        """Remove a blob's bytes (garbage collection only: links are checked by the caller)."""
        await self.driver.delete(paths.blob_data(digest).rsplit("/", 1)[0])

    def erase_local(self, digest: Digest, *, kept_if_modified_after: float) -> tuple[str, int] | None:
        """For a driver with local files, from a worker thread (garbage collection, which calls it
        for thousands of blobs inside one transaction): delete the blob's bytes unless they were
        modified after ``kept_if_modified_after`` (epoch seconds). ("deleted", their size),
        ("missing", 0) or ("fresh", 0); None when the driver has no local files (use ``stat`` and
        ``delete_blob``)."""
        local = self.local_path(digest)
        if local is None:
            return None
        try:
            info = local.stat()
        except FileNotFoundError:
            return "missing", 0
        if info.st_mtime > kept_if_modified_after:
            return "fresh", 0
        local.unlink(missing_ok=True)
        try:
            local.parent.rmdir()
        except OSError:
            shutil.rmtree(local.parent, ignore_errors=True)  # something else in the blob's directory
        return "deleted", info.st_size

    def withdraw(self, digest: Digest, made: NewFile) -> bool:
        """From a worker thread, inside the collector's fence (``gc.collector_fence``) and once no blob
        row names ``digest``: delete the blob file ``put_verified`` made, if it is still that file (a
        push that stored its bytes and was then refused). A file another writer renamed into its place
        since (its only copy of the bytes, which it is about to link) is put back. Whether it went;
        False where files cannot be told apart (``NewFile.identity``). The blob's directory stays: a
        writer of the same digest may be making its file there."""
        local = self.local_path(digest)
        if local is None or made.identity is None:
            return False
        aside = local.with_name(f"{local.name}.withdrawn-{uuid.uuid4().hex}")
        try:
            os.rename(local, aside)  # looked at under a name no writer uses, so the look holds
        except FileNotFoundError:
            return False
        try:
            info = aside.stat()
            if (info.st_dev, info.st_ino, info.st_mtime_ns) == made.identity:
                return True
            with contextlib.suppress(FileExistsError):  # (another file was put there meanwhile)
                os.link(aside, local)
            directory = os.open(local.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
            return False
        finally:
            aside.unlink(missing_ok=True)

    async def stored_digests(self) -> AsyncIterator[list[Digest]]:
        """Every blob storage holds, one directory of the layout (``<algorithm>/<first two hex>``) at
        a time; names that are not a blob's are passed over."""
        for algorithm in await self.driver.list(paths.BLOBS_ROOT):
            for prefix in await self.driver.list(f"{paths.BLOBS_ROOT}/{algorithm}"):
                found = []
                for name in await self.driver.list(f"{paths.BLOBS_ROOT}/{algorithm}/{prefix}"):
                    try:
                        digest = Digest.parse(f"{algorithm}:{name}")
                    except Invalid:
                        continue
                    if digest.hex[:2] == prefix:
                        found.append(digest)
                if found:
                    yield found

    async def put_advisories(self, sha256_hex: str, source: Path) -> None:
        """Store a copy of the advisory database file ``source`` under its SHA-256 (durable before
        it returns; the caller names it published only then)."""
        writer = await self.driver.writer(paths.advisories(sha256_hex), offset=0)
        try:
            with source.open("rb") as file:
                while piece := await anyio.to_thread.run_sync(file.read, BATCH):
                    await writer.write(piece)
        except BaseException:
            await writer.discard()
            await writer.close()
            raise
        await writer.close(durable=True)

    def read_advisories(self, sha256_hex: str) -> AsyncIterator[bytes]:
        """A published advisory database's bytes."""
        return self.driver.read(paths.advisories(sha256_hex))

    async def delete_advisories(self, sha256_hex: str) -> None:
        """Remove a published advisory database no node needs any more."""
        await self.driver.delete(paths.advisories(sha256_hex))


async def _write_and_hash(writer: StorageWriter, hasher: Hasher | None, data: memoryview) -> None:
    """Write and hash one batch at once: both release the GIL, so they run in parallel threads."""
    if hasher is None:
        await writer.write(data)
        return
    await asyncio.gather(writer.write(data), anyio.to_thread.run_sync(hasher.update, data))
