"""Triggers of the shared edition (SWR's ``CreateTrigger``): which tags of a repository they react to
and what they do. Pure, no I/O.

SWR's triggers update a CCE or CCI workload when a matching tag is pushed; those kinds have no meaning
outside Huawei Cloud, so moorage stores them and records each match as not executed. moorage adds the
``webhook`` kind, which calls an HTTP(S) target with the Harbor payload of the push.

Regular expressions are RE2's (linear time, the syntax Go and so SWR use): a tenant's pattern is
matched against every pushed tag, and a backtracking engine would let one pattern stall the
dispatcher (``(a+)+$`` against a long tag).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

import re2

from moorage.domain.errors import Invalid
from moorage.domain.names import is_valid_tag

MAX_CONDITION = 512
MAX_TAGS = 64
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
NOT_EXECUTED = (
    "not executed: {mode} workload updates need Huawei Cloud's CCE/CCI, which moorage does not "
    "run; the trigger is stored and each match is recorded here"
)


class TriggerMode(StrEnum):
    """What a trigger does: update a CCE or CCI workload (stored, never executed) or call a webhook."""

    CCE = "cce"
    CCI = "cci"
    WEBHOOK = "webhook"

    @property
    def executed(self) -> bool:
        """Whether moorage carries it out."""
        return self is TriggerMode.WEBHOOK


class TriggerType(StrEnum):
    """Which tags it reacts to: ``all``, ``tag`` (a tag or a comma-separated list) or ``regular`` (RE2)."""

    ALL = "all"
    TAG = "tag"
    REGULAR = "regular"


@dataclass(frozen=True, slots=True)
class Trigger:
    """A trigger of one repository."""

    id: int
    repository_id: int
    name: str
    mode: TriggerMode
    trigger_type: TriggerType
    condition: str
    enabled: bool
    action: str
    app_type: str
    application: str
    cluster_id: str
    cluster_name: str
    cluster_ns: str
    container: str
    creator_name: str
    address: str
    """The webhook target (webhook kind only)."""
    has_auth_header: bool
    skip_cert_verify: bool
    created_at: int
    updated_at: int


def check_name(name: str) -> str:
    """A trigger name: 1-64 letters, digits, ``.``, ``_``, ``-``, starting with a letter or digit."""
    if not _NAME.fullmatch(name):
        raise Invalid(f"trigger name must be 1-64 letters, digits, '.', '_' or '-', got {name[:64]!r}")
    return name


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # a tenant's bad pattern is a 400, not a line on the server's stderr
    options.max_mem = 1 << 20
    return options


@lru_cache(maxsize=512)
def compile_condition(pattern: str) -> Callable[[str], bool]:
    """An RE2 pattern as a whole-tag matcher (``Invalid`` when RE2 refuses it)."""
    if not pattern or len(pattern) > MAX_CONDITION:
        raise Invalid(f"condition must be a regular expression of 1-{MAX_CONDITION} characters")
    try:
        compiled = re2.compile(pattern, _options())
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise Invalid(f"condition is not a valid (RE2) regular expression: {reason}") from exc
    return lambda tag: compiled.fullmatch(tag) is not None


def tag_list(condition: str) -> tuple[str, ...]:
    """The tags of a ``tag`` condition (``1.0`` or ``1.0,1.1,latest``); ``Invalid`` for a bad one."""
    tags = tuple(dict.fromkeys(t.strip() for t in condition.split(",") if t.strip()))
    if not tags or len(tags) > MAX_TAGS:
        raise Invalid(f"condition must name 1-{MAX_TAGS} tags, comma-separated")
    for tag in tags:
        if not is_valid_tag(tag):
            raise Invalid(f"condition names an invalid tag {tag[:64]!r}")
    return tags


def check_condition(trigger_type: TriggerType, condition: str) -> str:
    """The condition a trigger type needs: ``.*`` for all (what SWR stores), tags, or an RE2 pattern."""
    match trigger_type:
        case TriggerType.ALL:
            return ".*"
        case TriggerType.TAG:
            return ",".join(tag_list(condition))
        case TriggerType.REGULAR:
            compile_condition(condition)
            return condition


def selects(trigger_type: TriggerType, condition: str, tag: str) -> bool:
    """Whether a pushed ``tag`` matches a trigger."""
    match trigger_type:
        case TriggerType.ALL:
            return True
        case TriggerType.TAG:
            return tag in tag_list(condition)
        case TriggerType.REGULAR:
            return compile_condition(condition)(tag)
