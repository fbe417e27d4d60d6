"""The words the HSS detail operations use, mapped once from the scanner's: repair necessity and
the risk levels of vulnerabilities, Linux (system package) and application vulnerabilities, and
paging a computed list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from moorage.domain.errors import Invalid
from moorage.domain.security_findings import OS_ECOSYSTEMS
from moorage.domain.severity import severity_rank

T = TypeVar("T")


NECESSITIES = ("immediate_repair", "delay_repair", "not_needed_repair")
VUL_TYPES = ("linux_vul", "app_vul")
HANDLE_STATUSES = ("unhandled", "handled")
VUL_STATUSES = ("vul_status_unfix", "vul_status_ignored")
RISK_LEVELS = ("Critical", "High", "Medium", "Low")
"""Risk levels of one vulnerability (``severity_level`` of the general vulnerability list)."""


def repair_necessity(severity: str) -> str:
    """``immediate_repair`` for critical and high, ``delay_repair`` for medium, else ``not_needed_repair``."""
    rank = severity_rank(severity)
    if rank >= severity_rank("high"):
        return "immediate_repair"
    if rank == severity_rank("medium"):
        return "delay_repair"
    return "not_needed_repair"


def risk_level(severity: str) -> str:
    """A finding severity as HSS's one-vulnerability level (negligible and unknown read ``Low``)."""
    return {"critical": "Critical", "high": "High", "medium": "Medium"}.get(severity, "Low")


def vul_type(ecosystem: str) -> str:
    """``linux_vul`` for a system package, ``app_vul`` for any other."""
    return "linux_vul" if ecosystem in OS_ECOSYSTEMS else "app_vul"


def choice(name: str, value: str | None, allowed: Sequence[str]) -> str | None:
    """The spelling of ``allowed`` that ``value`` names, whatever its case (None or empty: no filter;
    HSS documents ``critical`` for one operation and ``Critical`` for the next); ``Invalid`` otherwise."""
    if value is None or value == "":
        return None
    if value in allowed:
        return value
    for spelling in allowed:
        if spelling.lower() == value.lower():
            return spelling
    raise Invalid(f"{name} must be one of {', '.join(allowed)}, got {value[:32]!r}")


def necessity_filter(value: str | None) -> tuple[str | None, str | None]:
    """(repair necessity, risk level) that a ``repair_necessity`` filter names: most operations document
    ``immediate_repair`` / ``delay_repair`` / ``not_needed_repair``, ListVulAffectImages documents the
    risk levels ``Low`` to ``Critical``; either is accepted."""
    named = choice("repair_necessity", value, (*NECESSITIES, *RISK_LEVELS))
    return (None, named) if named in RISK_LEVELS else (named, None)


def page(items: Sequence[T], offset: int, limit: int) -> list[T]:
    """One page of a computed list."""
    return list(items[offset : offset + limit])


def solution(package: str, fixed_version: str, fix_state: str) -> str:
    """What to do about a vulnerable package, in one line."""
    if fixed_version:
        return f"Upgrade {package} to {fixed_version} or later."
    if fix_state == "will_not_fix":
        return f"The distribution will not fix {package}; replace it or accept the risk."
    return f"No fixed version of {package} is known yet; follow the advisory."
