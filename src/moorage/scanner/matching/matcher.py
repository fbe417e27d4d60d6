"""The matcher: an inventory (packages and distribution) against the advisory database.

It needs nothing but the packages and the distribution, so a stored inventory is re-matched
against a new database without reading a layer. Packages are grouped by scope, each scope's
candidate rows are fetched in one indexed query per 500 names, every affected row is compiled
once (versions parsed and sorted), and each package's version is tested against its candidates.

OS packages are looked up by the source package name first (distributions track sources), then
by the binary name for records that do not name the source. A Debian source match compares the
source version (a binNMU ``+b1`` binary carries its source's fix). An image's distribution is
matched against its own release's records; RHEL rebuilds fall back to RHEL's when the database
has none of their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from moorage.scanner.advisories.errors import VersionSyntaxError
from moorage.scanner.advisories.records import AdvisoryRecord, AffectedPackage, NameKind
from moorage.scanner.advisories.scopes import (
    DISTRO_ECOSYSTEMS,
    normalise_name,
    package_key,
    scopes_for_distro,
    source_package_name,
)
from moorage.scanner.advisories.store import AdvisoryStore, RawAffectedRow
from moorage.scanner.inventory import Distro, Ecosystem, Package
from moorage.scanner.matching.assemble import RecordMatch, build_finding, cve_ids, group_by_alias
from moorage.scanner.matching.findings import VulnerabilityFinding, sort_findings
from moorage.scanner.matching.ranges import CompiledAffected, RangeHit
from moorage.scanner.matching.severity import CvssScore
from moorage.scanner.matching.versions import ParsedVersionCache

OS_ECOSYSTEMS = frozenset({Ecosystem.DEB, Ecosystem.APK, Ecosystem.RPM})
NO_MAVEN_GROUP = "no Maven group id (named by its manifest or file only): not matched by artifact name alone"
"""Why a Java archive without a declared group id is never matched: Maven advisories name
``group:artifact``, and an artifact name alone would match other groups' artifacts."""
MAX_COMPILED = 200_000
"""Compiled affected rows kept between runs of one matcher (re-matching many inventories)."""


@dataclass(frozen=True, slots=True)
class SkippedPackage:
    """A package that could not be matched, and why (never silently dropped)."""

    package: Package
    reason: str


@dataclass(frozen=True, slots=True)
class MatchResult:
    """Findings of one matching run, with what could not be matched."""

    findings: tuple[VulnerabilityFinding, ...]
    """Most severe first."""
    skipped: tuple[SkippedPackage, ...]
    """Packages not matched (unsupported distribution, unreadable version...)."""
    problems: tuple[str, ...]
    """Advisory rows that could not be evaluated (an unreadable range), deduplicated."""
    database_built_at: str
    """``built_at`` of the database used, for the report."""


@dataclass(frozen=True, slots=True)
class _Lookup:
    package: Package
    scope: str
    names: tuple[tuple[str, NameKind], ...]
    """(normalised name, which name of the package it is) in preference order."""


@dataclass(frozen=True, slots=True)
class _RowHit:
    row_key: int
    advisory_key: int
    affected: AffectedPackage
    name_kind: NameKind
    """Which of the package's names found the row."""
    compared_version: str
    hit: RangeHit


