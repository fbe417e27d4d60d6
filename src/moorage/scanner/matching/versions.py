"""Version comparison per ecosystem.

Each ``VersionScheme`` parses a version string once (``parse``) into an object that compares with
``<`` / ``>`` / ``==`` the way its ecosystem orders versions, so that ranges can be precompiled.

- univers parses and orders Debian, RPM, PEP 440, semver (npm, crates.io, Go), RubyGems and
  NuGet; the scheme keeps univers' inner value, whose comparisons skip the attrs wrapper.
- apk, Maven and Composer have parsers of their own (``apk_versions``, ``maven_versions``,
  ``ComposerScheme``): univers' reading of them is wrong (Maven's is not even transitive).
- Semver: univers' objects carrying build metadata (``+...``) compare neither less, greater nor
  equal; semver ignores build metadata, so it is dropped first.
- Go: toolchain versions spelled ``go1.21.3`` lose the ``go`` prefix.

Only ``<``, ``>`` and ``==`` of the parsed objects are used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from univers import versions as univers_versions

from moorage.scanner.advisories.errors import VersionSyntaxError
from moorage.scanner.inventory import Ecosystem
from moorage.scanner.matching.apk_versions import parse_apk_version
from moorage.scanner.matching.maven_versions import parse_maven_version
from moorage.scanner.matching.version_text import checked_version_text


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


@dataclass(frozen=True, slots=True)
class UniversScheme:
    """A scheme backed by one univers ``Version`` class."""

    name: str
    """Short name for messages."""
    version_class: Any
    """The univers class that parses and orders."""

    def parse(self, text: str) -> Any:
        """Parse with univers; every univers failure becomes ``VersionSyntaxError``.

        Returns univers' inner ``value`` (packaging's ``Version``, univers' NuGet / gem objects),
        whose comparisons skip the attrs wrapper and cost a tenth as much.
        """
        checked_version_text(text, self.name)
        try:
            value = self.version_class(text).value
        except Exception as error:  # univers raises ValueError, TypeError, InvalidVersion...
            raise VersionSyntaxError(f"{text!r} is not a {self.name} version: {error}") from error
        if value is None:  # univers' NuGet reads a lone "v" (its prefix) as no version at all
            raise VersionSyntaxError(f"{text!r} is not a {self.name} version: nothing after the prefix")
        return value


@dataclass(frozen=True, slots=True)
class ApkScheme:
    """Alpine apk versions (own parser, see ``apk_versions``)."""

    name: str = "apk"

    def parse(self, text: str) -> Any:
        """Parse an apk version."""
        return parse_apk_version(checked_version_text(text, self.name))


@dataclass(frozen=True, slots=True)
class MavenScheme:
    """Maven versions (own parser, see ``maven_versions``)."""

    name: str = "maven"

    def parse(self, text: str) -> Any:
        """Parse a Maven version; Maven reads any string, so only the common checks refuse."""
        return parse_maven_version(checked_version_text(text, self.name))


def _parse_semver(text: str, scheme: str, version_class: Any) -> Any:
    """Parse a semver-like version with univers, build metadata dropped.

    Semver says build metadata (``+...``) does not take part in ordering; univers' semver objects
    carrying it compare neither less, greater nor equal, so it is removed first, and a version
    that univers only reads by turning extra parts into build metadata is refused.
    """
    bare = text.split("+", 1)[0]
    try:
        parsed = version_class(bare).value
    except Exception as error:
        raise VersionSyntaxError(f"{text!r} is not a {scheme} version: {error}") from error
    if parsed.build:
        raise VersionSyntaxError(f"{text!r} is not a {scheme} version: too many numeric parts")
    return parsed


@dataclass(frozen=True, slots=True)
class SemverScheme:
    """Semantic versions (npm, crates.io) with build metadata ignored."""

    name: str = "semver"

    def parse(self, text: str) -> Any:
        """Parse ``1.2.3``, ``1.2.3-rc.1``, ``1.2.3+build`` (``v`` prefix allowed)."""
        return _parse_semver(checked_version_text(text, self.name), self.name, univers_versions.SemverVersion)


@dataclass(frozen=True, slots=True)
class GoScheme:
    """Go module and toolchain versions: semver with an optional ``v`` or ``go`` prefix."""

    name: str = "go"

    def parse(self, text: str) -> Any:
        """Parse a Go version (``v1.2.3``, ``v0.0.0-2020...-abcdef``, ``go1.21.3``, ``1.21``)."""
        checked_version_text(text, self.name)
        bare = text[2:] if text.startswith("go") else text
        return _parse_semver(bare, self.name, univers_versions.GolangVersion)


_COMPOSER_VERSION = re.compile(
    r"^v?(?P<numbers>\d+(?:\.\d+){0,3})"
    r"(?:[._-]?(?P<stability>stable|beta|b|rc|alpha|a|patch|pl|p)(?P<stability_number>(?:[.-]?\d+)*))?"
    r"(?P<dev>[.-]?dev)?"
    r"(?:\+.*)?$",
    re.IGNORECASE,
)
_COMPOSER_STABILITY = {
    "alpha": 1, "a": 1, "beta": 2, "b": 2, "rc": 3, "": 4, "stable": 4, "patch": 5, "pl": 5, "p": 5,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ComposerScheme:
    """Composer (Packagist) versions, ordered as Composer normalises and compares them.

    Not univers here: univers reads Composer versions as semver, which orders ``RC1`` before
    ``beta2`` (ASCII) and ``alpha10`` before ``alpha2``, and drops a fourth numeric part. Composer
    pads to four numbers (``1.2`` = ``1.2.0.0``) and ranks stabilities
    ``dev < alpha < beta < RC < stable < patch``, numbers after a stability compared as numbers;
    a trailing ``-dev`` sorts before the same version without it. Branch names (``dev-main``)
    are not versions.
    """

    name: str = "composer"

    def parse(self, text: str) -> Any:
        """Parse ``1.2.3``, ``v2.0.0-RC1``, ``1.2.3.4``, ``1.0.0-beta.2``, ``2.1-p1``."""
        checked_version_text(text, self.name)
        found = _COMPOSER_VERSION.match(text)
        if not found:
            raise VersionSyntaxError(f"{text!r} is not a Composer version")
        numbers = [int(part) for part in found.group("numbers").split(".")]
        numbers += [0] * (4 - len(numbers))
        stability = (found.group("stability") or "").lower()
        stability_numbers = tuple(int(n) for n in re.findall(r"\d+", found.group("stability_number") or ""))
        if _COMPOSER_STABILITY[stability] == _COMPOSER_STABILITY["stable"]:
            stability_numbers = ()  # Composer reads ``1.0-stable2`` as ``1.0``
        dev_rank = 0 if found.group("dev") else 1
        return (tuple(numbers), _COMPOSER_STABILITY[stability], stability_numbers, dev_rank)


SCHEMES: dict[Ecosystem, VersionScheme] = {
    Ecosystem.DEB: UniversScheme("deb", univers_versions.DebianVersion),
    Ecosystem.RPM: UniversScheme("rpm", univers_versions.RpmVersion),
    Ecosystem.APK: ApkScheme(),
    Ecosystem.PYPI: UniversScheme("pep440", univers_versions.PypiVersion),
    Ecosystem.NPM: SemverScheme(),
    Ecosystem.CARGO: SemverScheme(),
    Ecosystem.GOLANG: GoScheme(),
    Ecosystem.MAVEN: MavenScheme(),
    Ecosystem.GEM: UniversScheme("rubygems", univers_versions.RubygemsVersion),
    Ecosystem.COMPOSER: ComposerScheme(),
    Ecosystem.NUGET: UniversScheme("nuget", univers_versions.NugetVersion),
}
"""The comparator of each ecosystem."""


SEMVER_SCHEME = SemverScheme()
"""The scheme of OSV ``SEMVER`` ranges outside the semver ecosystems."""

_SEMVER_FAMILY = frozenset({Ecosystem.NPM, Ecosystem.CARGO, Ecosystem.GOLANG})


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
