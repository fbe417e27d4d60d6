"""Small wire formats of the SWR management API: times, share deadlines, pull paths, the names in
paths (``$`` for ``/``) and the opaque markers of keyset pages."""

from __future__ import annotations

import datetime
import re

from fastapi import Request

from moorage.domain.errors import Invalid
from moorage.domain.management import TagKey
from moorage.domain.names import RepositoryName
from moorage.domain.registry import DEFAULT_INSTANCE

FOREVER = "forever"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$")
_EARLIEST = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)


async def refuse_nul_characters(request: Request) -> None:
    """A router dependency: refuse NUL characters in the path, the query or a JSON string of the body
    (``\\u0000``) of a route that takes a body (another route's body is neither read nor kept). No
    name, filter or description contains one, and PostgreSQL cannot store them, so they would
    otherwise fail deep in a query instead of as a clear 400."""
    if "\x00" in request.url.path or any("\x00" in k or "\x00" in v for k, v in request.query_params.multi_items()):
        raise Invalid("NUL characters are not allowed in the path or the query", reason="invalid_parameter")
    takes_body = getattr(request.scope.get("route"), "body_field", None) is not None
    if takes_body and _JSON_NUL.search(await request.body()):
        raise Invalid("NUL characters are not allowed in the body", reason="invalid_parameter")


def instance_id(request: Request) -> str:
    """The registry instance a request addresses (the shared edition's ``default`` here)."""
    return str(getattr(request.state, "instance_id", DEFAULT_INSTANCE))


def repository_name(namespace: str, repository: str) -> RepositoryName:
    """The repository a path names (``$`` stands for ``/``)."""
    return RepositoryName.from_api_path(namespace, repository)


def format_time(epoch_ms: int) -> str:
    """``2018-07-06T06:18:55Z``: UTC, whole seconds, as SWR writes times."""
    return datetime.datetime.fromtimestamp(epoch_ms // 1000, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_deadline(text: str) -> int | None:
    """A share deadline: ``forever`` (None), a UTC time (``2021-10-01T16:00:00.000Z``; no zone means
    UTC) or a date (the share then lasts until 00:00:00 UTC of the next day); epoch milliseconds."""
    value = text.strip()
    if value.lower() == FOREVER:
        return None
    try:
        if _DATE.fullmatch(value):
            moment = datetime.datetime.fromisoformat(value).replace(tzinfo=datetime.UTC) + datetime.timedelta(days=1)
        elif _TIME.fullmatch(value):
            fraction = re.search(r"\.(\d+)", value)
            if fraction and len(fraction.group(1)) > 6:  # fromisoformat takes at most microseconds
                value = value.replace(fraction.group(0), fraction.group(0)[:7])
            moment = datetime.datetime.fromisoformat(value.replace(" ", "T"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=datetime.UTC)
        else:
            raise ValueError(value)
    except (ValueError, OverflowError) as exc:
        raise Invalid(
            f"deadline must be 'forever' or a UTC time like 2030-10-01T16:00:00Z, got {text[:40]!r}",
            reason="invalid_deadline",
        ) from exc
    if moment < _EARLIEST:
        raise Invalid("deadline before 1970", reason="invalid_deadline")
    since = moment - _EARLIEST  # integer arithmetic: a float timestamp would lose milliseconds
    return since.days * 86_400_000 + since.seconds * 1000 + since.microseconds // 1000


def format_deadline(epoch_ms: int | None) -> str:
    """``forever``, or the deadline as ``2021-10-01T16:00:00Z`` (milliseconds shown when not zero)."""
    if epoch_ms is None:
        return FOREVER
    moment = datetime.datetime.fromtimestamp(epoch_ms // 1000, datetime.UTC)
    millis = epoch_ms % 1000
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{millis:03d}Z" if millis else "Z")


def pull_path(host: str, name: RepositoryName | str, tag: str | None = None) -> str:
    """``host/namespace/repository[:tag]``: what ``docker pull`` takes."""
    return f"{host}/{name}" + (f":{tag}" if tag is not None else "")


def encode_tag_marker(key: TagKey) -> str:
    """The ``nextMarker`` of a tag page: ``<sort value>~<tag id>`` (``~`` is in no tag and no number)."""
    return f"{key.value}~{key.id}"


def decode_tag_marker(marker: str, *, by_name: bool) -> TagKey:
    """Where a tag page starts, from a ``nextMarker`` (``Invalid`` if it is not one)."""
    value, sep, tag_id = marker.rpartition("~")
    try:
        if not sep or not tag_id.isdigit() or len(tag_id) > 19:
            raise ValueError(marker)
        if by_name:
            if not value or len(value) > 128:
                raise ValueError(marker)
            return TagKey(value, int(tag_id))
        if not value.isdigit() or len(value) > 19:
            raise ValueError(marker)
        return TagKey(int(value), int(tag_id))
    except ValueError as exc:
        raise Invalid(f"marker {marker[:64]!r} is not a nextMarker of this listing", reason="invalid_filter") from exc