class Matcher:
    """Matches inventories against one open ``AdvisoryStore``; reuse it for many inventories."""

    def __init__(self, store: AdvisoryStore) -> None:
        self.store = store
        self._versions = ParsedVersionCache()
        self._compiled: dict[int, CompiledAffected] = {}
        self._scores: dict[str, CvssScore | None] = {}
        self._known_scopes = set(store.scope_counts())

    def _os_scope(self, distro: Distro | None, ecosystem: Ecosystem) -> str | None:
        if distro is None:
            return None
        for candidate in scopes_for_distro(distro):
            if candidate.ecosystem is ecosystem and candidate.scope in self._known_scopes:
                return candidate.scope
        return None

    def _lookups(
        self, packages: Iterable[Package], distro: Distro | None
    ) -> tuple[list[_Lookup], list[SkippedPackage]]:
        lookups: list[_Lookup] = []
        skipped: list[SkippedPackage] = []
        for package in packages:
            if package.ecosystem in OS_ECOSYSTEMS:
                scope = self._os_scope(distro, package.ecosystem)
                if scope is None:
                    reason = _no_os_scope_reason(distro, package.ecosystem)
                    skipped.append(SkippedPackage(package, reason))
                    continue
                names: list[tuple[str, NameKind]] = []
                source = source_package_name(package)
                if source:
                    names.append((normalise_name(package.ecosystem, source), NameKind.SOURCE))
                binary = normalise_name(package.ecosystem, package.name)
                if not names or binary != names[0][0]:
                    names.append((binary, NameKind.BINARY))
                lookups.append(_Lookup(package, scope, tuple(names)))
            else:
                scope = package.ecosystem.value
                if package.ecosystem is Ecosystem.MAVEN and not package.namespace and ":" not in package.name:
                    skipped.append(SkippedPackage(package, NO_MAVEN_GROUP))
                    continue
                if scope not in self._known_scopes:
                    skipped.append(SkippedPackage(package, f"the database has no {scope} advisories"))
                    continue
                name = normalise_name(package.ecosystem, package_key(package))
                lookups.append(_Lookup(package, scope, ((name, NameKind.PACKAGE),)))
        return lookups, skipped

    def _compile(self, row: RawAffectedRow, problems: dict[str, None]) -> CompiledAffected:
        compiled = self._compiled.get(row.row_key)
        if compiled is None:
            if len(self._compiled) >= MAX_COMPILED:
                self._compiled.clear()
                self._scores.clear()
            compiled = CompiledAffected(row.decode().affected, self._versions)
            self._compiled[row.row_key] = compiled
        for problem in compiled.problems:
            problems[f"{row.scope} {row.name}: {problem}"] = None
        return compiled

    def match(self, packages: Sequence[Package], distro: Distro | None) -> MatchResult:
        """Match ``packages`` of an image whose OS is ``distro`` (None when there is none)."""
        lookups, skipped = self._lookups(packages, distro)
        names_per_scope: dict[str, set[str]] = {}
        for lookup in lookups:
            names_per_scope.setdefault(lookup.scope, set()).update(name for name, _ in lookup.names)
        rows: dict[tuple[str, str], list[RawAffectedRow]] = {}
        for scope, names in names_per_scope.items():
            for row in self.store.affected_rows(scope, names):
                rows.setdefault((scope, row.name), []).append(row)
        problems: dict[str, None] = {}
        hits: list[tuple[_Lookup, list[_RowHit]]] = []
        for lookup in lookups:
            package_hits, failure = self._evaluate(lookup, rows, problems)
            if failure:
                skipped.append(SkippedPackage(lookup.package, failure))
            if package_hits:
                hits.append((lookup, package_hits))
        headers = self.store.advisories(row_hit.advisory_key for _, found in hits for row_hit in found)
        matches_per_package: list[tuple[Package, list[RecordMatch]]] = []
        for lookup, found in hits:
            matches = [
                RecordMatch(
                    record=headers[row_hit.advisory_key],
                    scope=row_hit.affected.scope,
                    package_name=row_hit.affected.name,
                    name_kind=row_hit.name_kind,
                    compared_version=row_hit.compared_version,
                    hit=row_hit.hit,
                    vendor_severity=row_hit.affected.vendor_severity,
                    note=row_hit.affected.note,
                )
                for row_hit in found
                if row_hit.advisory_key in headers
            ]
            matches_per_package.append((lookup.package, matches))
        nvd = self.store.cve_metadata({i for _, matches in matches_per_package for i in cve_ids(matches)})
        findings = [
            build_finding(package, group, nvd, self._scores)
            for package, matches in matches_per_package
            for group in group_by_alias(matches)
        ]
        return MatchResult(
            findings=tuple(sort_findings(findings)),
            skipped=tuple(skipped),
            problems=tuple(problems),
            database_built_at=self.store.built_at,
        )

    def _evaluate(
        self,
        lookup: _Lookup,
        rows: dict[tuple[str, str], list[RawAffectedRow]],
        problems: dict[str, None],
    ) -> tuple[list[_RowHit], str]:
        """Rows that hold the package's version; a reason when its version could not be read."""
        package = lookup.package
        found: list[_RowHit] = []
        seen_advisories: set[int] = set()
        failure = ""
        for name, name_kind in lookup.names:
            matched_here: set[int] = set()
            for row in rows.get((lookup.scope, name), ()):
                if row.advisory_key in seen_advisories:
                    continue
                compared = _compared_version(package, name_kind)
                compiled = self._compile(row, problems)
                try:
                    hit = compiled.check(compared)
                except VersionSyntaxError as error:
                    failure = f"version not comparable: {error}"
                    continue
                matched_here.add(row.advisory_key)
                if hit is not None:
                    found.append(_RowHit(row.row_key, row.advisory_key, compiled.affected, name_kind, compared, hit))
            # A record that names the source package is not consulted again under the binary name.
            seen_advisories |= matched_here
        return found, failure


def _compared_version(package: Package, name_kind: NameKind) -> str:
    if name_kind is NameKind.SOURCE and package.ecosystem is Ecosystem.DEB and package.source_version:
        return package.source_version
    return package.version


def _no_os_scope_reason(distro: Distro | None, ecosystem: Ecosystem) -> str:
    if distro is None:
        return "no distribution detected for an OS package"
    distro_ecosystem = DISTRO_ECOSYSTEMS.get(distro.id.lower())
    if distro_ecosystem is None:
        return f"distribution {distro.id!r} is not supported"
    if distro_ecosystem is not ecosystem:
        return f"{ecosystem.value} package in a {distro.id} image"
    return f"the database has no advisories for {distro.id} {distro.version_id or distro.codename}".rstrip()


def match_packages(
    packages: Sequence[Package], distro: Distro | None, store: AdvisoryStore
) -> list[VulnerabilityFinding]:
    """Findings for ``packages`` (most severe first); see ``Matcher.match`` for skipped packages."""
    return list(Matcher(store).match(packages, distro).findings)


def records_matching(store: AdvisoryStore, vulnerability_id: str) -> list[AdvisoryRecord]:
    """Every stored record known by ``vulnerability_id`` (its id or an alias), for explanations."""
    return store.find(vulnerability_id)
