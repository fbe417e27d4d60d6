"""Range evaluation: the OSV algorithm against an interval oracle, and the edges written out."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moorage.scanner.advisories.records import AffectedPackage, AffectedRange, EventKind, FixState, RangeEvent
from moorage.scanner.inventory import Ecosystem
from moorage.scanner.matching.ranges import CompiledAffected
from moorage.scanner.matching.versions import ParsedVersionCache

RENDER = {
    Ecosystem.PYPI: lambda n: f"{n // 10}.{n % 10}",
    Ecosystem.NPM: lambda n: f"{n // 10}.{n % 10}.0",
    Ecosystem.DEB: lambda n: f"1:{n // 10}.{n % 10}-1",
    Ecosystem.RPM: lambda n: f"{n // 10}.{n % 10}-1.el9",
    Ecosystem.APK: lambda n: f"{n // 10}.{n % 10}-r0",
    Ecosystem.GOLANG: lambda n: f"v{n // 10}.{n % 10}.0",
    Ecosystem.MAVEN: lambda n: f"{n // 10}.{n % 10}.1",
    Ecosystem.COMPOSER: lambda n: f"{n // 10}.{n % 10}.0",
}


def _affected(ecosystem: Ecosystem, *ranges: list[tuple[str, str]], versions: tuple[str, ...] = ()) -> CompiledAffected:
    package = AffectedPackage(
        scope=ecosystem.value,
        ecosystem=ecosystem,
        name="pkg",
        ranges=tuple(AffectedRange(tuple(RangeEvent(EventKind(k), v) for k, v in r)) for r in ranges),
        versions=versions,
    )
    return CompiledAffected(package, ParsedVersionCache())


@st.composite
def osv_intervals(draw: st.DrawFn) -> tuple[list[tuple[int, int | None, str]], int | None]:
    """Disjoint intervals (low, high or None for open, closing kind) over 1..98, and a limit."""
    points = sorted(draw(st.sets(st.integers(1, 98), max_size=8)))
    intervals: list[tuple[int, int | None, str]] = []
    start_at_zero = draw(st.booleans())
    cursor = 0
    if start_at_zero:
        points = [0, *points]
    while cursor < len(points):
        low = points[cursor]
        high = points[cursor + 1] if cursor + 1 < len(points) else None
        kind = draw(st.sampled_from(["fixed", "last_affected"]))
        intervals.append((low, high, kind))
        cursor += 2
    limit = draw(st.none() | st.integers(1, 99))
    return intervals, limit


def _oracle(version: int, intervals: list[tuple[int, int | None, str]], limit: int | None) -> bool:
    if limit is not None and version >= limit:
        return False
    for low, high, kind in intervals:
        if version < low:
            continue
        if high is None or (version < high if kind == "fixed" else version <= high):
            return True
    return False


@settings(max_examples=150, deadline=None)
@given(osv_intervals(), st.sampled_from(list(RENDER)), st.randoms(use_true_random=False))
def test_ranges_match_the_interval_oracle(
    drawn: tuple[list[tuple[int, int | None, str]], int | None], ecosystem: Ecosystem, shuffler: random.Random
) -> None:
    intervals, limit = drawn
    render = RENDER[ecosystem]
    events: list[tuple[str, str]] = []
    for low, high, kind in intervals:
        events.append(("introduced", "0" if low == 0 else render(low)))
        if high is not None:
            events.append((kind, render(high)))
    if limit is not None:
        events.append(("limit", render(limit)))
    shuffler.shuffle(events)  # feeds do not always sort their events
    compiled = _affected(ecosystem, events)
    for version in range(1, 100):
        hit = compiled.check(render(version))
        assert (hit is not None) == _oracle(version, intervals, limit), (version, events)
        if hit is not None:
            closing = next((i for i in intervals if i[0] <= version and (i[1] is None or version <= i[1])), None)
            assert closing is not None
            if closing[1] is not None and closing[2] == "fixed":
                assert hit.fixed_version == render(closing[1])
                assert hit.fix_state is FixState.FIXED
            else:
                assert hit.fixed_version == ""
                assert hit.fix_state is FixState.UNFIXED


def test_introduced_zero_and_epochs() -> None:
    compiled = _affected(Ecosystem.DEB, [("introduced", "0"), ("fixed", "1:1.0-1")])
    assert compiled.check("2.0-1") is not None, "without an epoch 2.0 is below 1:1.0"
    assert compiled.check("1:1.0-1") is None
    hit = compiled.check("1:0.9-3")
    assert hit is not None and hit.fixed_version == "1:1.0-1"
    assert "before fixed 1:1.0-1" in hit.reason
    assert hit.affected_range == ">=0, <1:1.0-1"


def test_tilde_backports_are_below_the_release() -> None:
    compiled = _affected(Ecosystem.DEB, [("introduced", "0"), ("fixed", "2.36.1-8+deb12u1")])
    assert compiled.check("2.36.1-8") is not None
    assert compiled.check("2.36.1-8+deb12u1~bpo1") is not None
    assert compiled.check("2.36.1-8+deb12u1") is None


def test_pre_releases_are_inside_ranges() -> None:
    compiled = _affected(Ecosystem.PYPI, [("introduced", "2.0"), ("fixed", "2.3")])
    assert compiled.check("2.0rc1") is None, "2.0rc1 is before the introducing 2.0"
    assert compiled.check("2.3rc1") is not None, "2.3rc1 is before the fix"
    assert compiled.check("2.3.post1") is None


def test_last_affected_includes_its_version() -> None:
    compiled = _affected(Ecosystem.NPM, [("introduced", "1.0.0"), ("last_affected", "1.4.2")])
    assert compiled.check("1.4.2") is not None
    assert compiled.check("1.4.3") is None
    hit = compiled.check("1.2.0")
    assert hit is not None and hit.fix_state is FixState.UNFIXED and "last affected 1.4.2" in hit.reason


def test_several_ranges_and_branches() -> None:
    compiled = _affected(
        Ecosystem.PYPI,
        [("introduced", "0"), ("fixed", "1.2.5")],
        [("introduced", "2.0"), ("fixed", "2.1.3"), ("introduced", "3.0"), ("fixed", "3.0.1")],
    )
    verdicts = {
        v: (h.fixed_version if (h := compiled.check(v)) else None)
        for v in ["1.0", "1.2.5", "1.9", "2.0", "2.1.2", "2.1.3", "3.0", "3.0.1"]
    }
    assert verdicts == {
        "1.0": "1.2.5",
        "1.2.5": None,
        "1.9": None,
        "2.0": "2.1.3",
        "2.1.2": "2.1.3",
        "2.1.3": None,
        "3.0": "3.0.1",
        "3.0.1": None,
    }


def test_versions_list_compares_in_the_ecosystem() -> None:
    compiled = _affected(Ecosystem.PYPI, versions=("1.0", "1.1.0"))
    assert compiled.check("1.0.0") is not None, "1.0.0 is 1.0 in PEP 440"
    assert compiled.check("1.1") is not None
    hit = compiled.check("1.0")
    assert hit is not None and hit.affected_range == "listed version"
    assert compiled.check("1.2") is None


def test_limit_star_means_no_limit() -> None:
    compiled = _affected(Ecosystem.NPM, [("introduced", "1.0.0"), ("limit", "*")])
    assert compiled.check("9.9.9") is not None


def test_unreadable_range_versions_are_reported_not_fatal() -> None:
    compiled = _affected(
        Ecosystem.PYPI,
        [("introduced", "0"), ("fixed", "not a version")],
        [("introduced", "0"), ("fixed", "2.0")],
    )
    assert len(compiled.ranges) == 1
    assert compiled.problems and "not a version" in compiled.problems[0]
    assert compiled.check("1.0") is not None


def test_vendor_fix_state_is_kept_for_unfixed() -> None:
    package = AffectedPackage(
        scope="debian:12",
        ecosystem=Ecosystem.DEB,
        name="p",
        ranges=(AffectedRange((RangeEvent(EventKind.INTRODUCED, "0"),)),),
        fix_state=FixState.WILL_NOT_FIX,
    )
    hit = CompiledAffected(package, ParsedVersionCache()).check("1.0-1")
    assert hit is not None and hit.fix_state is FixState.WILL_NOT_FIX and hit.fixed_version == ""


@pytest.mark.parametrize("bad", ["", "1.0 ", "x" * 300])
def test_installed_version_that_cannot_be_read(bad: str) -> None:
    compiled = _affected(Ecosystem.PYPI, [("introduced", "0")])
    with pytest.raises(Exception) as caught:
        compiled.check(bad)
    assert type(caught.value).__name__ == "VersionSyntaxError"
