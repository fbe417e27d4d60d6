"""A file being written on S3: a multipart upload plus a state object, so any node can continue it.

A file that a writer appends to is kept as::

    <key>                      the state object: its body holds the bytes after the last part
                               (fewer than a part), its metadata the multipart upload id, how many
                               parts are committed, the part size and a writer's lease
    multipart upload at <key>  parts 1..n, uploaded as soon as a part's worth of bytes has arrived

Everything needed to continue lives in the object store, none in a process: another node reads the
state object (one GET: the tail bytes and the metadata) and goes on with part n+1. Parts follow a
schedule: ``part_size`` bytes each for the first thousand, twice that for the next thousand, and so
on, so 10,000 parts (S3's limit) hold 1023 thousand first parts (7.8 TiB with 8 MiB parts) while a
small upload keeps small parts in memory. A writer holds at most the tail and ``IN_FLIGHT`` parts
in memory, never the whole file.

Parts uploaded by a chunk that then failed are not committed: the state object still says n, and
the next chunk's parts overwrite them (a part number uploaded again replaces the earlier one).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

from moorage.storage.drivers.s3_client import META_PREFIX, ObjectHead, S3Objects

PARTS_PER_STEP = 1000
"""Parts of one size before the size doubles."""
MAX_PARTS = 10_000
"""S3's limit on the parts of one multipart upload."""
MAX_PART_BYTES = 5 << 30
"""S3's largest part."""
MIN_PART_BYTES = 5 << 20
"""S3's smallest part but the last (stores refuse to complete an upload with a smaller one)."""
IN_FLIGHT = 2
"""Parts one writer uploads at once (while the next one fills)."""
LEASE_SECONDS = 300.0
"""How long a writer's claim on its file lasts without renewal (``delete_if_idle`` leaves leased
files alone); renewed while bytes keep coming, released when the writer closes."""

MTIME = META_PREFIX + "mtime"
LEASE = META_PREFIX + "lease"
UPLOAD = META_PREFIX + "upload"
PARTS = META_PREFIX + "parts"
PART_SIZE = META_PREFIX + "part-size"


