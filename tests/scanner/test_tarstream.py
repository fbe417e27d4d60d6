"""The fast tar reader against Python's tarfile as the oracle (ustar, GNU and pax archives)."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from moorage.scanner.errors import LayerError
from moorage.scanner.tarstream import TarReader

_NAME = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x2FF, blacklist_characters="/\\"),
    min_size=1,
    max_size=40,
)
_ENTRY = st.tuples(
    st.lists(_NAME, min_size=1, max_size=5).map("/".join),
    st.sampled_from(["file", "dir", "symlink", "hardlink"]),
    st.binary(max_size=3000),
)


def _archive(entries: list[tuple[str, str, bytes]], fmt: int) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as archive:
        for name, kind, data in entries:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE}[kind]
            info.linkname = "target/" + name if kind != "dir" else ""
            archive.addfile(info)
    return buffer.getvalue()


def _oracle(blob: bytes) -> list[tuple[str, bytes, int, str, bytes]]:
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:*") as archive:
        out = []
        for member in archive:
            data = archive.extractfile(member).read() if member.isreg() else b""  # type: ignore[union-attr]
            out.append((member.name, member.type, member.size if member.isreg() else 0, member.linkname, data))
        return out


def _ours(blob: bytes) -> list[tuple[str, bytes, int, str, bytes]]:
    reader = TarReader(io.BytesIO(blob))
    out = []
    for member in reader:
        data = reader.read(member.size) if member.type in (b"0", b"7") else b""
        name = member.name.rstrip("/") if member.type == b"5" else member.name  # as tarfile reports it
        out.append((name, member.type, member.size, member.linkname, data))
    return out


@settings(max_examples=80, deadline=None)
@given(
    entries=st.lists(_ENTRY, max_size=12),
    fmt=st.sampled_from([tarfile.GNU_FORMAT, tarfile.PAX_FORMAT]),
    compression=st.sampled_from(["none", "gzip", "zstd"]),
)
def test_same_members_and_contents_as_tarfile(
    entries: list[tuple[str, str, bytes]], fmt: int, compression: str
) -> None:
    blob = _archive(entries, fmt)
    expected = [(n, t if t != b"\x00" else b"0", s, link, d) for n, t, s, link, d in _oracle(blob)]
    if compression == "gzip":
        blob = gzip.compress(blob)
    elif compression == "zstd":
        blob = zstandard.ZstdCompressor().compress(blob)
    assert _ours(blob) == expected


def test_skipping_unread_members() -> None:
    blob = _archive([("a", "file", b"x" * 5000), ("b", "file", b"yy")], tarfile.PAX_FORMAT)
    reader = TarReader(io.BytesIO(blob))
    names = []
    for member in reader:
        names.append(member.name)
        if member.name == "b":
            assert reader.read(10) == b"yy"
    assert names == ["a", "b"]


@given(st.binary(max_size=2000))
def test_garbage_raises_layer_error_or_reads_nothing(data: bytes) -> None:
    try:
        reader = TarReader(io.BytesIO(data))
        for _member in reader:
            reader.read(1 << 16)
    except LayerError:
        pass


def test_concatenated_gzip_members_are_one_stream() -> None:
    first = _archive([("a", "file", b"1")], tarfile.GNU_FORMAT)[:1024]  # header and data, no end blocks
    second = _archive([("b", "file", b"2")], tarfile.GNU_FORMAT)
    blob = gzip.compress(first) + gzip.compress(second)
    assert [m[0] for m in _ours(blob)] == ["a", "b"]
    with pytest.raises(LayerError):
        _ours(gzip.compress(second)[:-30])
