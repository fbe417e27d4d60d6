"""Advisory records: the one shape every importer produces and the store keeps.

Each feed (OSV, Debian tracker, Alpine secdb, Red Hat CSAF VEX) is translated into
``AdvisoryRecord`` values whose affected packages carry OSV-style ranges (introduced / fixed /
last_affected / limit events, compared in the package's ecosystem), so that the matcher needs one
evaluation algorithm only. NVD data, which names no packages, becomes ``CveMetadata`` used to fill
in severity, score and description.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from moorage.domain.severity import Severity as Severity  # re-exported: the one scale
from moorage.scanner.errors import MALFORMED_JSON
from moorage.scanner.inventory import Ecosystem


class FixState(StrEnum):
    """What the vendor says about fixing a vulnerable package."""

    FIXED = "fixed"
    """A fixed version exists (``fixed_version`` says which)."""
    UNFIXED = "unfixed"
    """Affected, no fix published yet."""
    WILL_NOT_FIX = "will_not_fix"
    """The vendor decided not to fix it (Debian ``ignored`` / no-dsa, Red Hat "Will not fix")."""
    DEFERRED = "deferred"
    """A fix is postponed (Debian ``postponed``, Red Hat "Fix deferred")."""
    END_OF_LIFE = "end_of_life"
    """The release or package is out of support, so no fix will come."""


class EventKind(StrEnum):
    """OSV range event types."""

    INTRODUCED = "introduced"
    FIXED = "fixed"
    LAST_AFFECTED = "last_affected"
    LIMIT = "limit"


class NameKind(StrEnum):
    """Which name of an OS package an advisory uses: distributions track source packages."""

    PACKAGE = "package"
    """A language ecosystem's package name (one name only)."""
    SOURCE = "source"
    """A distribution's source package (Debian ``Source:``, apk origin, the source RPM)."""
    BINARY = "binary"
    """A distribution's binary package name."""


@dataclass(frozen=True, slots=True)
class RangeEvent:
    """One OSV range event: ``introduced: "0"`` means "from the first version"."""

    kind: EventKind
    """Event type."""
    version: str
    """Version in the ecosystem's syntax."""


@dataclass(frozen=True, slots=True)
class AffectedRange:
    """An OSV ``ECOSYSTEM`` or ``SEMVER`` range (``GIT`` ranges are dropped on import)."""

    events: tuple[RangeEvent, ...]
    """Events in feed order; the matcher sorts them."""
    kind: str = "ECOSYSTEM"
    """``ECOSYSTEM`` or ``SEMVER``, kept for explanations."""


@dataclass(frozen=True, slots=True)
class AffectedPackage:
    """One package an advisory affects, in one ecosystem or one distribution release."""

    scope: str
    """Where the name lives: a language ecosystem (``pypi``) or ``distro:release`` (``debian:12``)."""
    ecosystem: Ecosystem
    """Whose version syntax the ranges use."""
    name: str
    """Package name, normalised by ``scopes.normalise_name``."""
    name_kind: NameKind = NameKind.PACKAGE
    """Whether ``name`` is a source or a binary package name (OS packages)."""
    ranges: tuple[AffectedRange, ...] = ()
    """Affected version ranges; a version is affected if any range holds it."""
    versions: tuple[str, ...] = ()
    """Explicitly listed affected versions (OSV ``versions``)."""
    fix_state: FixState = FixState.FIXED
    """The vendor's fix state for versions inside the ranges that no fixed event covers."""
    vendor_severity: Severity | None = None
    """This vendor's rating for this package (Debian urgency, Red Hat impact), if it gives one."""
    note: str = ""
    """The vendor's own words about the state (Debian no-dsa reason, Red Hat remediation)."""


@dataclass(frozen=True, slots=True)
class AdvisoryRecord:
    """One advisory as one source publishes it."""

    source: str
    """Importer kind that produced it: ``osv``, ``debian``, ``alpine``, ``redhat``."""
    id: str
    """The source's identifier (``GHSA-...``, ``PYSEC-...``, ``CVE-...``, ``DSA-...``)."""
    aliases: tuple[str, ...] = ()
    """Other identifiers of the same vulnerability; findings merge across aliases."""
    summary: str = ""
    """One-line title."""
    details: str = ""
    """Longer description."""
    severity: Severity | None = None
    """The publisher's own rating (GHSA severity, Red Hat aggregate impact), if any."""
    cvss_vectors: tuple[str, ...] = ()
    """CVSS vectors (v2 without prefix, ``CVSS:3.x/...``, ``CVSS:4.0/...``)."""
    references: tuple[str, ...] = ()
    """Links to advisories, fixes, trackers."""
    published: str = ""
    """ISO 8601 time of first publication, when the source gives it."""
    modified: str = ""
    """ISO 8601 time of the last change, when the source gives it."""
    affected: tuple[AffectedPackage, ...] = ()
    """The packages it affects."""


