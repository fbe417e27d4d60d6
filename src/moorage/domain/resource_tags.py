"""Resource tags of Enterprise Edition instances and namespaces (the TMS-style tag operations of
SWR): key/value pairs with SWR's documented rules, and the tag filters of the resource-instance
queries."""

from __future__ import annotations

from dataclasses import dataclass

from moorage.domain.errors import Invalid

MAX_TAGS_PER_RESOURCE = 20
"""Tags one instance or namespace may carry."""
MAX_KEY_LENGTH = 128
MAX_VALUE_LENGTH = 255
RESERVED_PREFIX = "_sys_"
KEY_SYMBOLS = frozenset("_.:=+-@ ")
VALUE_SYMBOLS = frozenset("_.:/=+-@ ")
MAX_FILTER_KEYS = 50
MAX_FILTER_VALUES = 10
RESOURCE_TYPE = "instances"
"""The one resource type with tags (``{resource_type}`` of the operations)."""
SUB_RESOURCE_TYPE = "namespaces"
"""The one sub-resource type with tags (``{sub_resource_type}``)."""


@dataclass(frozen=True, slots=True)
class ResourceTag:
    """One tag: its key is unique on its resource."""

    key: str
    value: str


@dataclass(frozen=True, slots=True)
class TagFilter:
    """Resources with this key and one of these values (any value when empty)."""

    key: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TaggedResource:
    """A resource found by a tag query: its id, name and tags."""

    id: str
    name: str
    tags: tuple[ResourceTag, ...]


def _allowed(text: str, symbols: frozenset[str]) -> bool:
    return all(c.isalnum() or c in symbols for c in text)


def validate_key(raw: str) -> str:
    """A tag key, trimmed of surrounding spaces: 1-128 characters, letters, digits, spaces and
    ``_.:=+-@``, not starting with ``_sys_``."""
    key = raw.strip(" ")
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise Invalid(f"a tag key has 1 to {MAX_KEY_LENGTH} characters", reason="invalid_tag")
    if key.startswith(RESERVED_PREFIX):
        raise Invalid(f"a tag key cannot start with {RESERVED_PREFIX}", reason="invalid_tag")
    if not _allowed(key, KEY_SYMBOLS):
        raise Invalid(f"invalid tag key {key[:80]!r}: letters, digits, spaces and _.:=+-@ only", reason="invalid_tag")
    return key


def validate_value(raw: str) -> str:
    """A tag value, trimmed of surrounding spaces: 0-255 characters, letters, digits, spaces and ``_.:/=+-@``."""
    value = raw.strip(" ")
    if len(value) > MAX_VALUE_LENGTH:
        raise Invalid(f"a tag value has at most {MAX_VALUE_LENGTH} characters", reason="invalid_tag")
    if not _allowed(value, VALUE_SYMBOLS):
        raise Invalid(
            f"invalid tag value {value[:80]!r}: letters, digits, spaces and _.:/=+-@ only", reason="invalid_tag"
        )
    return value


def validate_tags(pairs: list[tuple[str, str]], *, values: bool = True) -> tuple[ResourceTag, ...]:
    """The tags of a create (``values``) or delete request: each valid, no key twice, at most
    ``MAX_TAGS_PER_RESOURCE``."""
    if not pairs:
        raise Invalid("tags must name at least one tag", reason="invalid_tag")
    if len(pairs) > MAX_TAGS_PER_RESOURCE:
        raise Invalid(f"a resource has at most {MAX_TAGS_PER_RESOURCE} tags", reason="invalid_tag")
    tags = tuple(ResourceTag(validate_key(k), validate_value(v) if values else v.strip(" ")) for k, v in pairs)
    if len({t.key for t in tags}) != len(tags):
        raise Invalid("a tag key appears twice", reason="invalid_tag")
    return tags


def validate_filters(filters: list[tuple[str, list[str]]]) -> tuple[TagFilter, ...]:
    """The ``tags`` of a resource-instance query: at most 50 keys, each once, with at most 10
    distinct values each (none: any value)."""
    if len(filters) > MAX_FILTER_KEYS:
        raise Invalid(f"a query names at most {MAX_FILTER_KEYS} tag keys", reason="invalid_tag")
    parsed = []
    for key, values in filters:
        if len(values) > MAX_FILTER_VALUES:
            raise Invalid(f"a tag key is queried with at most {MAX_FILTER_VALUES} values", reason="invalid_tag")
        checked = tuple(validate_value(v) for v in values)
        if len(set(checked)) != len(checked):
            raise Invalid("a tag value appears twice under one key", reason="invalid_tag")
        parsed.append(TagFilter(validate_key(key), checked))
    if len({f.key for f in parsed}) != len(parsed):
        raise Invalid("a tag key appears twice", reason="invalid_tag")
    return tuple(parsed)


def resource_type(text: str) -> None:
    """``Invalid`` unless ``text`` is the resource type with tags."""
    if text != RESOURCE_TYPE:
        raise Invalid(f"resource_type must be {RESOURCE_TYPE}, got {text[:40]!r}", reason="invalid_resource_type")


def sub_resource_type(text: str) -> None:
    """``Invalid`` unless ``text`` is the sub-resource type with tags."""
    if text != SUB_RESOURCE_TYPE:
        raise Invalid(
            f"sub_resource_type must be {SUB_RESOURCE_TYPE}, got {text[:40]!r}", reason="invalid_resource_type"
        )
