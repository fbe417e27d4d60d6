"""Severity: vendor words and CVSS base scores (v2, v3.x, v4.0) computed from vectors."""

from __future__ import annotations

import pytest

from moorage.scanner.advisories.records import Severity
from moorage.scanner.matching.severity import best_score, score_vector, severity_from_score, vendor_severity


@pytest.mark.parametrize(
    ("word", "severity"),
    [
        ("Critical", Severity.CRITICAL),
        ("Important", Severity.HIGH),
        ("HIGH", Severity.HIGH),
        ("MODERATE", Severity.MEDIUM),
        ("medium", Severity.MEDIUM),
        ("low**", Severity.LOW),
        ("unimportant", Severity.NEGLIGIBLE),
        ("negligible", Severity.NEGLIGIBLE),
        ("not yet assigned", None),
        ("untriaged", None),
        ("", None),
        (None, None),
    ],
)
def test_vendor_words(word: str | None, severity: Severity | None) -> None:
    assert vendor_severity(word) is severity


@pytest.mark.parametrize(
    ("vector", "version", "score"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "3.1", 9.8),
        ("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", "3.0", 5.5),
        ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "4.0", 9.3),
        ("AV:N/AC:L/Au:N/C:P/I:P/A:P", "2.0", 7.5),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", "3.1", 0.0),
    ],
)
def test_base_scores(vector: str, version: str, score: float) -> None:
    computed = score_vector(vector)
    assert computed is not None
    assert (computed.version, computed.base_score) == (version, score)


@pytest.mark.parametrize("vector", ["CVSS:3.1/AV:X", "garbage", "CVSS:4.0/AV:N", "", "CVSS:3.1/" + "A" * 400])
def test_invalid_vectors_give_none(vector: str) -> None:
    assert score_vector(vector) is None


@pytest.mark.parametrize(
    ("score", "severity"),
    [
        (0.0, Severity.NEGLIGIBLE),
        (0.1, Severity.LOW),
        (3.9, Severity.LOW),
        (4.0, Severity.MEDIUM),
        (6.9, Severity.MEDIUM),
        (7.0, Severity.HIGH),
        (8.9, Severity.HIGH),
        (9.0, Severity.CRITICAL),
        (10.0, Severity.CRITICAL),
    ],
)
def test_qualitative_scale(score: float, severity: Severity) -> None:
    assert severity_from_score(score) is severity


def test_v3_is_preferred_over_v4_and_v2() -> None:
    vectors = [
        "AV:N/AC:L/Au:N/C:P/I:P/A:P",
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
        "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N",
        "broken",
    ]
    best = best_score(vectors)
    assert best is not None and best.version == "3.1" and best.severity is Severity.MEDIUM
    assert best_score(vectors[:2]).version == "4.0"  # type: ignore[union-attr]
    assert best_score(["broken"]) is None


def test_severity_rank_orders_thresholds() -> None:
    assert [s.rank for s in Severity] == [0, 1, 2, 3, 4, 5]
    assert Severity.CRITICAL.rank > Severity.HIGH.rank > Severity.UNKNOWN.rank
