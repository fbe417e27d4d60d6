"""Version comparison per ecosystem.

Each ``VersionScheme`` parses a version string once (``parse``) into an object that compares with
``<`` / ``>`` / ``==`` the way its ecosystem orders versions, so that ranges can be precompiled.
The comparators are univers' (Debian, RPM, PEP 440, semver, Go, Maven, RubyGems, NuGet,
Composer), except apk (see ``apk_versions``). Where univers differs from the ecosystem, the scheme
corrects it and says how:

- Semver (npm, crates.io, Go, Composer): univers' objects carrying build metadata (``+...``)
  compare neither less, greater nor equal; semver ignores build metadata, so it is dropped first.
- Composer: univers reads ``1.2.3.4`` as ``1.2.3+4``; the fourth part is split off and breaks ties.
- Go: toolchain versions spelled ``go1.21.3`` lose the ``go`` prefix.

Only ``<``, ``>`` and ``==`` of the parsed objects are used (univers' Gentoo-based ``<=`` compares
strings).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from univers import versions as univers_versions

from moorage.scanner.advisories.errors import VersionSyntaxError
from moorage.scanner.inventory import Ecosystem
from moorage.scanner.matching.apk_versions import parse_apk_version

MAX_VERSION_LENGTH = 256
"""Longer version strings are refused: no ecosystem needs them, and feeds are not trusted."""


class VersionScheme(Protocol):
    """How one ecosystem reads and orders its version strings."""

    @property
    def name(self) -> str:
        """Short name for messages (``deb``, ``pep440``)."""
        ...

    def parse(self, text: str) -> Any:
        """Parse ``text`` into an object ordered by ``<``, ``>``, ``==``; raise ``VersionSyntaxError``."""
        ...


def compare_parsed(left: Any, right: Any) -> int:
    """-1, 0 or 1 for two versions parsed by the same scheme."""
    if left < right:
        return -1
    if left > right:
        return 1
    return 0


def _checked(text: str, scheme: str) -> str:
    if not text or len(text) > MAX_VERSION_LENGTH or not text.isprintable() or text != text.strip():
        raise VersionSyntaxError(f"{text[:80]!r} is not a {scheme} version")
    return text


@dataclass(frozen=True, slots=True)
class UniversScheme:
    """A scheme backed by one univers ``Version`` class."""

    name: str
    """Short name for messages."""
    version_class: Any
    """The univers class that parses and orders."""

    def parse(self, text: str) -> Any:
        """Parse with univers; every univers failure becomes ``VersionSyntaxError``."""
        _checked(text, self.name)
        try:
            return self.version_class(text)
        except Exception as error:  # univers raises ValueError, TypeError, InvalidVersion...
            raise VersionSyntaxError(f"{text!r} is not a {self.name} version: {error}") from error


@dataclass(frozen=True, slots=True)
class ApkScheme:
    """Alpine apk versions (own parser, see ``apk_versions``)."""

    name: str = "apk"

    def parse(self, text: str) -> Any:
        """Parse an apk version."""
        return parse_apk_version(_checked(text, self.name))


def _parse_semver(text: str, scheme: str, version_class: Any) -> Any:
    """Parse a semver-like version with univers, build metadata dropped.

    Semver says build metadata (``+...``) does not take part in ordering; univers' semver objects
    carrying it compare neither less, greater nor equal, so it is removed first, and a version
    that univers only reads by turning extra parts into build metadata is refused.
    """
    bare = text.split("+", 1)[0]
    try:
        parsed = version_class(bare)
    except Exception as error:
        raise VersionSyntaxError(f"{text!r} is not a {scheme} version: {error}") from error
    if parsed.value.build:
        raise VersionSyntaxError(f"{text!r} is not a {scheme} version: too many numeric parts")
    return parsed


@dataclass(frozen=True, slots=True)
class SemverScheme:
    """Semantic versions (npm, crates.io) with build metadata ignored."""

    name: str = "semver"

    def parse(self, text: str) -> Any:
        """Parse ``1.2.3``, ``1.2.3-rc.1``, ``1.2.3+build`` (``v`` prefix allowed)."""
        return _parse_semver(_checked(text, self.name), self.name, univers_versions.SemverVersion)


@dataclass(frozen=True, slots=True)
class GoScheme:
    """Go module and toolchain versions: semver with an optional ``v`` or ``go`` prefix."""

    name: str = "go"

    def parse(self, text: str) -> Any:
        """Parse a Go version (``v1.2.3``, ``v0.0.0-2020...-abcdef``, ``go1.21.3``, ``1.21``)."""
        _checked(text, self.name)
        bare = text[2:] if text.startswith("go") else text
        return _parse_semver(bare, self.name, univers_versions.GolangVersion)


@dataclass(frozen=True, slots=True, order=False)
class _ComposerVersion:
    base: Any
    fourth: int

    def __lt__(self, other: _ComposerVersion) -> bool:
        return bool(self.base < other.base) or (bool(self.base == other.base) and self.fourth < other.fourth)

    def __gt__(self, other: _ComposerVersion) -> bool:
        return bool(self.base > other.base) or (bool(self.base == other.base) and self.fourth > other.fourth)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _ComposerVersion):
            return NotImplemented
        return bool(self.base == other.base) and self.fourth == other.fourth

    def __hash__(self) -> int:
        return hash(self.fourth)


_FOUR_PARTS = re.compile(r"^(v?\d+\.\d+\.\d+)\.(\d+)(.*)$")


@dataclass(frozen=True, slots=True)
class ComposerScheme:
    """Composer (Packagist) versions: univers' semver reading plus an optional fourth numeric part."""

    name: str = "composer"

    def parse(self, text: str) -> Any:
        """Parse a Composer version (``1.2.3``, ``v2.0.0-RC1``, ``1.2.3.4``)."""
        _checked(text, self.name)
        found = _FOUR_PARTS.match(text)
        if found:
            base_text, fourth = found.group(1) + found.group(3), int(found.group(2))
        else:
            base_text, fourth = text, 0
        base = _parse_semver(base_text, self.name, univers_versions.ComposerVersion)
        return _ComposerVersion(base, fourth)


