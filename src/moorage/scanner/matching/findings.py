"""Vulnerability findings: what matching reports, with a stable JSON form the registry stores.

A finding is one vulnerability (all its ids: a CVE, its GHSA, PYSEC, DSA... merged through
aliases) in one installed package (at one path of one layer). It says what is installed, what
fixes it and the vendor's fix state, how severe it is and where that rating came from, and which
advisory records matched and why, so a person can check the verdict.

JSON form (``to_json`` / ``from_json``; ``FINDING_JSON_SCHEMA`` validates it). Fields are only
ever added, never renamed or removed; ``format_version`` changes only if that rule has to break::

    {
      "format_version": 1,
      "id": "CVE-2021-21330",                  main id: a CVE when there is one
      "aliases": ["GHSA-v6wp-4m6f-gcjg", "PYSEC-2021-76"],
      "package": {"ecosystem": "pypi", "name": "aiohttp", "version": "3.7.3",
                  "purl": "pkg:pypi/aiohttp@3.7.3", "source_name": "", "source_version": "",
                  "layer_digest": "sha256:...", "path": "/usr/lib/python3/.../METADATA"},
      "fixed_version": "3.7.4",                "" when no fix is known
      "fix_state": "fixed",                    fixed | unfixed | will_not_fix | deferred | end_of_life
      "severity": "medium",                    unknown | negligible | low | medium | high | critical
      "severity_source": "osv GHSA-v6wp-4m6f-gcjg",   "<source> <record>", "cvss 3.1", "nvd cvss 3.1"
      "score": 6.1,                            CVSS base score, or null
      "cvss_vector": "CVSS:3.1/AV:N/...",      "" when none
      "title": "...", "description": "...",
      "links": ["https://..."],
      "matched_by": [{"source": "osv", "record_id": "PYSEC-2021-76", "scope": "pypi",
                      "package_name": "aiohttp", "name_kind": "package",
                      "compared_version": "3.7.3", "affected_range": ">=0, <3.7.4",
                      "fixed_version": "3.7.4", "fix_state": "fixed",
                      "reason": "installed 3.7.3 is at or after any version and before fixed 3.7.4",
                      "note": ""}]
    }
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from moorage.scanner.advisories.records import FixState, NameKind, Severity
from moorage.scanner.inventory import Ecosystem

FINDING_FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class MatchEvidence:
    """One advisory record that matched, and why."""

    source: str
    """Importer kind of the record (``osv``, ``debian``, ``alpine``, ``redhat``)."""
    record_id: str
    """The record's own id."""
    scope: str
    """Where it was looked up (``pypi``, ``debian:12``)."""
    package_name: str
    """The package name the record uses."""
    name_kind: NameKind
    """Which of the installed package's names matched it: its source or its binary name (OS
    packages), or its only name (``package``, language ecosystems)."""
    compared_version: str
    """The installed version that was compared (the source version for a Debian source match)."""
    affected_range: str
    """The range that holds it (``>=1.0, <1.4.2``) or ``listed version``."""
    fixed_version: str
    """The record's fix for this version, or empty."""
    fix_state: FixState
    """The record's fix state for this version."""
    reason: str
    """How the version falls in the range, in words."""
    note: str = ""
    """The vendor's note (no-DSA reason, Red Hat remediation, RHSA id)."""


