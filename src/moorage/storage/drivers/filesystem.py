"""The filesystem driver: files under one root directory, written to a temporary name, fsynced and
renamed (a new file that must not replace one put there meanwhile: hard-linked), so a reader never
sees a partial file. Blocking calls run in worker threads; appends are ``filesystem_writer.py``'s.

A file being written is held with a shared ``flock`` by its writer, from the moment its name is
checked until it is closed; the purge of idle files takes the exclusive lock (without waiting) before
it deletes anything, so it never deletes a file that is being written, in this process or another
of this machine (and, where the file system carries ``flock`` across machines, another node).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import stat
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import anyio.to_thread

from moorage.storage.drivers.filesystem_writer import (
    DIRECT_ALIGNMENT,
    FilesystemWriter,
    full_device_is_storage_full,
    supports_direct_writes,
)
from moorage.storage.interface import FileInfo, NewFile

READ_CHUNK = 1 << 20


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


ORDERED_METADATA_FILESYSTEMS = frozenset({"ext3", "ext4", "xfs"})
"""Filesystems whose one journal commits metadata changes in order: an fsync of a directory commits
every change made before it, so a new directory's entry in its parent is on disk once the directory
itself (fsync'd after the rename into it) is. Elsewhere (btrfs, ZFS, network filesystems...) the
parent is fsync'd too; measured here on ext4, that extra fsync cost 8% of the 4 KiB-blob rate."""


def filesystem_type(path: Path) -> str:
    """The type of the filesystem ``path`` is on (the longest mount point above it in
    /proc/self/mountinfo); "" when it cannot be told."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return ""
    best, kind = "", ""
    resolved = str(path.resolve())
    for line in lines:
        fields, _, rest = line.partition(" - ")
        parts = fields.split(" ")
        if len(parts) < 5 or not rest:
            continue
        mount = parts[4].replace("\\040", " ")
        if (resolved == mount or resolved.startswith(mount.rstrip("/") + "/")) and len(mount) >= len(best):
            best, kind = mount, rest.split(" ", 1)[0]
    return kind


def _make_dirs_durable(path: Path, *, fsync_parents: bool) -> None:
    """``mkdir -p path``, with the entry of every directory made here on disk too when the filesystem
    does not order its metadata (``fsync_parents``): the parent of each one that did not exist is
    fsync'd (a new ``blobs/sha256/ab/<hex>/`` directory is named in ``ab/``). One that exists costs a
    ``stat``."""
    if path.is_dir():
        return
    missing = [path]
    while not missing[-1].parent.is_dir():
        missing.append(missing[-1].parent)
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made meanwhile by another writer: fsync its entry anyway
            directory.mkdir()
        if fsync_parents:
            _fsync_dir(directory.parent)


def _replace(tmp: Path, full: Path) -> NewFile:
    os.replace(tmp, full)
    return NewFile(None)


NO_HARD_LINKS = frozenset({errno.EPERM, errno.EOPNOTSUPP})
"""What ``link`` fails with on a filesystem without hard links (some FUSE and network ones)."""


def _link_new(tmp: Path, full: Path, fd: int) -> NewFile | None:
    """Give the temporary file ``fd`` its name ``full`` unless a file has that name: the file made, with
    its identity (None when another was there). Without hard links, a rename, which may replace a
    file renamed there meanwhile (with the same bytes) and so reports no identity."""
    try:
        os.link(tmp, full)
    except FileExistsError:
        tmp.unlink()
        return None
    except OSError as error:
        if error.errno not in NO_HARD_LINKS:
            raise
        return _replace(tmp, full)
    tmp.unlink()
    made = os.fstat(fd)
    return NewFile((made.st_dev, made.st_ino, made.st_mtime_ns))


class FilesystemDriver:
    """Files under ``root``."""

    name = "filesystem"

    def __init__(self, root: Path, *, fsync_parents: bool | None = None, direct_writes: bool = False) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._tmp = self.root / "tmp"
        self._tmp.mkdir(exist_ok=True)
        self.direct_writes = direct_writes and supports_direct_writes(self._tmp)
        """Whether upload data is written with ``O_DIRECT`` (``FilesystemWriter``)."""
        self.fsync_parents = (
            filesystem_type(self.root) not in ORDERED_METADATA_FILESYSTEMS if fsync_parents is None else fsync_parents
        )
        """Whether a new directory's parent is fsync'd (default: unless the filesystem orders metadata)."""

    def _full(self, path: str) -> Path:
        if not path or path.startswith("/") or any(part in ("", ".", "..") for part in path.split("/")):
            raise ValueError(f"invalid storage path {path!r}")
        return self.root / path

    def local_path(self, path: str) -> Path | None:
        """The file's path on this machine."""
        return self._full(path)

    def redirect_url(self, path: str) -> str | None:
        """No URL but the registry's: it sends files itself."""
        self._full(path)
        return None

    async def stat(self, path: str) -> FileInfo | None:
        """Size and mtime, or None."""
        full = self._full(path)

        def _stat() -> FileInfo | None:
            try:
                st = full.stat()
            except FileNotFoundError:
                return None
            return FileInfo(st.st_size, st.st_mtime)

        return await anyio.to_thread.run_sync(_stat)

    async def get_content(self, path: str) -> bytes:
        """The whole file."""
        return await anyio.to_thread.run_sync(self._full(path).read_bytes)

    def _put_blocking(self, path: str, data: bytes, *, new: bool = False) -> NewFile | None:
        """Write ``path`` through a temporary file; with ``new`` only if no file is there at the moment
        the name is made (a hard link, which fails on an existing name where a rename would replace
        it): what was made, or None."""
        full = self._full(path)
        tmp = self._tmp / uuid.uuid4().hex
        with full_device_is_storage_full():
            _make_dirs_durable(full.parent, fsync_parents=self.fsync_parents)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_SH)  # a new name: nobody else can hold it yet
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
                # Under the lock: the purge never sees it idle under its temporary name.
                made = _link_new(tmp, full, fd) if new else _replace(tmp, full)
            except BaseException:
                tmp.unlink(missing_ok=True)  # a half-written temporary file only wastes the space
                raise
            finally:
                os.close(fd)
        if made is not None:
            _fsync_dir(full.parent)
        return made

    async def put_content(self, path: str, data: bytes) -> None:
        """Write atomically and durably."""
        await anyio.to_thread.run_sync(self._put_blocking, path, data)

    async def put_new_content(self, path: str, data: bytes) -> NewFile | None:
        """Write atomically and durably unless the file exists (looked at in the same worker thread:
        one hop where ``stat`` and ``put_content`` take two, and again as the name is made, so a file
        another writer put there meanwhile is never replaced); what was made, or None."""

        def _put_new() -> NewFile | None:
            if self._full(path).is_file():
                return None
            return self._put_blocking(path, data, new=True)

        return await anyio.to_thread.run_sync(_put_new)

    async def read(self, path: str, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        """Stream a byte range in 1 MiB chunks, each read in a worker thread."""
        full = self._full(path)
        fd = await anyio.to_thread.run_sync(os.open, full, os.O_RDONLY)
        try:
            remaining = length
            position = offset
            while remaining is None or remaining > 0:
                want = READ_CHUNK if remaining is None else min(READ_CHUNK, remaining)
                chunk = await anyio.to_thread.run_sync(os.pread, fd, want, position)
                if not chunk:
                    break
                position += len(chunk)
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        finally:
            os.close(fd)

    async def writer(self, path: str, *, offset: int) -> FilesystemWriter:
        """Open for appending at ``offset`` (truncating anything beyond it)."""
        full = self._full(path)

        def _open() -> FilesystemWriter:
            fd = _open_locked(full)
            try:
                size = os.fstat(fd).st_size
                if size < offset:
                    raise ValueError(f"cannot resume {path} at {offset}: only {size} bytes stored")
                os.ftruncate(fd, offset)
                os.lseek(fd, offset, os.SEEK_SET)
                direct = self.direct_writes and offset % DIRECT_ALIGNMENT == 0
                if direct:
                    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_DIRECT)
            except BaseException:
                os.close(fd)
                raise
            return FilesystemWriter(fd, offset, direct=direct)

        return await anyio.to_thread.run_sync(_open)

    async def move(self, source: str, destination: str) -> None:
        """Rename, replacing the destination; durable (directory fsynced); the file's modification
        time becomes the time of the move."""
        src, dst = self._full(source), self._full(destination)

        def _move() -> None:
            fd = os.open(src, os.O_RDONLY)
            try:
                with full_device_is_storage_full():
                    os.fsync(fd)  # the content must be on disk before the name that promises it
                os.utime(fd)  # the name appears with the time it appeared (garbage collection reads it)
            finally:
                os.close(fd)
            _make_dirs_durable(dst.parent, fsync_parents=self.fsync_parents)
            os.replace(src, dst)
            _fsync_dir(dst.parent)

        await anyio.to_thread.run_sync(_move)

    async def delete(self, path: str) -> None:
        """Remove a file or a tree."""
        full = self._full(path)

        def _delete() -> None:
            if full.is_dir() and not full.is_symlink():
                shutil.rmtree(full, ignore_errors=True)
            else:
                full.unlink(missing_ok=True)

        await anyio.to_thread.run_sync(_delete)

    async def list(self, prefix: str) -> list[str]:
        """Entries directly under ``prefix``."""
        full = self._full(prefix)

        def _list() -> list[str]:
            try:
                return sorted(os.listdir(full))
            except (FileNotFoundError, NotADirectoryError):
                return []

        return await anyio.to_thread.run_sync(_list)

    async def delete_if_idle(self, path: str, *, older_than_seconds: float) -> int:
        """Delete the idle file (or the idle files of a directory, then the directory once empty)."""
        full = self._full(path)
        cutoff = time.time() - older_than_seconds
        return await anyio.to_thread.run_sync(_delete_idle, full, cutoff)

    async def purge_temporary(self, *, older_than_seconds: float) -> int:
        """Delete idle files of ``<root>/tmp`` (left by a process killed in ``put_content``)."""
        cutoff = time.time() - older_than_seconds

        def _purge() -> int:
            try:
                names = os.listdir(self._tmp)
            except FileNotFoundError:
                return 0
            return sum(_delete_idle(self._tmp / name, cutoff) for name in names)

        return await anyio.to_thread.run_sync(_purge)


