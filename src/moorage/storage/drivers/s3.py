"""The S3 driver: files as objects of one bucket (under a prefix), for any S3-compatible store (AWS S3,
Ceph RGW, SeaweedFS, MinIO, OBS).

- A whole file (``put_content``) is one PutObject: readers see the old object or the new one.
- A file being appended to (an upload session) is a multipart upload plus a state object at its key
  (``s3_writer.py``): any node continues it, nothing lives in a process.
- ``move`` (a verified upload becoming a blob) completes the upload's multipart upload, which makes
  the whole file appear at once, then copies it server-side to its destination (CopyObject, or
  UploadPartCopy in parallel parts above ``COPY_OBJECT_MAX``) and deletes the source: the blob's key
  exists only once its bytes are all there, and they were checked against the digest before.
- Reading a file whose parts are not completed yet (re-hashing an upload that arrived through
  another node) completes its multipart upload first; a later append starts a new one from it.
- ``delete`` also aborts the multipart uploads under the path; ``purge_temporary`` aborts those no
  state object names any more (a process killed between creating one and recording it).
- The object store unreachable, timing out or failing with 5xx is ``StorageUnavailable`` (503 with
  Retry-After for the client), after a few quick retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from moorage.storage.drivers.s3_client import (
    ObjectHead,
    S3Config,
    S3Objects,
    head_from,
    http_status,
    in_thread,
    is_missing,
)
from moorage.storage.drivers.s3_writer import (
    MAX_PARTS,
    MIN_PART_BYTES,
    MTIME,
    S3Writer,
    WriteState,
    part_size,
    parts_bytes,
    schedule_capacity,
)
from moorage.storage.interface import FileInfo, NewFile

READ_CHUNK = 1 << 20
COPY_OBJECT_MAX = 1 << 30
"""Above this a move copies in parallel parts (CopyObject stops at 5 GiB and copies serially)."""
COPY_PART_MIN = 256 << 20
COPY_IN_FLIGHT = 4


class S3Driver:
    """Files as objects of one bucket."""

    name = "s3"

    def __init__(self, config: S3Config, *, client: Any | None = None) -> None:
        if config.part_size < MIN_PART_BYTES:
            raise ValueError(f"S3 parts must be at least {MIN_PART_BYTES} bytes, not {config.part_size}")
        if schedule_capacity(config.part_size) < config.blob_max_bytes:
            raise ValueError(
                f"S3 part size {config.part_size} reaches only {schedule_capacity(config.part_size)} bytes in "
                f"{MAX_PARTS} parts, less than the largest blob accepted ({config.blob_max_bytes})"
            )
        self.config = config
        self.objects = S3Objects(config, client)

    def local_path(self, path: str) -> Path | None:
        """Objects have no local path."""
        self.objects.key(path)
        return None

    def redirect_url(self, path: str) -> str | None:
        """A presigned GET URL of ``path`` when redirects are configured (computed locally, no request)."""
        key = self.objects.key(path)
        if not self.config.redirect:
            return None
        url = self.objects.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.config.bucket, "Key": key},
            ExpiresIn=self.config.redirect_expiry_seconds,
        )
        return str(url)

    async def stat(self, path: str) -> FileInfo | None:
        """Size and modification time (a file being written counts its committed parts too)."""
        head = await self.objects.head(self.objects.key(path))
        if head is None:
            return None
        return _info(head)

    async def get_content(self, path: str) -> bytes:
        """The whole (small) file."""
        return b"".join([chunk async for chunk in self.read(path)])

    async def put_content(self, path: str, data: bytes) -> None:
        """One PutObject: atomic and durable when the store answers."""
        await self.objects.put(self.objects.key(path), data, {MTIME: f"{time.time():.6f}"})

    async def put_new_content(self, path: str, data: bytes) -> NewFile | None:
        """``put_content`` unless the object exists; what was made, or None. Looked at before the
        write, so an object put there meanwhile may be replaced (with the same bytes, for a blob): no
        identity (``NewFile``), the writer cannot tell its object from another's."""
        if await self.stat(path) is not None:
            return None
        await self.put_content(path, data)
        return NewFile(None)

    async def read(self, path: str, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        """Stream a byte range in 1 MiB reads (a ranged GetObject; each read in a worker thread)."""
        key = self.objects.key(path)
        if length == 0:
            return
        response = await self._get(key, offset, length)
        if response is not None and WriteState.of(head_from(response)).parts:
            response["Body"].close()
            response = None
        if response is None:
            # Past the end, or a file being written (its object holds the tail only): complete it if it
            # is one (the range may lie in its parts), then ask again.
            head = await self.objects.head(key)
            if head is None or not WriteState.of(head).parts:
                return
            await self._complete(key)
            response = await self._get(key, offset, length)
            if response is None:
                return
        body = response["Body"]
        try:
            while chunk := await in_thread(body.read, READ_CHUNK):
                yield chunk
        finally:
            body.close()

    async def _get(self, key: str, offset: int, length: int | None) -> dict[str, Any] | None:
        """GetObject of a range; None when the range starts at or past the end."""
        from botocore.exceptions import ClientError

        kwargs: dict[str, Any] = {"Bucket": self.config.bucket, "Key": key}
        if offset or length is not None:
            kwargs["Range"] = f"bytes={offset}-" + ("" if length is None else str(offset + length - 1))
        try:
            response: dict[str, Any] = await in_thread(self.objects.client.get_object, **kwargs)
        except ClientError as error:
            if is_missing(error):
                raise FileNotFoundError(key) from error
            if http_status(error) == 416 or _code(error) == "InvalidRange":
                return None
            raise
        return response

    async def _complete(self, key: str) -> ObjectHead:
        """Make a file being written a plain object: its tail becomes the last part and the multipart
        upload is completed (cheap: the store joins the parts it has). The plain object's head."""
        head = await self.objects.head(key)
        if head is None:
            raise FileNotFoundError(key)
        state = WriteState.of(head)
        if not state.parts or state.upload_id is None:
            return head
        count = state.parts
        etags: dict[int, str] = {}
        if head.size:
            tail = await self.objects.get_bytes(key, 0, head.size)
            count += 1
            etags[count] = await self.objects.upload_part(key, state.upload_id, count, tail)
        listed = await self.objects.list_parts(key, state.upload_id)
        for number in range(1, state.parts + 1):
            size, etag = listed.get(number, (-1, ""))
            if size != part_size(number, state.base):
                raise OSError(f"part {number} of {key} is missing or has {size} bytes")
            etags[number] = etag
        await self.objects.complete(key, state.upload_id, [etags[n] for n in range(1, count + 1)])
        completed = await self.objects.head(key)
        if completed is None:
            raise FileNotFoundError(key)
        return completed

    async def writer(self, path: str, *, offset: int) -> S3Writer:
        """Open for appending at ``offset`` (anything stored past it is dropped)."""
        key = self.objects.key(path)
        head = await self.objects.head(key)
        state = WriteState.of(head) if head is not None else WriteState()
        stored = (head.size if head is not None else 0) + state.committed_bytes
        if offset > stored:
            raise ValueError(f"cannot resume {path} at {offset}: only {stored} bytes stored")
        if head is not None and state.parts and offset < state.committed_bytes:
            head = await self._complete(key)  # the cut falls inside a part: start again from a plain object
            state = WriteState()
        if state.parts:
            tail = await self.objects.get_bytes(key, 0, offset - state.committed_bytes)
            writer = S3Writer(self.objects, key, state=state, tail=tail, offset=offset)
        elif offset < part_size(1, self.config.part_size):
            tail = await self.objects.get_bytes(key, 0, offset)
            writer = S3Writer(self.objects, key, state=WriteState(), tail=tail, offset=offset)
        else:
            writer = await self._reopen(key, offset)
        await writer.open()
        return writer

    async def _reopen(self, key: str, offset: int) -> S3Writer:
        """Continue a plain object at ``offset``: a new multipart upload whose first parts are copied
        from it server-side, the rest read back as the tail."""
        base = self.config.part_size
        count = 0
        while parts_bytes(count + 1, base) <= offset:
            count += 1
        upload_id = await self.objects.create_upload(key)
        limit = asyncio.Semaphore(COPY_IN_FLIGHT)

        async def copy(number: int) -> None:
            async with limit:
                await self.objects.copy_part(
                    key, upload_id, number, key, parts_bytes(number - 1, base), parts_bytes(number, base)
                )

        await asyncio.gather(*(copy(n) for n in range(1, count + 1)))
        tail = await self.objects.get_bytes(key, parts_bytes(count, base), offset)
        state = WriteState(upload_id=upload_id, parts=count, base=base)
        return S3Writer(self.objects, key, state=state, tail=tail, offset=offset)

    async def move(self, source: str, destination: str) -> None:
        """Complete the source if it is being written, copy it server-side, delete it."""
        src, dst = self.objects.key(source), self.objects.key(destination)
        head = await self._complete(src)
        stamp = {MTIME: f"{time.time():.6f}"}  # a moved file bears the time of the move
        if head.size <= COPY_OBJECT_MAX:
            await in_thread(
                self.objects.client.copy_object,
                Bucket=self.config.bucket,
                Key=dst,
                CopySource={"Bucket": self.config.bucket, "Key": src},
                MetadataDirective="REPLACE",
                Metadata=stamp,
            )
        else:
            await self._copy_in_parts(src, dst, head.size, stamp)
        await self.objects.delete([src])

    async def _copy_in_parts(self, src: str, dst: str, size: int, metadata: dict[str, str]) -> None:
        part = max(COPY_PART_MIN, -(-size // MAX_PARTS))
        upload_id = await self.objects.create_upload(dst, metadata)
        limit = asyncio.Semaphore(COPY_IN_FLIGHT)

        async def copy(number: int, start: int) -> str:
            async with limit:
                return await self.objects.copy_part(dst, upload_id, number, src, start, min(start + part, size))

        try:
            etags = await asyncio.gather(*(copy(n, start) for n, start in enumerate(range(0, size, part), start=1)))
            await self.objects.complete(dst, upload_id, list(etags))
        except BaseException:
            with contextlib.suppress(Exception):
                await self.objects.abort(dst, upload_id)
            raise

    async def delete(self, path: str) -> None:
        """Delete a file or a whole tree, aborting the multipart uploads under it."""
        key = self.objects.key(path)
        for upload_key, upload_id, _ in await self.objects.list_uploads(key):
            if _under(upload_key, key):
                await self.objects.abort(upload_key, upload_id)
        keys = [k for k, _ in await self.objects.list_keys(key + "/")]
        await self.objects.delete([key, *keys, *_folders(key, keys)])

    async def list(self, prefix: str) -> list[str]:
        """Names directly under ``prefix``."""
        return await self.objects.list_names(self.objects.key(prefix) + "/")

    async def delete_if_idle(self, path: str, *, older_than_seconds: float) -> int:
        """Delete the files at or under ``path`` untouched for ``older_than_seconds`` whose writer's
        lease has run out (with their multipart uploads); how many files went."""
        key = self.objects.key(path)
        now = time.time()
        cutoff = now - older_than_seconds
        removed: list[str] = []
        kept = False
        for candidate, last_modified in await self.objects.list_keys(key):
            if not _under(candidate, key) or candidate.endswith("/"):
                continue
            if last_modified - 1 >= cutoff:  # Last-Modified has whole seconds: surely younger than the cutoff
                kept = True
                continue
            head = await self.objects.head(candidate)
            if head is None:
                continue
            state = WriteState.of(head)
            if state.lease_until > now or _info(head).modified >= cutoff:
                kept = True
                continue
            if state.upload_id:
                await self.objects.abort(candidate, state.upload_id)
            await self.objects.delete([candidate])
            removed.append(candidate)
        if removed and not kept:
            await self.objects.delete(_folders(key, removed))
        await self._abort_unnamed(key, cutoff)
        return len(removed)

    async def purge_temporary(self, *, older_than_seconds: float) -> int:
        """Abort multipart uploads started before the cutoff that no state object names (a process
        killed before recording one, or in the middle of a move); how many."""
        return await self._abort_unnamed(self.objects.prefix, time.time() - older_than_seconds)

    async def _abort_unnamed(self, prefix: str, cutoff: float) -> int:
        aborted = 0
        for key, upload_id, initiated in await self.objects.list_uploads(prefix):
            if initiated >= cutoff or not (prefix == self.objects.prefix or _under(key, prefix)):
                continue
            head = await self.objects.head(key)
            if head is not None and WriteState.of(head).upload_id == upload_id:
                continue
            await self.objects.abort(key, upload_id)
            aborted += 1
        return aborted


def _info(head: ObjectHead) -> FileInfo:
    state = WriteState.of(head)
    return FileInfo(head.size + state.committed_bytes, state.mtime or head.last_modified)


def _folders(key: str, keys: list[str]) -> list[str]:
    """The folder keys (``a/b/``) between ``key`` and ``keys`` under it, deepest first. Stores that keep
    folders (SeaweedFS's filer) remove an empty one when its key is deleted and list it until then;
    for S3 proper they are keys that do not exist, and deleting them changes nothing."""
    folders = {key + "/"}
    for k in keys:
        parts = k[len(key) + 1 :].split("/")[:-1]
        folders.update(f"{key}/{'/'.join(parts[:depth])}/" for depth in range(1, len(parts) + 1))
    return sorted(folders, key=lambda folder: (-folder.count("/"), folder))


def _under(key: str, path_key: str) -> bool:
    return key == path_key or key.startswith(path_key + "/")


def _code(error: BaseException) -> str:
    from moorage.storage.drivers.s3_client import error_code

    return error_code(error)
