"""RPM header blobs (the values of every rpmdb backend), parsed without the rpm library.

A header blob is ``il`` and ``dl`` (big-endian int32), ``il`` index entries of 16 bytes
(tag, type, offset, count) and ``dl`` bytes of data. Every offset and count is checked against
the blob, so a hostile blob raises :class:`ParseError`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from moorage.scanner.errors import ParseError

TAG_NAME = 1000
TAG_VERSION = 1001
TAG_RELEASE = 1002
TAG_EPOCH = 1003
TAG_LICENSE = 1014
TAG_VENDOR = 1011
TAG_ARCH = 1022
TAG_SOURCERPM = 1044
TAG_DIRINDEXES = 1116
TAG_BASENAMES = 1117
TAG_DIRNAMES = 1118
TAG_MODULARITYLABEL = 5096
TYPE_INT16, TYPE_INT32, TYPE_STRING, TYPE_BIN, TYPE_STRING_ARRAY, TYPE_I18NSTRING = 3, 4, 6, 7, 8, 9
MAX_ENTRIES = 100_000
MAX_DATA = 256 << 20


@dataclass(frozen=True, slots=True)
class RpmHeader:
    """The fields of an installed package's header the inventory uses."""

    name: str
    """Package name."""
    version: str
    """Upstream version."""
    release: str
    """Release."""
    epoch: int | None
    """Epoch, None when the header has none."""
    arch: str
    """Architecture (``noarch`` for architecture-independent packages)."""
    source_rpm: str
    """Source RPM file name (``bash-5.1.8-6.el9.src.rpm``)."""
    license: str
    """License tag."""
    vendor: str
    """Vendor tag."""
    modularity_label: str
    """Module stream label (RHEL 8+ modules)."""
    files: tuple[str, ...]
    """Installed file paths."""


def _strings(data: bytes, offset: int, count: int) -> list[str]:
    out: list[str] = []
    pos = offset
    for _ in range(count):
        end = data.find(b"\x00", pos)
        if end < 0:
            raise ParseError("unterminated string in rpm header")
        out.append(data[pos:end].decode("utf-8", errors="replace"))
        pos = end + 1
    return out


def parse_header_blob(blob: bytes) -> RpmHeader:
    """Parse one header blob (raises ParseError when it is not one)."""
    if len(blob) < 8:
        raise ParseError("rpm header shorter than 8 bytes")
    il, dl = struct.unpack_from(">ii", blob, 0)
    if il <= 0 or il > MAX_ENTRIES or dl < 0 or dl > MAX_DATA:
        raise ParseError(f"rpm header with {il} entries and {dl} data bytes")
    data_start = 8 + 16 * il
    if data_start + dl > len(blob):
        raise ParseError("rpm header truncated")
    data = blob[data_start : data_start + dl]
    entries: dict[int, tuple[int, int, int]] = {}
    for i in range(il):
        tag, kind, offset, count = struct.unpack_from(">iiii", blob, 8 + 16 * i)
        if offset < 0 or offset > dl or count < 0 or count > MAX_DATA:
            raise ParseError(f"rpm header entry {tag} out of bounds")
        entries[tag] = (kind, offset, count)

    def string(tag: int) -> str:
        found = entries.get(tag)
        if found is None:
            return ""
        kind, offset, count = found
        if kind not in (TYPE_STRING, TYPE_I18NSTRING, TYPE_STRING_ARRAY):
            raise ParseError(f"rpm tag {tag} is not a string")
        values = _strings(data, offset, max(1, min(count, 1)))
        return values[0] if values else ""

    def string_array(tag: int) -> list[str]:
        found = entries.get(tag)
        if found is None:
            return []
        kind, offset, count = found
        if kind not in (TYPE_STRING_ARRAY, TYPE_STRING, TYPE_I18NSTRING):
            raise ParseError(f"rpm tag {tag} is not a string array")
        return _strings(data, offset, count if kind == TYPE_STRING_ARRAY else 1)

    def int32s(tag: int) -> list[int]:
        found = entries.get(tag)
        if found is None:
            return []
        kind, offset, count = found
        if kind != TYPE_INT32 or offset + 4 * count > dl:
            raise ParseError(f"rpm tag {tag} is not an int32 array in bounds")
        return list(struct.unpack_from(f">{count}i", data, offset))

    name = string(TAG_NAME)
    version = string(TAG_VERSION)
    if not name or not version:
        raise ParseError("rpm header without name or version")
    epochs = int32s(TAG_EPOCH)
    basenames = string_array(TAG_BASENAMES)
    dirnames = string_array(TAG_DIRNAMES)
    dirindexes = int32s(TAG_DIRINDEXES)
    files: list[str] = []
    if basenames and len(dirindexes) == len(basenames):
        for base, index in zip(basenames, dirindexes, strict=True):
            if not 0 <= index < len(dirnames):
                raise ParseError("rpm file list points at a missing directory")
            files.append(dirnames[index] + base)
    return RpmHeader(
        name=name,
        version=version,
        release=string(TAG_RELEASE),
        epoch=epochs[0] if epochs else None,
        arch=string(TAG_ARCH),
        source_rpm=string(TAG_SOURCERPM),
        license=string(TAG_LICENSE),
        vendor=string(TAG_VENDOR),
        modularity_label=string(TAG_MODULARITYLABEL),
        files=tuple(files),
    )
