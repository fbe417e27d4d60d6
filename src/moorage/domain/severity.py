"""The one severity scale of findings, shared by the scanner (vulnerability and check findings)
and the registry (image levels, pull policies, sorted finding lists).

Vulnerabilities use all six levels (``unknown`` when neither the vendor nor a CVSS vector rates
them, ``negligible`` for Debian's "unimportant" and a CVSS score of 0); the checks use ``low`` to
``critical``. One enum means one threshold (``--severity high``) filters both, and one sort order
ranks a report. Stored findings keep the values (``"high"``); :func:`severity_rank` ranks such a
stored word.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Severity(StrEnum):
    """How bad a finding is; the values are the JSON form."""

    UNKNOWN = "unknown"
    NEGLIGIBLE = "negligible"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Order for thresholds and sorting: UNKNOWN 0 < NEGLIGIBLE 1 < LOW 2 < ... < CRITICAL 5."""
        return _RANKS[self]

    @classmethod
    def parse(cls, text: str) -> Severity:
        """``high``, ``HIGH`` or ``High`` -> ``Severity.HIGH``; ValueError names the known levels."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            known = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown severity {text!r} (known: {known})") from None


_RANKS = {severity: rank for rank, severity in enumerate(Severity)}
_BY_VALUE = {severity.value: severity for severity in Severity}


def severity_rank(word: str) -> int:
    """The rank of a stored severity word (exactly a value: ``"high"``); any other word ranks
    lowest, as ``unknown`` does."""
    found = _BY_VALUE.get(word)
    return found.rank if found is not None else 0


def severity_at_least(word: str, threshold: str) -> bool:
    """Whether the stored severity ``word`` is at or above ``threshold``; a threshold that is not
    a severity value lets nothing through."""
    limit = _BY_VALUE.get(threshold)
    return limit is not None and severity_rank(word) >= limit.rank


def severities_at_or_above(threshold: Severity) -> frozenset[Severity]:
    """Every level from ``threshold`` up (``high`` -> high and critical)."""
    return frozenset(s for s in Severity if s.rank >= threshold.rank)


def parse_severity_filter(text: str) -> frozenset[Severity]:
    """What ``--severity`` selects: one level means "this level and above", a comma list exactly those.

    ``high`` -> {high, critical}; ``low,critical`` -> {low, critical}; empty -> every level.
    """
    words = [w for w in (part.strip() for part in text.split(",")) if w]
    if not words:
        return frozenset(Severity)
    levels = [Severity.parse(w) for w in words]
    if len(levels) == 1:
        return severities_at_or_above(levels[0])
    return frozenset(levels)


def highest(severities: Iterable[Severity]) -> Severity | None:
    """The most severe of ``severities``, or None when there are none."""
    return max(severities, key=lambda s: s.rank, default=None)