def _open_locked(full: Path) -> int:
    """Open (creating) ``full`` for writing, holding the shared lock on the file that bears the name
    now: a file the purge deleted between the open and the lock is opened again."""
    while True:
        with full_device_is_storage_full():
            full.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(full, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            held = os.fstat(fd)
            named = os.stat(full)
            if (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino):
                return fd
        except FileNotFoundError:
            pass
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


def _delete_idle(full: Path, cutoff: float) -> int:
    """``delete_if_idle`` for one path, in a worker thread: files modified before ``cutoff`` that no
    writer holds; a directory's idle files, then the directory itself if it was idle and is empty."""
    try:
        info = os.lstat(full)
    except FileNotFoundError:
        return 0
    if stat.S_ISDIR(info.st_mode):
        removed = 0
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            for name in os.listdir(full):
                removed += _delete_idle(full / name, cutoff)
        if info.st_mtime < cutoff:  # its age before this pass emptied it
            with contextlib.suppress(OSError):
                os.rmdir(full)  # fails, as it should, when something is left or was just added
        return removed
    if not stat.S_ISREG(info.st_mode) or info.st_mtime >= cutoff:
        return 0
    try:
        fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return 0
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # a writer holds it
        held = os.fstat(fd)
        try:
            named = os.lstat(full)
        except FileNotFoundError:
            return 0
        if (named.st_dev, named.st_ino) != (held.st_dev, held.st_ino) or held.st_mtime >= cutoff:
            return 0  # renamed away or written to since it was looked at
        os.unlink(full)
        return 1
    finally:
        os.close(fd)
