"""The three rpm package databases, read as bytes (no rpm library): SQLite (``rpmdb.sqlite``),
Berkeley DB hash (``Packages``) and NDB (``Packages.db``). Each yields header blobs."""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Iterator

from moorage.scanner.errors import ParseError

MAX_BLOBS = 200_000
_BDB_HASH_MAGIC = 0x061561
_P_HASH_UNSORTED, _P_OVERFLOW, _P_HASH = 2, 7, 13
_H_KEYDATA, _H_OFFPAGE = 1, 3
_NDB_HEADER_MAGIC = int.from_bytes(b"RpmP", "little")
_NDB_SLOT_MAGIC = int.from_bytes(b"Slot", "little")
_NDB_BLOB_MAGIC = int.from_bytes(b"BlbS", "little")
_NDB_PAGE = 4096
_NDB_BLOCK = 16


def sqlite_blobs(content: bytes) -> Iterator[bytes]:
    """Header blobs of an rpmdb.sqlite file (WAL mode is switched off in our in-memory copy)."""
    if not content.startswith(b"SQLite format 3\x00") or len(content) < 100:
        raise ParseError("not an SQLite database")
    image = bytearray(content)
    image[18:20] = b"\x01\x01"  # read/write versions 1: rollback journal, so no -wal file is needed
    connection = sqlite3.connect(":memory:")
    try:
        connection.deserialize(image)  # sqlite copies it: no third copy through bytes()
        del image
        rows = connection.execute("SELECT blob FROM Packages").fetchall()
    except sqlite3.Error as exc:
        raise ParseError(f"unreadable rpm sqlite database: {exc}") from exc
    finally:
        connection.close()
    for (blob,) in rows[:MAX_BLOBS]:
        if isinstance(blob, bytes):
            yield blob


def bdb_blobs(content: bytes) -> Iterator[bytes]:
    """Values of a Berkeley DB hash database (rpm's ``Packages``), following overflow chains."""
    if len(content) < 512:
        raise ParseError("Berkeley DB file too short")
    for endian in ("<", ">"):
        if struct.unpack_from(f"{endian}I", content, 12)[0] == _BDB_HASH_MAGIC:
            break
    else:
        raise ParseError("not a Berkeley DB hash database")
    page_size = struct.unpack_from(f"{endian}I", content, 20)[0]
    if page_size < 512 or page_size > 65536 or page_size & (page_size - 1):
        raise ParseError(f"bad Berkeley DB page size {page_size}")
    pages = len(content) // page_size
    count = 0
    for pgno in range(1, pages):
        base = pgno * page_size
        entries, _, _, page_type = struct.unpack_from(f"{endian}HHBB", content, base + 20)
        if page_type not in (_P_HASH, _P_HASH_UNSORTED):
            continue
        if 26 + 2 * entries > page_size:
            raise ParseError(f"Berkeley DB page {pgno} has too many entries")
        offsets = struct.unpack_from(f"{endian}{entries}H", content, base + 26)
        ordered = sorted(set(offsets))
        for index in range(1, entries, 2):
            start = offsets[index]
            position = ordered.index(start)
            end = ordered[position + 1] if position + 1 < len(ordered) else page_size
            if not 26 <= start < page_size or not start < end <= page_size:
                raise ParseError(f"Berkeley DB page {pgno} has a bad item offset")
            item_type = content[base + start]
            if item_type == _H_KEYDATA:
                yield content[base + start + 1 : base + end]
            elif item_type == _H_OFFPAGE:
                first, length = struct.unpack_from(f"{endian}II", content, base + start + 4)
                yield _bdb_overflow(content, page_size, pages, first, length, endian)
            else:
                continue
            count += 1
            if count > MAX_BLOBS:
                raise ParseError(f"more than {MAX_BLOBS} packages")


def _bdb_overflow(content: bytes, page_size: int, pages: int, pgno: int, length: int, endian: str) -> bytes:
    chunks: list[bytes] = []
    total = 0
    seen: set[int] = set()
    while pgno and total < length:
        if pgno >= pages or pgno in seen:
            raise ParseError("Berkeley DB overflow chain is broken")
        seen.add(pgno)
        base = pgno * page_size
        (next_pgno,) = struct.unpack_from(f"{endian}I", content, base + 16)
        (used,) = struct.unpack_from(f"{endian}H", content, base + 22)
        if content[base + 25] != _P_OVERFLOW or used > page_size - 26:
            raise ParseError("Berkeley DB overflow page is not one")
        chunks.append(content[base + 26 : base + 26 + used])
        total += used
        pgno = next_pgno
    if total != length:
        raise ParseError("Berkeley DB overflow value has the wrong length")
    return b"".join(chunks)


def ndb_blobs(content: bytes) -> Iterator[bytes]:
    """Header blobs of an NDB ``Packages.db``: a header, slot pages, then 16-byte-block blobs."""
    if len(content) < 32:
        raise ParseError("NDB file too short")
    magic, version, _, slot_pages = struct.unpack_from("<IIII", content, 0)
    if magic != _NDB_HEADER_MAGIC or version != 0:
        raise ParseError("not an rpm NDB database")
    if slot_pages == 0 or slot_pages * _NDB_PAGE > len(content):
        raise ParseError("NDB slot area out of bounds")
    slot_count = slot_pages * _NDB_PAGE // 16
    count = 0
    for slot in range(2, slot_count):  # the first two slots hold the header
        slot_magic, pkg_index, block_offset, block_count = struct.unpack_from("<IIII", content, slot * 16)
        if slot_magic != _NDB_SLOT_MAGIC or pkg_index == 0:
            continue
        start = block_offset * _NDB_BLOCK
        if start + 16 > len(content) or block_count == 0:
            raise ParseError("NDB slot points outside the file")
        blob_magic, blob_index, _, length = struct.unpack_from("<IIII", content, start)
        if blob_magic != _NDB_BLOB_MAGIC or blob_index != pkg_index:
            raise ParseError("NDB blob header does not match its slot")
        if start + 16 + length > len(content) or length > block_count * _NDB_BLOCK:
            raise ParseError("NDB blob out of bounds")
        yield content[start + 16 : start + 16 + length]
        count += 1
        if count > MAX_BLOBS:
            raise ParseError(f"more than {MAX_BLOBS} packages")