@dataclass(frozen=True, slots=True)
class CveMetadata:
    """What NVD says about one CVE: used for severity, score and description when vendors are silent."""

    id: str
    """``CVE-YYYY-NNNN``."""
    description: str = ""
    """English description."""
    cvss_vectors: tuple[str, ...] = ()
    """CVSS vectors, best first (the NVD's primary v4.0, v3.1, v3.0, then v2)."""
    references: tuple[str, ...] = ()
    """Reference URLs."""
    published: str = ""
    """ISO 8601 publication time."""


def record_header_to_json(record: AdvisoryRecord) -> dict[str, Any]:
    """The record without its affected packages, as the store keeps it (``affected`` rows apart)."""
    return {
        "aliases": list(record.aliases),
        "summary": record.summary,
        "details": record.details,
        "severity": record.severity.value if record.severity else None,
        "cvss": list(record.cvss_vectors),
        "references": list(record.references),
        "published": record.published,
        "modified": record.modified,
    }


def record_header_from_json(source: str, record_id: str, body: dict[str, Any]) -> AdvisoryRecord:
    """Inverse of ``record_header_to_json`` (``affected`` left empty)."""
    severity = body.get("severity")
    return AdvisoryRecord(
        source=source,
        id=record_id,
        aliases=tuple(body.get("aliases", ())),
        summary=body.get("summary", ""),
        details=body.get("details", ""),
        severity=Severity(severity) if severity else None,
        cvss_vectors=tuple(body.get("cvss", ())),
        references=tuple(body.get("references", ())),
        published=body.get("published", ""),
        modified=body.get("modified", ""),
    )


def affected_to_json(affected: AffectedPackage) -> dict[str, Any]:
    """The parts of an affected package the store keeps in the row body (scope and name are columns)."""
    body: dict[str, Any] = {
        "ecosystem": affected.ecosystem.value,
        "kind": affected.name_kind.value,
        "ranges": [{"type": r.kind, "events": [[e.kind.value, e.version] for e in r.events]} for r in affected.ranges],
        "state": affected.fix_state.value,
    }
    if affected.versions:
        body["versions"] = list(affected.versions)
    if affected.vendor_severity:
        body["severity"] = affected.vendor_severity.value
    if affected.note:
        body["note"] = affected.note
    return body


_EVENT_KINDS = {kind.value: kind for kind in EventKind}
_NAME_KINDS = {kind.value: kind for kind in NameKind}
_FIX_STATES = {state.value: state for state in FixState}
_SEVERITIES = {severity.value: severity for severity in Severity}
_ECOSYSTEMS = {ecosystem.value: ecosystem for ecosystem in Ecosystem}


def affected_from_json(scope: str, name: str, body: dict[str, Any]) -> AffectedPackage:
    """Inverse of ``affected_to_json`` (dictionary look-ups, not enum calls: this is on the hot path)."""
    severity = body.get("severity")
    try:
        return AffectedPackage(
            scope=scope,
            ecosystem=_ECOSYSTEMS[body["ecosystem"]],
            name=name,
            name_kind=_NAME_KINDS[body.get("kind", "package")],
            ranges=tuple(
                AffectedRange(
                    events=tuple(RangeEvent(_EVENT_KINDS[kind], version) for kind, version in r["events"]),
                    kind=r.get("type", "ECOSYSTEM"),
                )
                for r in body.get("ranges", ())
            ),
            versions=tuple(body.get("versions", ())),
            fix_state=_FIX_STATES[body.get("state", "fixed")],
            vendor_severity=_SEVERITIES[severity] if severity else None,
            note=body.get("note", ""),
        )
    except MALFORMED_JSON as error:
        raise ValueError(f"affected row {scope} {name}: unreadable body ({error!r})") from error


def cve_metadata_to_json(metadata: CveMetadata) -> dict[str, Any]:
    """Store form of NVD metadata (the id is the key column)."""
    return {
        "description": metadata.description,
        "cvss": list(metadata.cvss_vectors),
        "references": list(metadata.references),
        "published": metadata.published,
    }


def cve_metadata_from_json(cve_id: str, body: dict[str, Any]) -> CveMetadata:
    """Inverse of ``cve_metadata_to_json``."""
    return CveMetadata(
        id=cve_id,
        description=body.get("description", ""),
        cvss_vectors=tuple(body.get("cvss", ())),
        references=tuple(body.get("references", ())),
        published=body.get("published", ""),
    )
