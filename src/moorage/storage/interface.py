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


class StorageWriter(Protocol):
    """Appends to one stored file (an upload in progress)."""

    @property
    def size(self) -> int:
        """Bytes in the file so far, including what this writer appended."""
        ...

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        """Append ``data``."""
        ...

    async def close(self, *, durable: bool = False) -> None:
        """Finish writing; with ``durable`` the bytes are on stable storage when this returns."""
        ...


class StorageDriver(Protocol):
    """A place to keep files. Implementations: ``drivers/filesystem.py`` (more to come: S3)."""

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

    def read(self, path: str, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        """Stream ``length`` bytes (all to the end when None) from ``offset``."""
        ...

    async def writer(self, path: str, *, offset: int) -> StorageWriter:
        """Open ``path`` for appending at ``offset``: anything stored past ``offset`` is discarded first
        (a chunk interrupted half-way leaves garbage that the next attempt overwrites)."""
        ...

    async def move(self, source: str, destination: str) -> None:
        """Atomically and durably move a file, replacing ``destination``."""
        ...

    async def delete(self, path: str) -> None:
        """Delete a file or a whole directory tree; missing is not an error."""
        ...

    async def list(self, prefix: str) -> list[str]:
        """Names (not paths) directly under directory ``prefix``; empty when missing."""
        ...

    def local_path(self, path: str) -> Path | None:
        """A local filesystem path for ``path`` when the driver has one (lets readers hash or send
        files without copying through Python), else None."""
        ...
