"""Severity: vendor ratings read into one scale, and CVSS base scores computed from vectors.

The vendor's rating comes first (a distribution knows how its build is exposed); without one the
base score of a CVSS vector decides, computed with the ``cvss`` package (v3.x preferred, then
v4.0, then v2) and mapped to the CVSS v3 qualitative scale.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cvss import CVSS2, CVSS3, CVSS4
from cvss.exceptions import CVSSError

from moorage.scanner.advisories.records import Severity

_VENDOR_WORDS: dict[str, Severity] = {
    "critical": Severity.CRITICAL,
    "urgent": Severity.CRITICAL,
    "high": Severity.HIGH,
    "important": Severity.HIGH,
    "moderate": Severity.MEDIUM,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
    "negligible": Severity.NEGLIGIBLE,
    "unimportant": Severity.NEGLIGIBLE,
    "none": Severity.NEGLIGIBLE,
}


def vendor_severity(text: str | None) -> Severity | None:
    """Read a vendor's word (``Important``, ``MODERATE``, ``unimportant``, ``low**``) as a severity.

    Words that say "not rated yet" (``not yet assigned``, ``untriaged``, ``unknown``) and anything
    unknown give None, so the CVSS score can decide.
    """
    if not text:
        return None
    return _VENDOR_WORDS.get(text.strip().rstrip("*").strip().lower())


@dataclass(frozen=True, slots=True)
class CvssScore:
    """A CVSS vector with its computed base score."""

    version: str
    """``2.0``, ``3.0``, ``3.1`` or ``4.0``."""
    vector: str
    """The vector as given."""
    base_score: float
    """Base score, 0.0 to 10.0."""

    @property
    def severity(self) -> Severity:
        """The score on the CVSS v3 qualitative scale."""
        return severity_from_score(self.base_score)


def severity_from_score(score: float) -> Severity:
    """CVSS v3 qualitative rating: 0 none (negligible), <4 low, <7 medium, <9 high, else critical."""
    if score <= 0.0:
        return Severity.NEGLIGIBLE
    if score < 4.0:
        return Severity.LOW
    if score < 7.0:
        return Severity.MEDIUM
    if score < 9.0:
        return Severity.HIGH
    return Severity.CRITICAL


def score_vector(vector: str) -> CvssScore | None:
    """Compute the base score of a CVSS v2, v3.x or v4.0 vector; None if it is not a valid vector."""
    text = vector.strip()
    if len(text) > 300:
        return None
    try:
        if text.startswith("CVSS:4.0/"):
            v4 = CVSS4(text)
            return CvssScore("4.0", text, float(v4.base_score))
        if text.startswith(("CVSS:3.0/", "CVSS:3.1/")):
            v3 = CVSS3(text)
            return CvssScore(text[5:8], text, float(v3.base_score))
        v2 = CVSS2(text.removeprefix("(").removesuffix(")"))
        return CvssScore("2.0", text, float(v2.base_score))
    except (CVSSError, ValueError, KeyError, IndexError, TypeError):
        return None


_PREFERENCE = {"3.1": 0, "3.0": 1, "4.0": 2, "2.0": 3}


def best_score(vectors: Iterable[str], cache: dict[str, CvssScore | None] | None = None) -> CvssScore | None:
    """The preferred valid vector among ``vectors`` (v3.1, v3.0, v4.0, v2; first given wins a tie).

    ``cache`` (vector -> score) spares recomputing the same vector across findings.
    """
    scored: list[CvssScore] = []
    for vector in vectors:
        if cache is None:
            score = score_vector(vector)
        elif vector in cache:
            score = cache[vector]
        else:
            score = cache[vector] = score_vector(vector)
        if score is not None:
            scored.append(score)
    if not scored:
        return None
    return min(scored, key=lambda score: _PREFERENCE[score.version])
