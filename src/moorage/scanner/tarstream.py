"""A fast, forward-only tar reader over a (decompressed) chunk stream.

``tarfile``'s stream mode copies every byte of every member through small Python reads, even the
members nobody wants; this reader decompresses in large chunks and skips unwanted data by moving
an offset. It understands ustar, GNU long names and links (``L``/``K``), pax headers (``x``/``g``:
``path``, ``linkpath``, ``size``) and base-256 numbers; sparse and other exotic members are
reported with their type and skipped. Malformed input raises :class:`LayerError`.

Memory is bounded whatever the compression ratio: every inflate call is given an output bound
(``CHUNK``), never a whole stream, zstd frames may not ask for a window above
``MAX_ZSTD_WINDOW``, and at most ``AHEAD`` chunks wait between the decompressing thread and the
parser. The uncompressed stream is bounded too (``max_bytes``): a member whose header declares
more than is left is refused before a byte of it is inflated (:class:`StreamTooLarge`).
"""

from __future__ import annotations

import io
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, cast

import zstandard
from isal import isal_zlib

from moorage.scanner.errors import LayerError

BLOCK = 512
CHUNK = 4 << 20
AHEAD = 4
MAX_META_BYTES = 1 << 20
MAX_ZSTD_WINDOW = 1 << 27
"""The largest zstd window a layer may ask for (128 MiB, libzstd's own default limit and what
``zstd --long`` writes); a frame asking for more is refused instead of allocated."""
_ISAL_ERROR = cast("type[Exception]", isal_zlib.error)  # IsalError, untyped in isal's stubs


class StreamTooLarge(LayerError):
    """The uncompressed tar stream would pass its ``max_bytes`` bound (the caller says which limit)."""

    def __init__(self, needed: int, max_bytes: int) -> None:
        super().__init__(f"the tar stream needs at least {needed} bytes, more than {max_bytes}")
        self.needed = needed
        """Uncompressed bytes the stream would need (those read plus what a header declares)."""


@dataclass(slots=True)
class TarMember:
    """One member header: name, type flag, size, mode, owner, link target."""

    name: str
    type: bytes
    size: int
    mode: int
    uid: int
    gid: int
    linkname: str
    sparse: bool = False
    """A GNU sparse file (type ``S`` or pax ``GNU.sparse.*``): its data is not the file's bytes."""


