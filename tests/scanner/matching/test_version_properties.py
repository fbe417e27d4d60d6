"""Each ecosystem's comparator against an oracle, on versions hypothesis generates.

Oracles: the real tools where they exist here (``dpkg --compare-versions``, rpm's own
``rpm.vercmp``), univers' Gentoo comparator for apk versions both read, and otherwise a small
model of the ecosystem's rules (PEP 440, semver, Maven, RubyGems, NuGet, PHP's version_compare)
written straight from the specification, independently of the code under test.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from functools import cmp_to_key
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from univers.versions import GentooVersion

from moorage.scanner.inventory import Ecosystem
from moorage.scanner.matching.versions import SCHEMES, compare_parsed, compare_versions

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


def _digits(low: int = 0, high: int = 30) -> st.SearchStrategy[int]:
    return st.integers(low, high)


# --- Debian: dpkg is the oracle ---------------------------------------------------------------

_DEB_CHARS = "0123456789.+~abZ"
debian_versions = st.builds(
    lambda epoch, upstream_head, upstream_tail, revision: (
        (f"{epoch}:" if epoch is not None else "")
        + upstream_head
        + upstream_tail
        + (f"-{revision}" if revision else "")
    ),
    st.none() | st.integers(0, 3),
    st.sampled_from("0123456789"),
    st.text(_DEB_CHARS, max_size=6),
    st.none() | st.text(_DEB_CHARS, min_size=1, max_size=5),
)


def _dpkg(left: str, right: str) -> int:
    for operator, result in (("lt", -1), ("eq", 0)):
        if subprocess.run(["dpkg", "--compare-versions", left, operator, right], check=False).returncode == 0:
            return result
    return 1


@pytest.mark.requires_tool("dpkg")
@PROPERTY_SETTINGS
@given(debian_versions, debian_versions)
def test_debian_matches_dpkg(left: str, right: str) -> None:
    assert compare_versions(Ecosystem.DEB, left, right) == _dpkg(left, right), (left, right)


# --- RPM: rpm's own vercmp is the oracle -------------------------------------------------------

_RPM_CHARS = "0123456789.abzA~^_+"
rpm_versions = st.builds(
    lambda epoch, version, release: (f"{epoch}:" if epoch is not None else "") + version + f"-{release}",
    st.none() | st.integers(0, 3),
    st.text(_RPM_CHARS, min_size=1, max_size=6).filter(lambda v: v[0].isalnum()),
    st.text(_RPM_CHARS, min_size=1, max_size=6).filter(lambda v: v[0].isalnum()),
)


def _rpm_vercmp(pairs: list[tuple[str, str]]) -> list[int]:
    script = " ".join(f"print(rpm.vercmp('{a}', '{b}')) print(' ')" for a, b in pairs)
    output = subprocess.run(["rpm", "--eval", f"%{{lua: {script}}}"], capture_output=True, text=True, check=True)
    return [int(token) for token in output.stdout.split()]


@pytest.mark.requires_tool("rpm")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(rpm_versions, rpm_versions), min_size=1, max_size=20))
def test_rpm_matches_rpm_vercmp(pairs: list[tuple[str, str]]) -> None:
    expected = _rpm_vercmp(pairs)
    for (left, right), oracle in zip(pairs, expected, strict=True):
        assert compare_versions(Ecosystem.RPM, left, right) == _sign(oracle), (left, right)


def test_rpm_missing_epoch_is_zero() -> None:
    assert compare_versions(Ecosystem.RPM, "0:1.0-1.el9", "1.0-1.el9") == 0
    assert compare_versions(Ecosystem.RPM, "1:0.1-1", "9.9-1") == 1


@pytest.mark.requires_tool("rpm")
def test_rpm_agrees_that_a_missing_epoch_is_zero() -> None:
    assert _rpm_vercmp([("0:1.0-1.el9", "1.0-1.el9")]) == [0]


# --- apk: univers' Gentoo comparator on the versions both read --------------------------------

apk_versions = st.builds(
    lambda numbers, letter, suffixes, revision: (
        ".".join(str(n) for n in numbers)
        + letter
        + "".join(f"_{name}{number if number is not None else ''}" for name, number in suffixes)
        + (f"-r{revision}" if revision is not None else "")
    ),
    st.lists(st.integers(0, 20), min_size=1, max_size=4),
    st.sampled_from(["", "", "a", "k"]),
    st.lists(
        st.tuples(st.sampled_from(["alpha", "beta", "pre", "rc", "p"]), st.none() | st.integers(0, 12)),
        max_size=2,
    ),
    st.none() | st.integers(0, 5),
)


def _gentoo(left: str, right: str) -> int:
    a, b = GentooVersion(left), GentooVersion(right)
    return -1 if a < b else 1 if a > b else 0


@PROPERTY_SETTINGS
@given(apk_versions, apk_versions)
def test_apk_matches_gentoo_rules(left: str, right: str) -> None:
    assert compare_versions(Ecosystem.APK, left, right) == _gentoo(left, right), (left, right)


@pytest.mark.parametrize(
    "ordered",
    [
        [
            "1.0_alpha1",
            "1.0_beta",
            "1.0_pre2",
            "1.0_rc1",
            "1.0",
            "1.0_cvs1",
            "1.0_svn1",
            "1.0_git20240101",
            "1.0_hg1",
            "1.0_p1",
        ],
        ["0_git20230101-r0", "0_git20230102-r0", "0.1-r0"],
        ["1.2.3-r0", "1.2.3-r1", "1.2.3-r10", "1.2.3a-r0", "1.2.4_rc1-r0", "1.2.4-r0"],
        ["1.9-r0", "1.10-r0", "1.10.0-r0"],
    ],
)
def test_apk_documented_orderings(ordered: list[str]) -> None:
    shuffled = list(reversed(ordered))
    result = sorted(shuffled, key=cmp_to_key(lambda a, b: compare_versions(Ecosystem.APK, a, b)))
    assert result == ordered


# --- PEP 440: a model of the ordering rules -----------------------------------------------------

pep440_parts = st.tuples(
    st.integers(0, 2),
    st.lists(st.integers(0, 12), min_size=1, max_size=4),
    st.none() | st.tuples(st.sampled_from(["a", "b", "rc"]), st.integers(0, 5)),
    st.none() | st.integers(0, 5),
    st.none() | st.integers(0, 5),
)


def _pep440_text(parts: tuple[int, list[int], Any, Any, Any]) -> str:
    epoch, release, pre, post, dev = parts
    text = (f"{epoch}!" if epoch else "") + ".".join(map(str, release))
    text += f"{pre[0]}{pre[1]}" if pre else ""
    text += f".post{post}" if post is not None else ""
    text += f".dev{dev}" if dev is not None else ""
    return text


def _pep440_key(parts: tuple[int, list[int], Any, Any, Any]) -> tuple[Any, ...]:
    epoch, release, pre, post, dev = parts
    trimmed = list(release)
    while len(trimmed) > 1 and trimmed[-1] == 0:
        trimmed.pop()
    if pre is None and post is None and dev is not None:
        pre_key: tuple[Any, ...] = (0,)  # a bare dev release sorts before every pre-release
    elif pre is not None:
        pre_key = (1, ["a", "b", "rc"].index(pre[0]), pre[1])
    else:
        pre_key = (2,)
    post_key = (0,) if post is None else (1, post)
    dev_key = (1,) if dev is None else (0, dev)
    return (epoch, trimmed, pre_key, post_key, dev_key)


@PROPERTY_SETTINGS
@given(pep440_parts, pep440_parts)
def test_pep440_matches_the_model(left: Any, right: Any) -> None:
    expected = _sign((_pep440_key(left) > _pep440_key(right)) - (_pep440_key(left) < _pep440_key(right)))
    assert compare_versions(Ecosystem.PYPI, _pep440_text(left), _pep440_text(right)) == expected


# --- semver (npm, crates.io, Go): a model of semver 2.0.0 section 11 ------------------------

identifiers = st.one_of(st.integers(0, 20).map(str), st.sampled_from(["alpha", "beta", "rc", "RC", "a1", "x-y"]))
semver_parts = st.tuples(
    _digits(0, 5),
    _digits(0, 5),
    _digits(0, 5),
    st.lists(identifiers, max_size=3),
    st.none() | st.sampled_from(["b1", "build.7"]),
)


def _semver_text(parts: tuple[int, int, int, list[str], str | None], prefix: str = "") -> str:
    major, minor, patch, pre, build = parts
    return f"{prefix}{major}.{minor}.{patch}" + (f"-{'.'.join(pre)}" if pre else "") + (f"+{build}" if build else "")


def _semver_compare(left: tuple[int, int, int, list[str], Any], right: tuple[int, int, int, list[str], Any]) -> int:
    if left[:3] != right[:3]:
        return -1 if left[:3] < right[:3] else 1
    a, b = left[3], right[3]
    if not a or not b:
        return (not a) - (not b)
    for x, y in zip(a, b, strict=False):
        if x == y:
            continue
        if x.isdigit() and y.isdigit():
            return -1 if int(x) < int(y) else 1
        if x.isdigit() != y.isdigit():
            return -1 if x.isdigit() else 1
        return -1 if x < y else 1
    return _sign(len(a) - len(b))


@PROPERTY_SETTINGS
@given(semver_parts, semver_parts, st.sampled_from([Ecosystem.NPM, Ecosystem.CARGO, Ecosystem.GOLANG]))
def test_semver_matches_the_specification(left: Any, right: Any, ecosystem: Ecosystem) -> None:
    prefix = "v" if ecosystem is Ecosystem.GOLANG else ""
    result = compare_versions(ecosystem, _semver_text(left, prefix), _semver_text(right, prefix))
    assert result == _semver_compare(left, right), (_semver_text(left), _semver_text(right))


# --- Maven: numbers (trailing zeros ignored) then the qualifier order ------------------------

_MAVEN_QUALIFIERS = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"]
maven_parts = st.tuples(
    st.lists(st.integers(0, 9), min_size=3, max_size=3),
    st.sampled_from(_MAVEN_QUALIFIERS),
    st.integers(1, 12),
)


def _maven_text(parts: tuple[list[int], str, int]) -> str:
    numbers, qualifier, number = parts
    text = ".".join(map(str, numbers))
    return text if not qualifier else f"{text}-{qualifier}-{number}"


def _maven_key(parts: tuple[list[int], str, int]) -> tuple[Any, ...]:
    numbers, qualifier, number = parts
    trimmed = list(numbers)
    while trimmed and trimmed[-1] == 0:
        trimmed.pop()
    return (trimmed, _MAVEN_QUALIFIERS.index(qualifier), number if qualifier else 0)


@PROPERTY_SETTINGS
@given(maven_parts, maven_parts)
def test_maven_matches_the_model(left: Any, right: Any) -> None:
    a, b = _maven_key(left), _maven_key(right)
    assert compare_versions(Ecosystem.MAVEN, _maven_text(left), _maven_text(right)) == _sign((a > b) - (a < b))


# --- RubyGems: numeric segments, then a prerelease (letters) sorts before the release -----------

gem_parts = st.tuples(
    st.lists(st.integers(0, 9), min_size=1, max_size=4),
    st.none() | st.tuples(st.sampled_from(["alpha", "beta", "pre", "rc"]), st.integers(0, 9)),
)


def _gem_text(parts: tuple[list[int], Any]) -> str:
    numbers, pre = parts
    return ".".join(map(str, numbers)) + (f".{pre[0]}{pre[1]}" if pre else "")


def _gem_key(parts: tuple[list[int], Any]) -> tuple[Any, ...]:
    numbers, pre = parts
    trimmed = list(numbers)
    while trimmed and trimmed[-1] == 0:
        trimmed.pop()
    return (trimmed, (0, pre[0], pre[1]) if pre else (1,))


@PROPERTY_SETTINGS
@given(gem_parts, gem_parts)
def test_rubygems_matches_the_model(left: Any, right: Any) -> None:
    a, b = _gem_key(left), _gem_key(right)
    assert compare_versions(Ecosystem.GEM, _gem_text(left), _gem_text(right)) == _sign((a > b) - (a < b))


# --- NuGet: four numbers (missing ones are 0), then semver prerelease, case-insensitive ---------

nuget_parts = st.tuples(
    st.lists(st.integers(0, 9), min_size=2, max_size=4),
    st.lists(st.one_of(st.integers(0, 12).map(str), st.sampled_from(["alpha", "Beta", "rc"])), max_size=2),
)


def _nuget_text(parts: tuple[list[int], list[str]]) -> str:
    numbers, pre = parts
    return ".".join(map(str, numbers)) + (f"-{'.'.join(pre)}" if pre else "")


def _nuget_compare(left: tuple[list[int], list[str]], right: tuple[list[int], list[str]]) -> int:
    a_numbers = (left[0] + [0, 0, 0, 0])[:4]
    b_numbers = (right[0] + [0, 0, 0, 0])[:4]
    if a_numbers != b_numbers:
        return -1 if a_numbers < b_numbers else 1
    lowered = ([p.lower() for p in left[1]], 0, 0, [p.lower() for p in right[1]], 0)
    return _semver_compare((0, 0, 0, lowered[0], None), (0, 0, 0, lowered[3], None))


@PROPERTY_SETTINGS
@given(nuget_parts, nuget_parts)
def test_nuget_matches_the_model(left: Any, right: Any) -> None:
    assert compare_versions(Ecosystem.NUGET, _nuget_text(left), _nuget_text(right)) == _nuget_compare(left, right)


# --- Composer: PHP's version_compare on Composer-normalised versions ---------------------------

composer_parts = st.tuples(
    st.lists(st.integers(0, 12), min_size=1, max_size=4),
    st.sampled_from(["", "alpha", "beta", "RC", "rc", "patch", "stable"]),
    st.integers(0, 12),
    st.booleans(),
)


def _composer_text(parts: tuple[list[int], str, int, bool]) -> str:
    numbers, stability, number, v_prefix = parts
    text = ("v" if v_prefix else "") + ".".join(map(str, numbers))
    return text + (f"-{stability}{number}" if stability else "")


_PHP_SPECIAL = {"dev": 0, "alpha": 1, "a": 1, "beta": 2, "b": 2, "RC": 3, "rc": 3, "#": 4, "pl": 5, "p": 5}


def _php_version_compare(left: str, right: str) -> int:
    """PHP's version_compare: canonicalise, split on dots, compare numbers / special words."""

    def canonical(text: str) -> list[str]:
        text = re.sub(r"[-_+]", ".", text)
        text = re.sub(r"(?<=\d)(?=[^\d.])|(?<=[^\d.])(?=\d)", ".", text)
        return [part for part in text.split(".") if part]

    def order(token: str) -> int:
        return _PHP_SPECIAL.get(token, -6)

    a, b = canonical(left), canonical(right)
    for x, y in zip(a, b, strict=False):
        if x.isdigit() and y.isdigit():
            result = _sign(int(x) - int(y))
        elif not x.isdigit() and not y.isdigit():
            result = _sign(order(x) - order(y))
        elif x.isdigit():
            result = _sign(order("#") - order(y))
        else:
            result = _sign(order(x) - order("#"))
        if result:
            return result
    if len(a) == len(b):
        return 0
    longer, sign = (a, 1) if len(a) > len(b) else (b, -1)
    extra = longer[min(len(a), len(b))]
    return sign * (1 if extra.isdigit() else _sign(order(extra) - order("#")))


