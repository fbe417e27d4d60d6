"""Small pieces every OCI handler module uses: header parsing, the services handle, body streams."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from starlette.requests import Request

from moorage.domain.errors import Invalid
from moorage.domain.http_ranges import parse_content_length, parse_content_range, parse_range
from moorage.domain.registry import ByteRange

if TYPE_CHECKING:
    from moorage.services.wiring import Services


def services(request: Request) -> Services:
    """The application's services (built once in ``create_app``)."""
    found: Services = request.app.state.services
    return found


def content_length(request: Request) -> int | None:
    """The Content-Length header as an int, None when absent; ``SizeInvalid`` when malformed."""
    raw = request.headers.get("content-length")
    return None if raw is None else parse_content_length(raw)


def content_range(request: Request) -> tuple[int, int] | None:
    """A chunk's ``Content-Range: <start>-<end>`` (inclusive), None when absent."""
    raw = request.headers.get("content-range")
    return None if raw is None else parse_content_range(raw)


def requested_range(request: Request, size_hint: int | None = None) -> ByteRange | None:
    """The request's single ``Range`` (``http_ranges.parse_range``), None when absent."""
    raw = request.headers.get("range")
    return None if raw is None else parse_range(raw, size_hint)


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