def _ahead(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Run ``chunks`` in a thread, a few chunks ahead of the consumer: decompression and hashing
    release the GIL, so they overlap with tar parsing and the plug-ins."""
    pipe: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=AHEAD)
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk in chunks:
                while not stop.is_set():
                    try:
                        pipe.put(chunk, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            pipe.put(None)
        except BaseException as exc:  # handed to the consumer, raised there
            pipe.put(exc)

    worker = threading.Thread(target=produce, name="layer-decompress", daemon=True)
    worker.start()
    try:
        while True:
            item = pipe.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            try:
                pipe.get_nowait()
            except queue.Empty:
                worker.join(0.05)


def _chunks(raw: IO[bytes]) -> Iterator[bytes]:
    """Decompressed chunks of ``raw`` (gzip, possibly multi-member; zstd; or plain tar)."""
    first = raw.read(CHUNK)
    if first[:2] == b"\x1f\x8b":
        yield from _gunzip(first, raw)
    elif first[:4] == b"\x28\xb5\x2f\xfd":
        source = cast(IO[bytes], _Prepend(first, raw))
        decompressor = zstandard.ZstdDecompressor(max_window_size=MAX_ZSTD_WINDOW)
        reader = decompressor.stream_reader(source, read_across_frames=True)
        while data := reader.read(CHUNK):  # at most CHUNK bytes out per call
            yield data
    else:
        while first:
            yield first
            first = raw.read(CHUNK)


def _gunzip(first: bytes, raw: IO[bytes]) -> Iterator[bytes]:
    """Inflate gzip members, at most ``CHUNK`` bytes per call (one call on 4 MiB of a bomb would
    otherwise return 4 GiB)."""
    inflater: Any = isal_zlib.decompressobj(wbits=31)
    data = first
    while True:
        try:
            out = inflater.decompress(data, CHUNK)
        except (_ISAL_ERROR, OSError, ValueError) as exc:
            raise LayerError(f"bad gzip data: {exc}") from exc
        if out:
            yield out
        if inflater.eof:
            rest = inflater.unused_data
            if not rest:
                rest = raw.read(CHUNK)
            if not rest or rest[:2] != b"\x1f\x8b":
                return  # trailing garbage after the last member is ignored, as gzip does
            inflater = isal_zlib.decompressobj(wbits=31)
            data = rest
        elif inflater.unconsumed_tail:
            data = inflater.unconsumed_tail  # the output bound was reached: go on with the same input
        elif len(out) == CHUNK:
            data = b""  # every input byte taken, but output may be pending
        else:
            data = raw.read(CHUNK)
            if not data:
                raise LayerError("gzip stream ends early")


class _Prepend:
    """A file-like that first returns ``head``, then reads ``raw``."""

    def __init__(self, head: bytes, raw: IO[bytes]) -> None:
        self._head = head
        self._raw = raw

    def read(self, size: int = -1) -> bytes:
        if not self._head:
            return self._raw.read(size)
        if size < 0:
            out, self._head = self._head + self._raw.read(), b""
            return out
        out, self._head = self._head[:size], self._head[size:]
        return out


def _number(field: bytes) -> int:
    try:
        return int(field.rstrip(b"\x00 ") or b"0", 8)  # the common case: octal digits
    except ValueError:
        pass
    if field[:1] in (b"\x80", b"\xff"):  # base-256
        value = int.from_bytes(field[1:], "big")
        return -value if field[:1] == b"\xff" else value
    text = field.split(b"\x00", 1)[0].strip()
    try:
        return int(text, 8) if text else 0
    except ValueError as exc:
        raise LayerError(f"bad number {field!r} in tar header") from exc


def _text(field: bytes) -> str:
    return field.split(b"\x00", 1)[0].decode("utf-8", "surrogateescape")


def _pax(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            break
        try:
            length = int(data[pos:space])
        except ValueError as exc:
            raise LayerError("bad pax header") from exc
        if length <= 0 or pos + length > len(data):
            raise LayerError("bad pax record length")
        record = data[space + 1 : pos + length - 1]
        key, _, value = record.partition(b"=")
        out[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return out


class TarReader:
    """Iterate members, then read or skip each one's data before asking for the next.

    ``max_bytes`` bounds the uncompressed stream: each header is checked, with the data it
    declares, against what is left, so :class:`StreamTooLarge` is raised before the data is
    inflated. ``position`` is how far into the uncompressed stream the reader is.
    """

    def __init__(self, raw: IO[bytes], *, threaded: bool = True, max_bytes: int | None = None) -> None:
        self._chunks = _ahead(_chunks(raw)) if threaded else _chunks(raw)
        self._buffer = b""
        self._pos = 0
        self._pending = 0  # data bytes (with padding) of the current member not consumed yet
        self._left = 0  # data bytes of the current member not read yet
        self._max_bytes = max_bytes
        self.position = 0
        """Uncompressed bytes consumed so far (headers, data and padding)."""

    def _reserve(self, count: int) -> None:
        """Refuse to go ``count`` bytes further when that passes ``max_bytes``."""
        if self._max_bytes is not None and self.position + count > self._max_bytes:
            raise StreamTooLarge(self.position + count, self._max_bytes)

    def _fill(self, need: int) -> bool:
        while len(self._buffer) - self._pos < need:
            chunk = next(self._chunks, None)
            if chunk is None:
                return False
            self._buffer = self._buffer[self._pos :] + chunk
            self._pos = 0
        return True

    def _take(self, count: int) -> bytes:
        self.position += count
        available = len(self._buffer) - self._pos
        if count <= available:
            out = self._buffer[self._pos : self._pos + count]
            self._pos += count
            return out
        # Large reads: copy each chunk once into a growing buffer and let it go, so a read of N
        # bytes peaks at about N (joining a list of the chunks would hold them and the result: 2N).
        out_buffer = io.BytesIO()
        out_buffer.write(memoryview(self._buffer)[self._pos :])
        self._buffer, self._pos = b"", 0
        need = count - available
        while need > 0:
            chunk = next(self._chunks, None)
            if chunk is None:
                raise LayerError("tar stream ends inside a member")
            if len(chunk) > need:
                out_buffer.write(memoryview(chunk)[:need])
                self._buffer, self._pos = chunk, need
                break
            out_buffer.write(chunk)
            need -= len(chunk)
            del chunk
        return out_buffer.getvalue()

    def _skip(self, count: int) -> None:
        self.position += count
        available = len(self._buffer) - self._pos
        while count > available:
            count -= available
            chunk = next(self._chunks, None)
            if chunk is None:
                raise LayerError("tar stream ends inside a member")
            self._buffer, self._pos = chunk, 0
            available = len(chunk)
        self._pos += count

    def read(self, limit: int) -> bytes:
        """Up to ``limit`` bytes of the current member's data (once per member)."""
        count = min(limit, self._left)
        data = self._take(count)
        self._left -= count
        self._pending -= count
        return data

    def __iter__(self) -> Iterator[TarMember]:
        long_name = long_link = ""
        pax: dict[str, str] = {}
        global_pax: dict[str, str] = {}
        while True:
            if self._pending:
                self._skip(self._pending)
                self._pending = 0
            if not self._fill(BLOCK):
                if len(self._buffer) > self._pos:
                    raise LayerError("tar stream ends inside a header")
                return
            self._reserve(BLOCK)
            header = self._take(BLOCK)
            if header == b"\x00" * BLOCK:
                return
            checksum = _number(header[148:156])
            if checksum != sum(header) - sum(header[148:156]) + 256:
                raise LayerError("tar header checksum mismatch")
            kind = header[156:157]
            size = _number(header[124:136])
            if size < 0:
                raise LayerError("negative size in tar header")
            padded = size + (-size % BLOCK)
            if kind in (b"L", b"K", b"x", b"g"):
                if size > MAX_META_BYTES:
                    raise LayerError("tar metadata member too large")
                self._reserve(padded)
                data = self._take(padded)[:size]
                if kind == b"L":
                    long_name = _text(data)
                elif kind == b"K":
                    long_link = _text(data)
                elif kind == b"x":
                    pax = _pax(data)
                else:
                    global_pax.update(_pax(data))
                continue
            name = _text(header[0:100])
            if header[257:262] == b"ustar" and header[345:346] != b"\x00":
                name = _text(header[345:500]) + "/" + name
            merged = {**global_pax, **pax}
            sparse = kind == b"S" or any(key.startswith("GNU.sparse.") for key in merged)
            name = long_name or merged.get("GNU.sparse.name") or merged.get("path", name)
            linkname = long_link or merged.get("linkpath", _text(header[157:257]))
            if "size" in merged:
                try:
                    size = int(merged["size"])
                except ValueError as exc:
                    raise LayerError("bad pax size") from exc
                if size < 0:
                    raise LayerError("negative pax size")
                padded = size + (-size % BLOCK)
            if kind in (b"1", b"2", b"3", b"4", b"5", b"6"):  # links, devices, dirs, fifos carry no data
                size = padded = 0
            self._reserve(padded)  # a member declaring more than is left is refused unread
            long_name = long_link = ""
            pax = {}
            self._pending = padded
            self._left = size
            yield TarMember(
                name,
                kind if kind != b"\x00" else b"0",
                size,
                _number(header[100:108]),
                _number(header[108:116]),
                _number(header[116:124]),
                linkname,
                sparse,
            )
