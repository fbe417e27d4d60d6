"""Comparator edge cases each ecosystem is known for, written out, and bad input refused."""

from __future__ import annotations

from functools import cmp_to_key

import pytest

from moorage.scanner.advisories.errors import VersionSyntaxError
from moorage.scanner.inventory import Ecosystem
from moorage.scanner.matching.versions import ParsedVersionCache, compare_versions, scheme_for

ORDERED = {
    Ecosystem.DEB: [
        "1.0~alpha",
        "1.0~rc1",
        "1.0",
        "1.0-0.1",
        "1.0-1",
        "1.0-1+b1",
        "1.0-1+deb12u1",
        "1.0a",
        "1.0.1",
        "1:0.9",
    ],
    Ecosystem.RPM: [
        "1.0~rc1-1",
        "1.0-1",
        "1.0-1.el9",
        "1.0-1.el9_2",
        "1.0-2.el9",
        "1.0^git1-1",
        "1.0.1-1",
        "1:0.5-1",
    ],
    Ecosystem.APK: ["1.0_rc1-r0", "1.0-r0", "1.0-r1", "1.0_p1-r0", "1.0.1-r0"],
    Ecosystem.PYPI: ["1.0.dev1", "1.0a1", "1.0b2", "1.0rc1", "1.0", "1.0.post1", "1.1", "1!0.1"],
    Ecosystem.NPM: [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
    ],
    Ecosystem.GOLANG: [
        "v0.0.0-20200101000000-abcdef123456",
        "v0.0.1",
        "v1.2.3-pre",
        "v1.2.3",
        "go1.21.3",
        "v1.22.0",
    ],
    Ecosystem.MAVEN: ["1.0-alpha-1", "1.0-beta-1", "1.0-rc-1", "1.0-SNAPSHOT", "1.0", "1.0-sp-1", "1.0.1"],
    Ecosystem.GEM: ["1.0.0.alpha", "1.0.0.pre1", "1.0.0.rc1", "1.0.0", "1.0.0.1", "1.1"],
    Ecosystem.COMPOSER: [
        "1.0.0-alpha2",
        "1.0.0-alpha10",
        "1.0.0-beta1",
        "1.0.0-RC1",
        "1.0.0",
        "1.0.0-p1",
        "1.0.0.1",
    ],
    Ecosystem.NUGET: ["1.0.0-alpha", "1.0.0-Beta", "1.0.0-rc.1", "1.0.0", "1.0.0.1", "1.0.1"],
    Ecosystem.CARGO: ["0.9.9", "1.0.0-rc.1", "1.0.0"],
}

EQUAL = {
    Ecosystem.DEB: [("0:1.0-1", "1.0-1")],
    Ecosystem.RPM: [("0:1.0-1", "1.0-1")],
    Ecosystem.PYPI: [("1.0", "1.0.0"), ("1.0RC1", "1.0rc1"), ("v1.0", "1.0")],
    Ecosystem.NPM: [("1.0.0+build.1", "1.0.0+build.2"), ("v1.0.0", "1.0.0")],
    Ecosystem.GOLANG: [("v1.2.3+incompatible", "v1.2.3"), ("go1.21.0", "v1.21.0")],
    Ecosystem.MAVEN: [("1.0", "1.0.0"), ("1-0", "1")],
    Ecosystem.COMPOSER: [("1.2", "1.2.0.0"), ("v1.2.3", "1.2.3"), ("1.0-stable", "1.0")],
    Ecosystem.NUGET: [("1.0", "1.0.0.0")],
    Ecosystem.GEM: [("1.0", "1.0.0")],
}


@pytest.mark.parametrize("ecosystem", list(ORDERED))
def test_documented_orderings(ecosystem: Ecosystem) -> None:
    ordered = ORDERED[ecosystem]
    result = sorted(reversed(ordered), key=cmp_to_key(lambda a, b: compare_versions(ecosystem, a, b)))
    assert result == ordered


@pytest.mark.parametrize(("ecosystem", "pair"), [(e, p) for e, pairs in EQUAL.items() for p in pairs])
def test_spellings_of_the_same_version(ecosystem: Ecosystem, pair: tuple[str, str]) -> None:
    assert compare_versions(ecosystem, *pair) == 0


@pytest.mark.parametrize(
    ("ecosystem", "text"),
    [
        (Ecosystem.DEB, "a1.0"),
        (Ecosystem.PYPI, "2004d"),
        (Ecosystem.NPM, "1.0.0.0.0"),
        (Ecosystem.APK, "1.0.-r1"),
        (Ecosystem.APK, "2.7.16-33"),
        (Ecosystem.COMPOSER, "dev-main"),
        (Ecosystem.RPM, "x:1.0-1"),
        (Ecosystem.NUGET, "abc"),
        (Ecosystem.GOLANG, "master"),
        (Ecosystem.MAVEN, ""),
        (Ecosystem.DEB, " 1.0"),
        (Ecosystem.DEB, "1.0\x00"),
        (Ecosystem.PYPI, "1" * 300),
    ],
)
def test_bad_versions_raise_version_syntax_error(ecosystem: Ecosystem, text: str) -> None:
    with pytest.raises(VersionSyntaxError):
        scheme_for(ecosystem).parse(text)


def test_semver_ranges_outside_semver_ecosystems_compare_as_semver() -> None:
    assert scheme_for(Ecosystem.PYPI, "SEMVER").name == "semver"
    assert scheme_for(Ecosystem.GOLANG, "SEMVER").name == "go"
    assert scheme_for(Ecosystem.PYPI, "ECOSYSTEM").name == "pep440"


def test_parse_cache_remembers_failures_and_results() -> None:
    cache = ParsedVersionCache(limit=2)
    scheme = scheme_for(Ecosystem.PYPI)
    first = cache.parse(scheme, "1.0")
    assert cache.parse(scheme, "1.0") is first
    for _ in range(2):
        with pytest.raises(VersionSyntaxError):
            cache.parse(scheme, "not-a-version")
    cache.parse(scheme, "2.0")  # over the limit: cleared, still correct
    assert cache.parse(scheme, "1.0") == first
