"""Matching: per-ecosystem version comparison, range evaluation, and vulnerability findings.

Entry points: ``match_packages(packages, distro, store)`` for a list of findings, or
``Matcher(store).match(...)`` for findings plus what could not be matched; ``diff_findings``
compares two runs over the same inventory (a re-match after a database update).
"""

from moorage.scanner.matching.findings import (
    FINDING_JSON_SCHEMA,
    FindingsDiff,
    MatchEvidence,
    VulnerabilityFinding,
    diff_findings,
    sort_findings,
)
from moorage.scanner.matching.matcher import Matcher, MatchResult, SkippedPackage, match_packages

__all__ = [
    "FINDING_JSON_SCHEMA",
    "FindingsDiff",
    "MatchEvidence",
    "MatchResult",
    "Matcher",
    "SkippedPackage",
    "VulnerabilityFinding",
    "diff_findings",
    "match_packages",
    "sort_findings",
]
