"""Deterministic tar archives and layer compression for test fixtures.

A layer is described as a mapping of path -> bytes (or ``File`` / ``Directory`` / ``Symlink`` /
``Hardlink``); the archive has sorted members, zero timestamps and root ownership, so the same
mapping always gives the same bytes and digests. Re-exported by tests/support/ocilayout.py.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

import zstandard

Compression = Literal["gzip", "zstd", "none"]


@dataclass(frozen=True)
class File:
    """A regular file in a layer."""

    data: bytes
    mode: int = 0o644


@dataclass(frozen=True)
class Directory:
    """A directory in a layer (parents of files are added implicitly)."""

    mode: int = 0o755


@dataclass(frozen=True)
class Symlink:
    """A symbolic link in a layer."""

    target: str


@dataclass(frozen=True)
class Hardlink:
    """A hard link to an earlier member of the same layer."""

    target: str


Entry = bytes | File | Directory | Symlink | Hardlink
Files = Mapping[str, Entry]


def _normalised(path: str) -> str:
    parts = [part for part in PurePosixPath("/" + path).parts[1:] if part not in ("", ".")]
    if ".." in parts:
        raise ValueError(f"path escapes the layer root: {path!r} (use normalise=False on purpose)")
    return "/".join(parts)


def tar_archive(files: Files, *, normalise: bool = True) -> bytes:
    """A deterministic tar of ``files`` (sorted, mtime 0, owner root).

    With ``normalise`` (the default) paths lose leading ``/`` and ``./``, ``..`` is refused and
    missing parent directories are added. ``normalise=False`` writes names verbatim and adds
    nothing, for tests that need a hostile archive.
    """
    entries: dict[str, Entry] = {}
    for raw_path, entry in files.items():
        path = _normalised(raw_path) if normalise else raw_path
        if normalise:
            parents = PurePosixPath(path).parents
            for parent in list(parents)[:-1]:
                entries.setdefault(str(parent), Directory())
        entries[path] = entry
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in sorted(entries) if normalise else list(entries):
            archive_entry(archive, path, entries[path])
    return buffer.getvalue()


def archive_entry(archive: tarfile.TarFile, path: str, entry: Entry) -> None:
    """Append one member to ``archive`` with fixed ownership and timestamps."""
    info = tarfile.TarInfo(path)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    payload: bytes | None = None
    if isinstance(entry, bytes | File):
        file_entry = entry if isinstance(entry, File) else File(entry)
        info.type, info.mode, info.size = tarfile.REGTYPE, file_entry.mode, len(file_entry.data)
        payload = file_entry.data
    elif isinstance(entry, Directory):
        info.type, info.mode = tarfile.DIRTYPE, entry.mode
    elif isinstance(entry, Symlink):
        info.type, info.mode, info.linkname = tarfile.SYMTYPE, 0o777, entry.target
    else:
        info.type, info.mode, info.linkname = tarfile.LNKTYPE, 0o644, entry.target
    archive.addfile(info, io.BytesIO(payload) if payload is not None else None)


def compress(data: bytes, compression: Compression) -> bytes:
    """``data`` compressed deterministically (gzip without a timestamp, zstd level 3)."""
    if compression == "gzip":
        return gzip.compress(data, compresslevel=6, mtime=0)
    if compression == "zstd":
        return zstandard.ZstdCompressor(level=3).compress(data)
    return data