def part_size(number: int, base: int) -> int:
    """The size of part ``number`` (1-based) for an upload whose first parts are ``base`` bytes."""
    return min(base << ((number - 1) // PARTS_PER_STEP), MAX_PART_BYTES)


def parts_bytes(count: int, base: int) -> int:
    """Bytes held by parts 1..``count`` of the schedule."""
    steps, rest = divmod(count, PARTS_PER_STEP)
    total = sum(PARTS_PER_STEP * min(base << step, MAX_PART_BYTES) for step in range(steps))
    return total + rest * min(base << steps, MAX_PART_BYTES)


def schedule_capacity(base: int) -> int:
    """The largest file the schedule stores within S3's 10,000 parts (the last part may be any size
    up to a part, so this is all 10,000 full)."""
    return parts_bytes(MAX_PARTS, base)


@dataclass(frozen=True, slots=True)
class WriteState:
    """What a state object's metadata says (a plain object has none of it: no parts, no lease)."""

    upload_id: str | None = None
    parts: int = 0
    base: int = 0
    lease_until: float = 0.0
    mtime: float | None = None

    @classmethod
    def of(cls, head: ObjectHead) -> WriteState:
        """Parse an object's metadata (unknown or broken values count as absent)."""
        meta = head.metadata

        def number(name: str) -> float:
            try:
                return float(meta.get(name, "0"))
            except ValueError:
                return 0.0

        mtime = number(MTIME)
        return cls(
            upload_id=meta.get(UPLOAD) or None,
            parts=int(number(PARTS)),
            base=int(number(PART_SIZE)),
            lease_until=number(LEASE),
            mtime=mtime or None,
        )

    @property
    def committed_bytes(self) -> int:
        """Bytes held by the committed parts."""
        return parts_bytes(self.parts, self.base) if self.parts else 0

    def metadata(self) -> dict[str, str]:
        """The metadata to write on the state object."""
        meta = {MTIME: f"{self.mtime or time.time():.6f}"}
        if self.lease_until:
            meta[LEASE] = f"{self.lease_until:.3f}"
        if self.upload_id:
            meta[UPLOAD] = self.upload_id
            meta[PARTS] = str(self.parts)
            meta[PART_SIZE] = str(self.base)
        return meta


class S3Writer:
    """Appends to one file (an upload session's data): full parts go to the multipart upload as they
    fill, the rest is the state object's body when the writer closes."""

    def __init__(self, objects: S3Objects, key: str, *, state: WriteState, tail: bytes, offset: int) -> None:
        self._objects = objects
        self._key = key
        self._committed = state
        self._committed_tail = tail
        self._base = state.base or objects.config.part_size
        self._upload_id = state.upload_id
        self._next_part = state.parts + 1
        self._buffer = bytearray(tail)
        self._start = offset
        self._size = offset
        self._mtime = time.time()
        self._lease_until = 0.0
        self._in_flight: set[asyncio.Task[str]] = set()
        self._discarded = False
        self._closed = False

    @property
    def size(self) -> int:
        """Bytes in the file so far, including what this writer appended."""
        return self._size

    async def open(self) -> None:
        """Claim the file: write the state (as it stands, with the lease), so that the file exists and
        no purge takes it while this writer is open, whichever node the purge runs on."""
        await self._write_state(self._committed, self._committed_tail, lease=True)

    async def _write_state(self, state: WriteState, tail: bytes, *, lease: bool) -> None:
        self._lease_until = time.time() + LEASE_SECONDS if lease else 0.0
        stamped = WriteState(
            upload_id=state.upload_id,
            parts=state.parts,
            base=self._base,
            lease_until=self._lease_until,
            mtime=self._mtime,
        )
        await self._objects.put(self._key, tail, stamped.metadata())

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        """Append ``data``; every part that fills is uploaded (at most ``IN_FLIGHT`` at once)."""
        self._raise_failed_part()
        self._size += len(data)
        self._mtime = time.time()
        view = memoryview(data).cast("B")
        while view:
            # Fill the buffer up to the part's size and no further, so that a part in flight holds
            # its own bytes and no slack; a full buffer is handed over as the part, uncopied.
            size = part_size(self._next_part, self._base)
            room = size - len(self._buffer)
            self._buffer += view[:room]
            view = view[room:]
            if len(self._buffer) == size:
                body, self._buffer = self._buffer, bytearray()
                await self._start_part(self._next_part, body)
                self._next_part += 1
        if self._lease_until - time.time() < LEASE_SECONDS / 2:
            await self._write_state(self._committed, self._committed_tail, lease=True)

    async def _start_part(self, number: int, body: bytes | bytearray) -> None:
        if self._upload_id is None:
            self._upload_id = await self._objects.create_upload(self._key)
            # Name the upload in the state at once: the purge aborts uploads no state object names.
            self._committed = WriteState(upload_id=self._upload_id, parts=self._committed.parts, base=self._base)
            await self._write_state(self._committed, self._committed_tail, lease=True)
        while len(self._in_flight) >= IN_FLIGHT:
            done, _ = await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
            self._in_flight -= done
            self._raise_failed_part(done)
        upload_id = self._upload_id
        self._in_flight.add(asyncio.ensure_future(self._objects.upload_part(self._key, upload_id, number, body)))

    def _raise_failed_part(self, tasks: set[asyncio.Task[str]] | None = None) -> None:
        for task in tasks if tasks is not None else [t for t in self._in_flight if t.done()]:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def _drain(self) -> None:
        """Wait for every part in flight; the first failure is raised."""
        tasks, self._in_flight = self._in_flight, set()
        if tasks:
            await asyncio.gather(*tasks)

    async def discard(self) -> None:
        """Give back what this writer appended: its parts are not committed (the state object still
        names the earlier ones) and its tail is dropped."""
        tasks, self._in_flight = self._in_flight, set()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._discarded = True
        self._size = self._start

    async def close(self, *, durable: bool = False) -> None:
        """Commit: the parts uploaded and the tail become the file (S3 is durable when it answers, so
        ``durable`` changes nothing). After ``discard`` the earlier state is put back without the
        lease, as well as the store allows (the lease runs out by itself otherwise)."""
        if self._closed:
            return
        self._closed = True
        if self._discarded:
            with contextlib.suppress(Exception):
                await self._write_state(self._committed, self._committed_tail, lease=False)
            return
        await self._drain()
        committed = WriteState(upload_id=self._upload_id, parts=self._next_part - 1, base=self._base)
        await self._write_state(committed, bytes(self._buffer), lease=False)