SCHEMES: dict[Ecosystem, VersionScheme] = {
    Ecosystem.DEB: UniversScheme("deb", univers_versions.DebianVersion),
    Ecosystem.RPM: UniversScheme("rpm", univers_versions.RpmVersion),
    Ecosystem.APK: ApkScheme(),
    Ecosystem.PYPI: UniversScheme("pep440", univers_versions.PypiVersion),
    Ecosystem.NPM: SemverScheme(),
    Ecosystem.CARGO: SemverScheme(),
    Ecosystem.GOLANG: GoScheme(),
    Ecosystem.MAVEN: UniversScheme("maven", univers_versions.MavenVersion),
    Ecosystem.GEM: UniversScheme("rubygems", univers_versions.RubygemsVersion),
    Ecosystem.COMPOSER: ComposerScheme(),
    Ecosystem.NUGET: UniversScheme("nuget", univers_versions.NugetVersion),
}
"""The comparator of each ecosystem."""


SEMVER_SCHEME = SemverScheme()
"""The scheme of OSV ``SEMVER`` ranges outside the semver ecosystems."""

_SEMVER_FAMILY = frozenset({Ecosystem.NPM, Ecosystem.CARGO, Ecosystem.GOLANG, Ecosystem.COMPOSER})


def scheme_for(ecosystem: Ecosystem, range_type: str = "ECOSYSTEM") -> VersionScheme:
    """The version scheme of ``ecosystem``; an OSV ``SEMVER`` range elsewhere compares as semver."""
    if range_type == "SEMVER" and ecosystem not in _SEMVER_FAMILY:
        return SEMVER_SCHEME
    return SCHEMES[ecosystem]


def compare_versions(ecosystem: Ecosystem, left: str, right: str) -> int:
    """-1, 0 or 1: how ``left`` orders against ``right`` in ``ecosystem``."""
    scheme = SCHEMES[ecosystem]
    return compare_parsed(scheme.parse(left), scheme.parse(right))


def is_valid_version(ecosystem: Ecosystem, text: str) -> bool:
    """Whether ``text`` is a version ``ecosystem``'s comparator can read."""
    try:
        SCHEMES[ecosystem].parse(text)
    except VersionSyntaxError:
        return False
    return True


class ParsedVersionCache:
    """Parses each (scheme, version) once per matching run; remembers failures too."""

    def __init__(self, limit: int = 500_000) -> None:
        self._parsed: dict[tuple[str, str], Any] = {}
        self._limit = limit

    def parse(self, scheme: VersionScheme, text: str) -> Any:
        """The parsed version, or raise ``VersionSyntaxError`` (also for a remembered failure)."""
        key = (scheme.name, text)
        try:
            value = self._parsed[key]
        except KeyError:
            if len(self._parsed) >= self._limit:
                self._parsed.clear()
            try:
                value = scheme.parse(text)
            except VersionSyntaxError as error:
                value = error
            self._parsed[key] = value
        if isinstance(value, VersionSyntaxError):
            raise value
        return value
