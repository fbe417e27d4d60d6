"""Reading feed documents: formats found by content, size caps, no escape through links."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import zipfile
from pathlib import Path

import pytest
import zstandard

from moorage.scanner.advisories.errors import FeedFormatError, SourceFetchError
from moorage.scanner.advisories.feeds import iter_documents


def _names(location: Path, cap: int = 1 << 20) -> list[str]:
    return [d.name for d in iter_documents(location, (".json",), max_document_bytes=cap)]


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress, zstandard.ZstdCompressor().compress])
def test_single_compressed_file_found_by_content(tmp_path: Path, compress: object) -> None:
    path = tmp_path / "download"  # no suffix, like a URL without one
    path.write_bytes(compress(b'{"a": 1}'))  # type: ignore[operator]
    [document] = list(iter_documents(path, (".json",)))
    assert document.data == b'{"a": 1}'


def test_tar_gz_with_directories(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in [("a/1.json", b"{}"), ("a/b/2.json", b"[]"), ("notes.txt", b"x")]:
            entry = tarfile.TarInfo(name)
            entry.size = len(data)
            archive.addfile(entry, io.BytesIO(data))
        link = tarfile.TarInfo("a/link.json")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        archive.addfile(link)
    path = tmp_path / "feed.tgz"
    path.write_bytes(buffer.getvalue())
    assert _names(path) == ["a/1.json", "a/b/2.json"]


def test_directory_walk_skips_symlinks(tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text("{}")
    feed = tmp_path / "feed"
    (feed / "sub").mkdir(parents=True)
    (feed / "sub" / "real.json").write_text("{}")
    (feed / "escape.json").symlink_to(outside)
    (feed / "loop").symlink_to(feed, target_is_directory=True)
    assert _names(feed) == ["sub/real.json"]


def test_document_over_the_cap_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b" " * 2048)
    with pytest.raises(FeedFormatError, match="larger than 1024 bytes"):
        _names(path, cap=1024)


def test_decompression_bomb_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.json.gz"
    path.write_bytes(gzip.compress(b"0" * (8 << 20)))
    with pytest.raises(FeedFormatError, match="larger than"):
        _names(path, cap=1 << 20)


def test_zip_member_over_the_cap_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "feed.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("huge.json", b"0" * (4 << 20))
    with pytest.raises(FeedFormatError, match="larger than"):
        _names(path, cap=1 << 20)


def test_damaged_archives_raise_feed_errors(tmp_path: Path) -> None:
    truncated = tmp_path / "feed.json.gz"
    truncated.write_bytes(gzip.compress(b'{"a": 1}' * 1000)[:50])
    with pytest.raises(FeedFormatError, match="damaged"):
        _names(truncated)
    broken_zip = tmp_path / "feed.zip"
    broken_zip.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(FeedFormatError):
        _names(broken_zip)


def test_missing_location(tmp_path: Path) -> None:
    with pytest.raises(SourceFetchError, match="cannot read"):
        _names(tmp_path / "missing.json")
