"""Small pieces every OCI handler module uses: header parsing, the services handle, body streams."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from starlette.requests import Request

from moorage.domain.errors import Invalid, RangeNotSatisfiable, SizeInvalid, UploadInvalid
from moorage.domain.registry import ByteRange

if TYPE_CHECKING:
    from moorage.app import Services

_CONTENT_RANGE = re.compile(r"^(?:bytes[ =])?(\d{1,19})-(\d{1,19})(?:/(?:\d{1,19}|\*))?$")
_RANGE = re.compile(r"^bytes=(\d{0,19})-(\d{0,19})$")


def services(request: Request) -> Services:
    """The application's services (built once in ``create_app``)."""
    found: Services = request.app.state.services
    return found


def content_length(request: Request) -> int | None:
    """The Content-Length header as an int, None when absent; ``SizeInvalid`` when malformed."""
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 19:
        raise SizeInvalid(f"invalid Content-Length {raw!r}")
    return int(raw)


def content_range(request: Request) -> tuple[int, int] | None:
    """A chunk's ``Content-Range: <start>-<end>`` (inclusive), None when absent."""
    raw = request.headers.get("content-range")
    if raw is None:
        return None
    m = _CONTENT_RANGE.fullmatch(raw.strip())
    if m is None:
        raise UploadInvalid(f"invalid Content-Range {raw!r}; expected <start>-<end>", detail={"range": raw[:100]})
    start, end = int(m.group(1)), int(m.group(2))
    if end < start:
        raise UploadInvalid(f"invalid Content-Range {raw!r}: end before start", detail={"range": raw[:100]})
    return start, end


def requested_range(request: Request, size_hint: int | None = None) -> ByteRange | None:
    """A single ``Range: bytes=a-b`` / ``bytes=a-`` / ``bytes=-n``; None when absent or unparsable
    (RFC 9110: a server ignores a Range it does not understand and sends the whole content).
    ``bytes=a-b`` with ``b`` before ``a`` is ``RangeNotSatisfiable``: the spec's conformance suite
    asks 416 for ``bytes=500-0``, not the whole blob."""
    raw = request.headers.get("range")
    if raw is None:
        return None
    m = _RANGE.fullmatch(raw.strip())
    if m is None or (not m.group(1) and not m.group(2)):
        return None
    first, last = m.group(1), m.group(2)
    if not first:  # suffix: the last n bytes
        if size_hint is None:
            return None
        n = int(last)
        return ByteRange(max(size_hint - n, 0), size_hint - 1) if n else ByteRange(size_hint, size_hint)
    start = int(first)
    end = int(last) if last else (1 << 62)
    if end < start:
        raise RangeNotSatisfiable(f"range {raw.strip()[:64]!r} ends before it starts", size=size_hint or 0)
    return ByteRange(start, end)


async def body_chunks(request: Request) -> AsyncIterator[bytes]:
    """The request body as it arrives, without the empty end marker."""
    async for chunk in request.stream():
        if chunk:
            yield chunk


async def read_body(request: Request, *, limit: int) -> bytes:
    """The whole (small) body; ``TooLarge`` past ``limit`` bytes."""
    from moorage.domain.errors import TooLarge

    declared = content_length(request)
    if declared is not None and declared > limit:
        raise TooLarge(f"body of {declared} bytes exceeds the {limit}-byte limit")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge(f"body exceeds the {limit}-byte limit")
    return bytes(body)


def query_digest_required(request: Request, name: str = "digest") -> str:
    """A required query parameter (the digest of a closing upload)."""
    value = request.query_params.get(name)
    if not value:
        raise Invalid(f"the {name!r} query parameter is required")
    return value
