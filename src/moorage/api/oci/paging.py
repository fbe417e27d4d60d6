"""``n`` / ``last`` pagination with the ``Link`` header, shared by the tags list and the catalog."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request

from moorage.domain.errors import Invalid


class PaginationInvalid(Invalid):
    """``n`` is not a non-negative integer."""

    default_message = "invalid pagination number"


def page_request(request: Request, page_max: int) -> tuple[int | None, str | None]:
    """(n, last) from the query; n is None when the client asked for everything."""
    raw_n = request.query_params.get("n")
    last = request.query_params.get("last") or None
    if raw_n is None or raw_n == "":
        return None, last
    if not raw_n.isdigit() or len(raw_n) > 9:
        raise PaginationInvalid(f"n must be a non-negative integer, got {raw_n!r}", detail={"n": raw_n[:20]})
    return min(int(raw_n), page_max), last


def next_link(path: str, n: int, last: str) -> str:
    """The RFC 5988 ``Link`` header value for the next page."""
    return f'<{path}?{urlencode({"n": n, "last": last})}>; rel="next"'
