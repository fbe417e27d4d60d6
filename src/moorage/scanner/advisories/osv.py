"""OSV importer: the per-ecosystem zips osv.dev publishes, or a directory of OSV JSON / YAML files.

Reads the language ecosystems (PyPI, npm, Go, Maven, crates.io, RubyGems, Packagist, NuGet) and
the distribution feeds OSV carries (Debian, Ubuntu, Alpine, AlmaLinux, Rocky Linux, Red Hat,
SUSE, Photon, Mageia, Wolfi, Chainguard). ``ECOSYSTEM`` and ``SEMVER`` ranges and ``versions``
lists are kept; ``GIT`` ranges are dropped (an image has no commits). Withdrawn records are
dropped. Schema: https://ossf.github.io/osv-schema/
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pydantic
import yaml

from moorage.scanner.advisories.feeds import iter_documents
from moorage.scanner.advisories.interface import ImportTally
from moorage.scanner.advisories.records import (
    AdvisoryRecord,
    AffectedPackage,
    AffectedRange,
    CveMetadata,
    EventKind,
    NameKind,
    RangeEvent,
    Severity,
)
from moorage.scanner.advisories.scopes import normalise_name, osv_scope
from moorage.scanner.inventory import Ecosystem
from moorage.scanner.matching.severity import vendor_severity
from moorage.scanner.matching.versions import scheme_for

MAX_TEXT = 8000
MAX_LIST = 200
MAX_VERSIONS = 20_000


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="ignore")


class OsvPackage(_Model):
    """``affected[].package``."""

    ecosystem: str
    name: str


class OsvRange(_Model):
    """``affected[].ranges[]``: each event is a one-key mapping."""

    type: str
    events: list[dict[str, str]] = []


class OsvSeverity(_Model):
    """``severity[]``: a CVSS vector, or a vendor word (``Ubuntu``)."""

    type: str
    score: str


class OsvAffected(_Model):
    """``affected[]``."""

    package: OsvPackage | None = None
    ranges: list[OsvRange] = []
    versions: list[str] = []
    severity: list[OsvSeverity] = []
    ecosystem_specific: dict[str, Any] | None = None
    database_specific: dict[str, Any] | None = None


class OsvReference(_Model):
    """``references[]``."""

    url: str
    type: str = ""


class OsvRecord(_Model):
    """One OSV document (the fields the matcher uses)."""

    id: str = pydantic.Field(min_length=1, max_length=200)
    modified: str = ""
    published: str = ""
    withdrawn: str | None = None
    aliases: list[str] = []
    summary: str = ""
    details: str = ""
    severity: list[OsvSeverity] = []
    affected: list[OsvAffected] = []
    references: list[OsvReference] = []
    database_specific: dict[str, Any] | None = None


def _specific_severity(*blocks: dict[str, Any] | None) -> Severity | None:
    for block in blocks:
        if not block:
            continue
        for key in ("severity", "urgency", "priority"):
            value = block.get(key)
            if isinstance(value, str) and (rating := vendor_severity(value)) is not None:
                return rating
    return None


_EVENT_KINDS = {kind.value: kind for kind in EventKind}


def _convert_range(raw: OsvRange, ecosystem: Ecosystem, label: str, tally: ImportTally) -> AffectedRange | None:
    if raw.type not in ("ECOSYSTEM", "SEMVER"):
        return None
    scheme = scheme_for(ecosystem, raw.type)
    events: list[RangeEvent] = []
    for event in raw.events:
        for key, version in event.items():
            kind = _EVENT_KINDS.get(key)
            if kind is None:
                continue
            special = (kind is EventKind.INTRODUCED and version == "0") or (kind is EventKind.LIMIT and version == "*")
            if not special:
                try:
                    scheme.parse(version)
                except Exception:
                    tally.skip("invalid version", f"{label}: {key} {version!r}")
                    return None
            events.append(RangeEvent(kind, version))
    if not any(e.kind is EventKind.INTRODUCED for e in events):
        tally.skip("range without introduced event", label)
        return None
    return AffectedRange(tuple(events), raw.type)


def convert_osv(raw: OsvRecord, tally: ImportTally, source: str = "osv") -> AdvisoryRecord | None:
    """Translate one OSV document; None (and a tally entry) if it is withdrawn or names nothing we match."""
    if raw.withdrawn:
        tally.skip("withdrawn", raw.id)
        return None
    vectors: list[str] = []
    record_rating: Severity | None = None
    for severity in raw.severity:
        if severity.type.startswith("CVSS"):
            vectors.append(severity.score)
        elif (rating := vendor_severity(severity.score)) is not None:
            record_rating = rating
    record_rating = record_rating or _specific_severity(raw.database_specific)
    affected: list[AffectedPackage] = []
    for entry in raw.affected:
        for severity in entry.severity:
            if severity.type.startswith("CVSS") and severity.score not in vectors:
                vectors.append(severity.score)
        converted = _convert_affected(raw.id, entry, tally)
        if converted is not None:
            affected.append(converted)
    if not affected:
        tally.skip("nothing to match", raw.id)
        return None
    references = [f"https://osv.dev/vulnerability/{raw.id}"]
    references += [r.url for r in raw.references if r.url.startswith(("https://", "http://"))]
    return AdvisoryRecord(
        source=source,
        id=raw.id.strip(),
        aliases=tuple(dict.fromkeys(a.strip() for a in raw.aliases[:MAX_LIST] if 0 < len(a.strip()) <= 200)),
        summary=raw.summary.strip()[:MAX_TEXT],
        details=raw.details.strip()[:MAX_TEXT],
        severity=record_rating,
        cvss_vectors=tuple(vectors[:10]),
        references=tuple(dict.fromkeys(references[:MAX_LIST])),
        published=raw.published,
        modified=raw.modified,
        affected=tuple(affected),
    )


def _convert_affected(record_id: str, entry: OsvAffected, tally: ImportTally) -> AffectedPackage | None:
    if entry.package is None:
        tally.skip("affected entry without package", record_id)
        return None
    scope = osv_scope(entry.package.ecosystem)
    if scope is None:
        tally.skip("unsupported ecosystem", f"{record_id}: {entry.package.ecosystem}")
        return None
    label = f"{record_id} {entry.package.name}"
    ranges = [
        converted
        for raw_range in entry.ranges
        if (converted := _convert_range(raw_range, scope.ecosystem, label, tally)) is not None
    ]
    versions = tuple(v for v in entry.versions[:MAX_VERSIONS] if v and len(v) <= 256)
    if not ranges and not versions:
        tally.skip("affected entry without usable range", label)
        return None
    is_distro = ":" in scope.scope
    return AffectedPackage(
        scope=scope.scope,
        ecosystem=scope.ecosystem,
        name=normalise_name(scope.ecosystem, entry.package.name),
        name_kind=NameKind.SOURCE if is_distro else NameKind.PACKAGE,
        ranges=tuple(ranges),
        versions=versions,
        vendor_severity=_specific_severity(entry.ecosystem_specific, entry.database_specific),
    )


def parse_osv_document(name: str, data: bytes) -> OsvRecord:
    """Validate one OSV document (JSON, or YAML for ``.yaml`` / ``.yml`` names)."""
    if name.lower().endswith((".yaml", ".yml")):
        # The base loader keeps every scalar a string, so ``fixed: 1.10`` stays "1.10", not 1.1.
        loaded = yaml.load(data, Loader=getattr(yaml, "CBaseLoader", yaml.BaseLoader))  # noqa: S506
        return OsvRecord.model_validate(loaded)
    return OsvRecord.model_validate_json(data)


class OsvImporter:
    """Reads OSV records from a directory, an osv.dev ecosystem zip, or one OSV file."""

    kind: ClassVar[str] = "osv"

    def read(self, location: Path, tally: ImportTally) -> Iterator[AdvisoryRecord | CveMetadata]:
        """Yield one record per usable OSV document; malformed documents are counted and skipped."""
        for document in iter_documents(location, (".json", ".yaml", ".yml")):
            try:
                raw = parse_osv_document(document.name, document.data)
            except (pydantic.ValidationError, yaml.YAMLError, json.JSONDecodeError, ValueError) as error:
                tally.skip("malformed document", f"{document.name}: {str(error).splitlines()[0]}")
                continue
            record = convert_osv(raw, tally, self.kind)
            if record is not None:
                yield record