def _composer_normalise(parts: tuple[list[int], str, int, bool]) -> str:
    numbers, stability, number, _ = parts
    text = ".".join(map(str, ([*numbers, 0, 0, 0, 0])[:4]))
    if stability in ("", "stable"):
        return text
    return f"{text}-{ {'patch': 'p'}.get(stability, stability) }{number}".replace(" ", "")


@PROPERTY_SETTINGS
@given(composer_parts, composer_parts)
def test_composer_matches_php_version_compare(left: Any, right: Any) -> None:
    expected = _php_version_compare(_composer_normalise(left), _composer_normalise(right))
    assert compare_versions(Ecosystem.COMPOSER, _composer_text(left), _composer_text(right)) == expected


# --- every scheme: a total order (antisymmetric, transitive) on what it accepts ---------------

_ANY_VERSION = st.text("0123456789.-_+~^:abcrpv", min_size=1, max_size=10)


@PROPERTY_SETTINGS
@given(st.sampled_from(list(Ecosystem)), st.lists(_ANY_VERSION, min_size=3, max_size=6))
@example(Ecosystem.NUGET, ["v", "1.0", "v1"])  # univers parsed a lone "v" into None, which does not compare
@example(Ecosystem.MAVEN, [".b58", "0", "b.4"])  # univers (and Maven 3.9): .b58 <= 0 <= b.4 < .b58
@example(Ecosystem.MAVEN, ["1.0.rc.1", "1", "1.a.1"])  # Maven's own: 1.0.rc.1 < 1 < 1.a.1 < 1.0.rc.1
def test_every_scheme_orders_consistently(ecosystem: Ecosystem, texts: list[str]) -> None:
    scheme = SCHEMES[ecosystem]
    parsed = []
    for text in texts:
        try:
            parsed.append(scheme.parse(text))
        except Exception as error:
            assert type(error).__name__ == "VersionSyntaxError", f"{text!r} raised {error!r}"
    compare: Callable[[Any, Any], int] = compare_parsed
    for a in parsed:
        assert compare(a, a) == 0
        for b in parsed:
            assert compare(a, b) == -compare(b, a)
            for c in parsed:
                if compare(a, b) <= 0 and compare(b, c) <= 0:
                    assert compare(a, c) <= 0
