"""Reading feed documents from a directory, an archive or a (compressed) file, within size caps.

Feeds arrive as a directory of JSON files (OSV, CSAF VEX), the zip files osv.dev publishes, tar
archives (Red Hat's ``csaf_vex_*.tar.zst``), or one compressed JSON file (NVD ``.json.gz``). The
kind is found from the content's first bytes, not from the name (a download may have none).
Nothing is extracted to disk; every document is read into memory up to a cap, so a bomb or a
runaway file stops with ``FeedFormatError`` instead of exhausting memory.
"""

from __future__ import annotations

import bz2
import io
import lzma
import os
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, cast

import zstandard
from isal import igzip

from moorage.scanner.advisories.errors import FeedFormatError, SourceFetchError

MAX_DOCUMENT_BYTES = 1 << 30
"""Largest single document (the Debian tracker's JSON is ~100 MiB; leave room for growth)."""
MAX_DOCUMENTS = 5_000_000
"""Most documents in one feed (osv.dev's largest ecosystem zip holds a few hundred thousand)."""

_ZIP = b"PK\x03\x04"
_GZIP = b"\x1f\x8b"
_ZSTD = b"\x28\xb5\x2f\xfd"
_XZ = b"\xfd7zXZ\x00"
_BZIP2 = b"BZh"


@dataclass(frozen=True, slots=True)
class FeedDocument:
    """One file of a feed."""

    name: str
    """Its path inside the directory or archive (for messages and to tell formats apart)."""
    data: bytes
    """Its whole content."""


def _read_capped(stream: IO[bytes], name: str, cap: int) -> bytes:
    data = stream.read(cap + 1)
    if len(data) > cap:
        raise FeedFormatError(f"{name}: larger than {cap} bytes, refused")
    return data


class _Prefixed(io.RawIOBase):
    """A stream whose first bytes were already read (to sniff the format) and are served again."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer)
        if self._head:
            count = min(len(view), len(self._head))
            view[:count] = self._head[:count]
            self._head = self._head[count:]
            return count
        data = self._rest.read(len(view))
        view[: len(data)] = data
        return len(data)


def _decompressor(head: bytes, stream: BinaryIO) -> IO[bytes] | None:
    if head.startswith(_GZIP):
        return cast(IO[bytes], igzip.IGzipFile(fileobj=stream, mode="rb"))  # type: ignore[no-untyped-call]
    if head.startswith(_ZSTD):
        return zstandard.ZstdDecompressor().stream_reader(stream)
    if head.startswith(_XZ):
        return lzma.LZMAFile(stream)
    if head.startswith(_BZIP2):
        return bz2.BZ2File(stream)
    return None


def _wanted(name: str, suffixes: tuple[str, ...]) -> bool:
    return name.lower().endswith(suffixes)


def iter_documents(
    location: Path, suffixes: tuple[str, ...], *, max_document_bytes: int = MAX_DOCUMENT_BYTES
) -> Iterator[FeedDocument]:
    """Every document under ``location`` whose name ends with one of ``suffixes``.

    A single plain or compressed file is always yielded, whatever its name. Directories are
    walked in sorted order without following symbolic links.
    """
    if location.is_dir():
        yield from _iter_directory(location, suffixes, max_document_bytes)
        return
    try:
        handle = location.open("rb")
    except OSError as error:
        raise SourceFetchError(f"cannot read {location}: {error.strerror or error}") from error
    with handle:
        head = handle.read(512)
        handle.seek(0)
        if head.startswith(_ZIP):
            yield from _iter_zip(location, suffixes, max_document_bytes)
            return
        if head[257:262] == b"ustar":
            yield from _iter_tar(handle, str(location), suffixes, max_document_bytes)
            return
        decompressed = _decompressor(head, handle)
        if decompressed is None:
            yield FeedDocument(location.name, _read_capped(handle, str(location), max_document_bytes))
            return
        try:
            inner_head = decompressed.read(512)
            if inner_head[257:262] == b"ustar":
                stream = io.BufferedReader(_Prefixed(inner_head, decompressed))
                yield from _iter_tar(stream, str(location), suffixes, max_document_bytes)
                return
            rest = _read_capped(decompressed, str(location), max_document_bytes - len(inner_head))
            name = location.name.rsplit(".", 1)[0] if "." in location.name else location.name
            yield FeedDocument(name, inner_head + rest)
        except (OSError, EOFError, lzma.LZMAError, zstandard.ZstdError) as error:
            raise FeedFormatError(f"{location}: damaged compressed data: {error}") from error


def _iter_directory(root: Path, suffixes: tuple[str, ...], cap: int) -> Iterator[FeedDocument]:
    count = 0
    for directory, subdirectories, files in os.walk(root, followlinks=False):
        subdirectories.sort()
        for file_name in sorted(files):
            if not _wanted(file_name, suffixes):
                continue
            path = Path(directory, file_name)
            if path.is_symlink() or not path.is_file():
                continue
            count += 1
            if count > MAX_DOCUMENTS:
                raise FeedFormatError(f"{root}: more than {MAX_DOCUMENTS} documents, refused")
            with path.open("rb") as handle:
                yield FeedDocument(str(path.relative_to(root)), _read_capped(handle, str(path), cap))


def _iter_zip(location: Path, suffixes: tuple[str, ...], cap: int) -> Iterator[FeedDocument]:
    try:
        archive = zipfile.ZipFile(location)
    except (zipfile.BadZipFile, OSError) as error:
        raise FeedFormatError(f"{location}: not a readable zip file: {error}") from error
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir() and _wanted(m.filename, suffixes)]
        if len(members) > MAX_DOCUMENTS:
            raise FeedFormatError(f"{location}: more than {MAX_DOCUMENTS} documents, refused")
        for member in members:
            if member.file_size > cap:
                raise FeedFormatError(f"{location}:{member.filename}: larger than {cap} bytes, refused")
            try:
                with archive.open(member) as stream:
                    data = _read_capped(stream, f"{location}:{member.filename}", cap)
            except (zipfile.BadZipFile, OSError, EOFError) as error:
                raise FeedFormatError(f"{location}:{member.filename}: damaged: {error}") from error
            yield FeedDocument(member.filename, data)


def _iter_tar(stream: IO[bytes], label: str, suffixes: tuple[str, ...], cap: int) -> Iterator[FeedDocument]:
    count = 0
    try:
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            for member in archive:
                if not member.isfile() or not _wanted(member.name, suffixes):
                    continue
                count += 1
                if count > MAX_DOCUMENTS:
                    raise FeedFormatError(f"{label}: more than {MAX_DOCUMENTS} documents, refused")
                if member.size > cap:
                    raise FeedFormatError(f"{label}:{member.name}: larger than {cap} bytes, refused")
                extracted = archive.extractfile(member)
                if extracted is None:
                    continue
                yield FeedDocument(member.name, _read_capped(extracted, f"{label}:{member.name}", cap))
    except (tarfile.TarError, OSError, EOFError, lzma.LZMAError, zstandard.ZstdError) as error:
        raise FeedFormatError(f"{label}: damaged archive: {error}") from error
