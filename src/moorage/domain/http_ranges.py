"""The byte-range headers of the OCI API, parsed from their text: ``Content-Length``, a chunk's
``Content-Range`` and a pull's ``Range``. Pure functions, so they are fuzzed without a server."""

from __future__ import annotations

import re

from moorage.domain.errors import RangeNotSatisfiable, SizeInvalid, UploadInvalid
from moorage.domain.registry import ByteRange

MAX_INT64 = (1 << 63) - 1
"""The largest size or offset accepted: what the database's 64-bit integer columns hold."""
_CONTENT_RANGE = re.compile(r"(?:bytes[ =])?(\d{1,19})-(\d{1,19})(?:/(?:\d{1,19}|\*))?", re.ASCII)
_RANGE = re.compile(r"bytes=(\d{0,19})-(\d{0,19})", re.ASCII)
OPEN_END = 1 << 62
"""The end of ``bytes=a-`` before the blob's size bounds it."""


def parse_content_length(raw: str) -> int:
    """A ``Content-Length`` value; ``SizeInvalid`` unless it is 1 to 19 ASCII digits."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or int(raw) > MAX_INT64:
        raise SizeInvalid(f"invalid Content-Length {raw[:64]!r}")
    return int(raw)


def parse_content_range(raw: str) -> tuple[int, int]:
    """A chunk's ``Content-Range: <start>-<end>`` (inclusive; ``bytes`` and a ``/size`` tolerated,
    as clients send them); ``UploadInvalid`` when malformed or ending before it starts."""
    m = _CONTENT_RANGE.fullmatch(raw.strip())
    if m is None:
        raise UploadInvalid(f"invalid Content-Range {raw[:100]!r}; expected <start>-<end>", detail={"range": raw[:100]})
    start, end = int(m.group(1)), int(m.group(2))
    if end > MAX_INT64:
        raise UploadInvalid(f"invalid Content-Range {raw[:100]!r}: past 2^63", detail={"range": raw[:100]})
    if end < start:
        raise UploadInvalid(f"invalid Content-Range {raw[:100]!r}: end before start", detail={"range": raw[:100]})
    return start, end


def parse_range(raw: str, size_hint: int | None = None) -> ByteRange | None:
    """A single ``Range: bytes=a-b`` / ``bytes=a-`` / ``bytes=-n``; None when unparsable (RFC 9110: a
    server ignores a Range it does not understand and sends the whole content), or a suffix range
    without ``size_hint``. ``bytes=a-b`` with ``b`` before ``a`` is ``RangeNotSatisfiable``: the spec's
    conformance suite asks 416 for ``bytes=500-0``, not the whole blob."""
    m = _RANGE.fullmatch(raw.strip())
    if m is None or (not m.group(1) and not m.group(2)):
        return None
    first, last = m.group(1), m.group(2)
    if any(part and int(part) > MAX_INT64 for part in (first, last)):
        return None
    if not first:  # suffix: the last n bytes
        if size_hint is None:
            return None
        n = int(last)
        return ByteRange(max(size_hint - n, 0), size_hint - 1) if n else ByteRange(size_hint, size_hint)
    start = int(first)
    end = int(last) if last else OPEN_END
    if end < start:
        raise RangeNotSatisfiable(f"range {raw.strip()[:64]!r} ends before it starts", size=size_hint or 0)
    return ByteRange(start, end)
