"""The listing parameters of the SWR v2 API, in both of their spellings: plain query parameters
(``?offset=0&limit=10&order_column=updated_at``) and the ``filter`` parameter
(``?filter=offset::0|limit::10|order_column::updated_at``). When ``filter`` is given, the plain
filter parameters are ignored (SWR's rule). Bad values raise ``Invalid`` with a reason that picks
the documented SVCSTG.SWR code (invalid page size, invalid filtering criteria).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from moorage.domain.errors import Invalid

FILTER_MAX = 1024
"""Longest ``filter`` value accepted."""


@dataclass(frozen=True, slots=True)
class ListingRules:
    """What one listing accepts."""

    keys: frozenset[str]
    """Filter keys besides offset, limit, order_column and order_type."""
    order_columns: Mapping[str, str]
    """Wire name of each sort column -> the internal name."""
    default_order: tuple[str, bool]
    """(internal column, descending) when the request names none."""
    default_limit: int | None
    """Page size when none is given (None: everything)."""
    max_limit: int
    offset_multiple: bool
    """Whether the offset must be 0 or a multiple of the limit (as SWR documents for some listings)."""


@dataclass(frozen=True, slots=True)
class Listing:
    """A parsed listing request."""

    offset: int
    limit: int | None
    order_column: str
    descending: bool
    fields: dict[str, str] = field(default_factory=dict)
    """The other filter values (namespace, name, category, tag, center...), empty ones left out."""


def parse_filter(raw: str, *, allowed: frozenset[str]) -> dict[str, str]:
    """``key::value|key::value`` -> a dict. Empty parts are skipped; an unknown or repeated key, or a
    part without ``::``, is ``Invalid``."""
    if len(raw) > FILTER_MAX:
        raise Invalid(f"filter longer than {FILTER_MAX} characters", reason="invalid_filter")
    found: dict[str, str] = {}
    for part in raw.split("|"):
        if not part:
            continue
        key, sep, value = part.partition("::")
        if not sep:
            raise Invalid(f"invalid filter part {part[:64]!r}: expected key::value", reason="invalid_filter")
        if key not in allowed:
            raise Invalid(
                f"unknown filter key {key[:64]!r}; known: {', '.join(sorted(allowed))}", reason="invalid_filter"
            )
        if key in found:
            raise Invalid(f"filter key {key!r} given twice", reason="invalid_filter")
        found[key] = value
    return found


def _integer(name: str, value: str, *, low: int, high: int) -> int:
    text = value.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        raise Invalid(f"{name} must be an integer from {low} to {high}, got {value[:32]!r}", reason="invalid_page_size")
    number = int(text)
    if not low <= number <= high:
        raise Invalid(f"{name} must be from {low} to {high}, got {number}", reason="invalid_page_size")
    return number


OFFSET_MAX = 2**62


def parse_listing(plain: Mapping[str, str | None], raw_filter: str | None, rules: ListingRules) -> Listing:
    """The listing a request asks for: from ``filter`` when present, else from the plain parameters."""
    paging = {"offset", "limit", "order_column", "order_type"}
    if raw_filter:
        values = parse_filter(raw_filter, allowed=frozenset(rules.keys | paging))
    else:
        values = {k: v for k, v in plain.items() if v is not None and (k in paging or k in rules.keys)}
    limit = rules.default_limit
    if values.get("limit", "") != "":
        limit = _integer("limit", values["limit"], low=1, high=rules.max_limit)
    offset = 0
    if values.get("offset", "") != "":
        offset = _integer("offset", values["offset"], low=0, high=OFFSET_MAX)
    if rules.offset_multiple and offset and limit and offset % limit:
        raise Invalid(f"offset must be 0 or a multiple of limit ({limit}), got {offset}", reason="invalid_page_size")
    column, descending = rules.default_order
    wire_column = values.get("order_column", "")
    if wire_column:
        if wire_column not in rules.order_columns:
            raise Invalid(
                f"order_column must be one of {', '.join(rules.order_columns)}, got {wire_column[:32]!r}",
                reason="invalid_filter",
            )
        column = rules.order_columns[wire_column]
    order_type = values.get("order_type", "")
    if order_type:
        if order_type not in ("asc", "desc"):
            raise Invalid(f"order_type must be asc or desc, got {order_type[:32]!r}", reason="invalid_filter")
        descending = order_type == "desc"
    fields = {k: v for k, v in values.items() if k not in paging and v != ""}
    return Listing(offset, limit, column, descending, fields)


def content_range(offset: int, count: int, total: int) -> str:
    """SWR's ``Content-Range``: ``offset-count/total`` (start index, items on this page, items in all)."""
    return f"{offset}-{count}/{total}"