@dataclass(frozen=True, slots=True)
class VulnerabilityFinding:
    """One vulnerability in one installed package."""

    vulnerability_id: str
    """Main id: the first CVE among the ids, else the first GHSA, else the first record's id."""
    aliases: tuple[str, ...]
    """All other ids of the same vulnerability, sorted."""
    ecosystem: Ecosystem
    """Package ecosystem."""
    package_name: str
    """Package name as the inventory has it."""
    installed_version: str
    """Installed version."""
    purl: str
    """Package URL from the inventory."""
    fixed_version: str
    """Version that fixes it (the highest any matching record names), or empty."""
    fix_state: FixState
    """``FIXED`` when a fixed version exists, else the vendor's state."""
    severity: Severity
    """Vendor rating if any, else from the CVSS base score, else ``UNKNOWN``."""
    severity_source: str
    """Where ``severity`` came from: ``<source> <record id>``, ``cvss <version>``, ``nvd cvss <version>``."""
    score: float | None
    """CVSS base score of ``cvss_vector``, if there is one."""
    cvss_vector: str
    """The CVSS vector the score comes from, or empty."""
    title: str
    """One line: the record's summary, else the first sentence of its description."""
    description: str
    """Longer description."""
    links: tuple[str, ...]
    """Advisory, tracker and fix links."""
    matched_by: tuple[MatchEvidence, ...]
    """Each record that matched, and why."""
    source_name: str = ""
    """Source package, from the inventory."""
    source_version: str = ""
    """Source package version, from the inventory."""
    layer_digest: str = ""
    """Layer that brought the package in, from the inventory."""
    path: str = ""
    """File the package was read from, from the inventory."""

    @property
    def ids(self) -> tuple[str, ...]:
        """Main id and aliases."""
        return (self.vulnerability_id, *self.aliases)

    @property
    def package_key(self) -> str:
        """Identifies the installed package across scans: purl, layer and path."""
        return f"{self.purl}|{self.layer_digest}|{self.path}"

    @property
    def key(self) -> str:
        """Identifies the finding: the package key and the main id."""
        return f"{self.package_key}|{self.vulnerability_id}"

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form (see the module docstring)."""
        return {
            "format_version": FINDING_FORMAT_VERSION,
            "id": self.vulnerability_id,
            "aliases": list(self.aliases),
            "package": {
                "ecosystem": self.ecosystem.value,
                "name": self.package_name,
                "version": self.installed_version,
                "purl": self.purl,
                "source_name": self.source_name,
                "source_version": self.source_version,
                "layer_digest": self.layer_digest,
                "path": self.path,
            },
            "fixed_version": self.fixed_version,
            "fix_state": self.fix_state.value,
            "severity": self.severity.value,
            "severity_source": self.severity_source,
            "score": self.score,
            "cvss_vector": self.cvss_vector,
            "title": self.title,
            "description": self.description,
            "links": list(self.links),
            "matched_by": [
                {
                    "source": m.source,
                    "record_id": m.record_id,
                    "scope": m.scope,
                    "package_name": m.package_name,
                    "name_kind": m.name_kind.value,
                    "compared_version": m.compared_version,
                    "affected_range": m.affected_range,
                    "fixed_version": m.fixed_version,
                    "fix_state": m.fix_state.value,
                    "reason": m.reason,
                    "note": m.note,
                }
                for m in self.matched_by
            ],
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> VulnerabilityFinding:
        """Read the JSON form back (fields added by later versions are ignored)."""
        package = body["package"]
        score = body.get("score")
        return cls(
            vulnerability_id=body["id"],
            aliases=tuple(body.get("aliases", ())),
            ecosystem=Ecosystem(package["ecosystem"]),
            package_name=package["name"],
            installed_version=package["version"],
            purl=package.get("purl", ""),
            source_name=package.get("source_name", ""),
            source_version=package.get("source_version", ""),
            layer_digest=package.get("layer_digest", ""),
            path=package.get("path", ""),
            fixed_version=body.get("fixed_version", ""),
            fix_state=FixState(body.get("fix_state", FixState.UNFIXED.value)),
            severity=Severity(body.get("severity", Severity.UNKNOWN.value)),
            severity_source=body.get("severity_source", ""),
            score=float(score) if score is not None else None,
            cvss_vector=body.get("cvss_vector", ""),
            title=body.get("title", ""),
            description=body.get("description", ""),
            links=tuple(body.get("links", ())),
            matched_by=tuple(
                MatchEvidence(
                    source=m["source"],
                    record_id=m["record_id"],
                    scope=m.get("scope", ""),
                    package_name=m.get("package_name", ""),
                    name_kind=NameKind(m.get("name_kind", NameKind.PACKAGE.value)),
                    compared_version=m.get("compared_version", ""),
                    affected_range=m.get("affected_range", ""),
                    fixed_version=m.get("fixed_version", ""),
                    fix_state=FixState(m.get("fix_state", FixState.UNFIXED.value)),
                    reason=m.get("reason", ""),
                    note=m.get("note", ""),
                )
                for m in body.get("matched_by", ())
            ),
        )


_STRING = {"type": "string"}
_EVIDENCE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        "source",
        "record_id",
        "scope",
        "package_name",
        "name_kind",
        "compared_version",
        "affected_range",
        "fixed_version",
        "fix_state",
        "reason",
        "note",
    ],
    "properties": {
        "source": _STRING,
        "record_id": _STRING,
        "scope": _STRING,
        "package_name": _STRING,
        "name_kind": {"enum": [k.value for k in NameKind]},
        "compared_version": _STRING,
        "affected_range": _STRING,
        "fixed_version": _STRING,
        "fix_state": {"enum": [s.value for s in FixState]},
        "reason": _STRING,
        "note": _STRING,
    },
}
FINDING_JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://moorage.dev/schemas/vulnerability-finding-1.json",
    "title": "moorage vulnerability finding",
    "type": "object",
    "required": [
        "format_version",
        "id",
        "aliases",
        "package",
        "fixed_version",
        "fix_state",
        "severity",
        "severity_source",
        "score",
        "cvss_vector",
        "title",
        "description",
        "links",
        "matched_by",
    ],
    "properties": {
        "format_version": {"const": FINDING_FORMAT_VERSION},
        "id": {"type": "string", "minLength": 1},
        "aliases": {"type": "array", "items": _STRING},
        "package": {
            "type": "object",
            "required": [
                "ecosystem",
                "name",
                "version",
                "purl",
                "source_name",
                "source_version",
                "layer_digest",
                "path",
            ],
            "properties": {
                "ecosystem": {"enum": [e.value for e in Ecosystem]},
                "name": _STRING,
                "version": _STRING,
                "purl": _STRING,
                "source_name": _STRING,
                "source_version": _STRING,
                "layer_digest": _STRING,
                "path": _STRING,
            },
        },
        "fixed_version": _STRING,
        "fix_state": {"enum": [s.value for s in FixState]},
        "severity": {"enum": [s.value for s in Severity]},
        "severity_source": _STRING,
        "score": {"type": ["number", "null"], "minimum": 0, "maximum": 10},
        "cvss_vector": _STRING,
        "title": _STRING,
        "description": _STRING,
        "links": {"type": "array", "items": _STRING},
        "matched_by": {"type": "array", "minItems": 1, "items": _EVIDENCE_SCHEMA},
    },
}
"""JSON Schema (2020-12) of ``VulnerabilityFinding.to_json``."""


@dataclass(frozen=True, slots=True)
class FindingsDiff:
    """How the findings of one inventory changed between two matching runs."""

    added: tuple[VulnerabilityFinding, ...]
    """New vulnerabilities (in the new run only)."""
    removed: tuple[VulnerabilityFinding, ...]
    """Gone vulnerabilities (in the old run only)."""
    changed: tuple[tuple[VulnerabilityFinding, VulnerabilityFinding], ...]
    """(old, new) pairs whose fix, fix state or severity changed."""


def diff_findings(before: Sequence[VulnerabilityFinding], after: Sequence[VulnerabilityFinding]) -> FindingsDiff:
    """Compare two runs over the same inventory; findings pair up by package and any shared id.

    Pairing on shared ids (not only the main id) keeps a finding whose main id changed because a
    new alias arrived (a GHSA gaining its CVE) from showing as removed and added.
    """
    by_package: dict[str, list[VulnerabilityFinding]] = {}
    for finding in before:
        by_package.setdefault(finding.package_key, []).append(finding)
    paired_old: set[int] = set()
    added: list[VulnerabilityFinding] = []
    changed: list[tuple[VulnerabilityFinding, VulnerabilityFinding]] = []
    for finding in after:
        candidates = by_package.get(finding.package_key, [])
        ids = set(finding.ids)
        old = next((c for c in candidates if id(c) not in paired_old and ids.intersection(c.ids)), None)
        if old is None:
            added.append(finding)
            continue
        paired_old.add(id(old))
        verdict = (finding.fixed_version, finding.fix_state, finding.severity)
        if (old.fixed_version, old.fix_state, old.severity) != verdict:
            changed.append((old, finding))
    removed = [f for f in before if id(f) not in paired_old]
    return FindingsDiff(tuple(added), tuple(removed), tuple(changed))


def sort_findings(findings: Iterable[VulnerabilityFinding]) -> list[VulnerabilityFinding]:
    """Most severe first, then by package and id (a stable order for reports and tests)."""
    return sorted(
        findings,
        key=lambda f: (-f.severity.rank, f.package_name, f.installed_version, f.path, f.vulnerability_id),
    )
