"""The storage-driver contract. Every driver passes the same suite (tests/storage/test_driver_contract.py).

Drivers know paths and bytes, nothing else: content addressing, upload sessions and repository
links live above them (``blobstore.py`` and the metadata database). Paths are relative, ``/``
separated, and never contain ``..``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class FileInfo:
    """What ``stat`` knows of a stored file."""

    size: int
    modified: float
    """Seconds since the epoch."""


@dataclass(frozen=True, slots=True)
class NewFile:
    """A file ``put_new_content`` made where no file was."""

    identity: tuple[int, int, int] | None
    """Device, inode and modification time (ns) of a local file, by which ``BlobStore.withdraw``
    tells it from a file another writer renamed into the same path since; None when the driver
    cannot tell (an object store)."""


class StorageWriter(Protocol):
    """Appends to one stored file (an upload in progress)."""

    @property
    def size(self) -> int:
        """Bytes in the file so far, including what this writer appended."""
        ...

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        """Append ``data``."""
        ...

    async def discard(self) -> None:
        """Give back what this writer appended (its chunk failed): the file is as long as it was when
        the writer opened it, unless someone else wrote past it meanwhile."""
        ...

    async def close(self, *, durable: bool = False) -> None:
        """Finish writing; with ``durable`` the bytes are on stable storage when this returns."""
        ...


class StorageDriver(Protocol):
    """A place to keep files. Implementations: ``drivers/filesystem.py``, ``drivers/s3.py``."""

    name: str

    async def stat(self, path: str) -> FileInfo | None:
        """Size and modification time of ``path``, or None when it does not exist."""
        ...

    async def get_content(self, path: str) -> bytes:
        """The whole (small) file; FileNotFoundError when missing."""
        ...

    async def put_content(self, path: str, data: bytes) -> None:
        """Write the whole file atomically and durably (readers see the old or the new, never half)."""
        ...

    async def put_new_content(self, path: str, data: bytes) -> NewFile | None:
        """``put_content`` unless the file exists; what it made, or None when a file was there."""
        ...

    def read(self, path: str, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        """Stream ``length`` bytes (all to the end when None) from ``offset``."""
        ...

    async def writer(self, path: str, *, offset: int) -> StorageWriter:
        """Open ``path`` for appending at ``offset``: anything stored past ``offset`` is discarded first
        (a chunk interrupted half-way leaves garbage that the next attempt overwrites)."""
        ...

    async def move(self, source: str, destination: str) -> None:
        """Atomically and durably move a file, replacing ``destination``; its modification time
        becomes the time of the move (garbage collection tells a blob just stored from an old one by it)."""
        ...

    async def delete(self, path: str) -> None:
        """Delete a file or a whole directory tree; missing is not an error."""
        ...

    async def list(self, prefix: str) -> list[str]:
        """Names (not paths) directly under directory ``prefix``; empty when missing."""
        ...

    async def delete_if_idle(self, path: str, *, older_than_seconds: float) -> int:
        """Delete the file ``path`` (or the files of the directory ``path``, and the directory once
        empty) untouched for ``older_than_seconds`` that no writer holds open, a writer in another
        process included: data nobody owns any more, never data being written. How many files went."""
        ...

    async def purge_temporary(self, *, older_than_seconds: float) -> int:
        """Delete the driver's own temporary files that are idle as ``delete_if_idle`` says (left by a
        process killed while writing them); how many went."""
        ...

    def local_path(self, path: str) -> Path | None:
        """A local filesystem path for ``path`` when the driver has one (lets readers hash or send
        files without copying through Python), else None."""
        ...

    def redirect_url(self, path: str) -> str | None:
        """A short-lived URL from which a client may fetch ``path`` itself (a presigned object-store
        URL), when the driver is configured to hand them out; else None and the registry streams it."""
        ...
