"""The scan report: everything one scan of one image found, with a stable JSON form.

The registry stores these reports per image manifest and the HSS API answers from them, so the
JSON form (``moorage-scan-report/1``, documented in docs/scan-report-format.md and described by
``scan-report.schema.json`` beside this module) only ever gains fields, with defaults.
:func:`report_to_json` and :func:`report_from_json` round-trip it.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from moorage.domain.severity import Severity, highest
from moorage.scanner.checks.errors import CheckError
from moorage.scanner.checks.findings import Category, Finding, finding_from_json, finding_to_json
from moorage.scanner.errors import MALFORMED_JSON, ParseError
from moorage.scanner.image_inventory import ImageInventory, inventory_from_json, inventory_to_json
from moorage.scanner.matching.findings import VulnerabilityFinding

REPORT_SCHEMA = "moorage-scan-report/1"
"""The ``schema`` value of a report document."""
REPORT_SCHEMA_PATH = Path(__file__).with_name("scan-report.schema.json")
"""JSON Schema (2020-12) of a report document, shipped with the package."""
VULNERABILITY_CATEGORY = "vulnerability"
"""The summary's name for vulnerability findings (check findings use their ``Category``)."""
CATEGORIES = (VULNERABILITY_CATEGORY, *(c.value for c in Category))
"""Every finding category of a report, in display order."""


@dataclass(frozen=True, slots=True)
class LayerInfo:
    """One layer of the scanned image."""

    index: int
    """Position, 0 = base layer."""
    digest: str
    """Digest as the manifest lists it (a docker archive's diff_id; ``dir:...`` for a root filesystem)."""
    size: int | None = None
    """Blob size in bytes (compressed), when known."""
    media_type: str = ""
    """Layer media type, when the manifest gives it."""
    created_by: str = ""
    """The history entry that made the layer (``RUN ...``), when the config has one."""


@dataclass(frozen=True, slots=True)
class ImageIdentity:
    """Which image was scanned."""

    reference: str
    """What the user named: a registry reference, ``oci:DIR:TAG``, a path."""
    manifest_digest: str = ""
    """Digest of the image manifest (config digest for a docker archive; empty for a root filesystem)."""
    config_digest: str = ""
    """Digest of the image configuration blob; empty for a root filesystem."""
    platform: str = ""
    """``os/arch[/variant]``; empty when unknown."""
    layers: tuple[LayerInfo, ...] = ()
    """Layers, base first."""
    created: str = ""
    """The config's ``created`` time, as written."""


@dataclass(frozen=True, slots=True)
class DatabaseVersion:
    """Which advisory database the vulnerabilities come from."""

    schema_version: int
    """The store's schema version."""
    built_at: str
    """When it was built (ISO 8601): what tells one database from the next."""
    sources: tuple[tuple[str, int], ...] = ()
    """(importer kind, records) per source, in build order."""


@dataclass(frozen=True, slots=True)
class ReportedVulnerability:
    """A vulnerability finding with its report id and layer position."""

    finding_id: str
    """Stable id (``moorage.scanner.finding_ids``)."""
    finding: VulnerabilityFinding
    """What matching found."""
    layer_index: int | None = None
    """Position of the layer that brought the package in; None when unknown."""


@dataclass(frozen=True, slots=True)
class ReportedFinding:
    """A secret, malware, baseline, image-configuration or build-command finding with its id."""

    finding_id: str
    """Stable id (``moorage.scanner.finding_ids``)."""
    finding: Finding
    """What the check found."""
    layer_index: int | None = None
    """Position of the layer holding the file or history entry; None for image-level findings."""


@dataclass(frozen=True, slots=True)
class SkippedPackage:
    """A package that was not matched, and why (an unsupported distribution, an odd version)."""

    purl: str
    """The package's purl."""
    path: str
    """Where it was found."""
    reason: str
    """Why it was not matched."""


@dataclass(frozen=True, slots=True)
class SkippedScanner:
    """A scanner that was asked for and did not run, and why: a report says "vulnerabilities were
    not looked for" instead of showing none."""

    scanner: str
    """Which scanner (``vuln``)."""
    reason: str
    """Why (``no advisory database``)."""


@dataclass(frozen=True, slots=True)
class ScanIssue:
    """Something the scan could not do for part of the image (it went on without it)."""

    scanner: str
    """Which part: an analyzer or check plug-in name, ``reader`` or ``matcher``."""
    message: str
    """What went wrong."""
    path: str = ""
    """Image path concerned, if any."""
    layer_digest: str = ""
    """Layer concerned, if any."""
    code: str = "unknown"
    """Why, as a ``moorage.scanner.interface.SkipCode`` value (``file_truncated``, ``unreadable``...)."""


@dataclass(frozen=True, slots=True)
class ScanReport:
    """Everything one scan of one image (one platform) found."""

    image: ImageIdentity
    """The image."""
    inventory: ImageInventory
    """Packages and distribution (what a re-match needs)."""
    scanners: tuple[str, ...]
    """Scanners that ran: ``vuln``, ``secret``, ``malware``, ``config``."""
    vulnerabilities: tuple[ReportedVulnerability, ...] = ()
    """Vulnerable packages, most severe first."""
    findings: tuple[ReportedFinding, ...] = ()
    """Check findings, most severe first."""
    skipped_packages: tuple[SkippedPackage, ...] = ()
    """Packages not matched, and why."""
    skipped_scanners: tuple[SkippedScanner, ...] = ()
    """Scanners asked for that did not run, and why."""
    issues: tuple[ScanIssue, ...] = ()
    """Files or records the scan could not use."""
    database: DatabaseVersion | None = None
    """The advisory database used; None when vulnerabilities were not scanned."""
    timings: Mapping[str, float] = field(default_factory=dict, hash=False, compare=False)
    """Seconds per phase (``resolve``, ``layers``, ``analysis``, ``checks``, ``matching``, ``total``)."""
    created_at: str = ""
    """When the report was made (ISO 8601, UTC)."""
    generator: str = ""
    """``moorage <version>``."""

    def skipped_reason(self, scanner: str) -> str | None:
        """Why ``scanner`` was asked for and did not run; None when it was not skipped."""
        return next((s.reason for s in self.skipped_scanners if s.scanner == scanner), None)

    def severities(self) -> list[Severity]:
        """Severity of every finding, vulnerabilities first."""
        return [v.finding.severity for v in self.vulnerabilities] + [f.finding.severity for f in self.findings]

    @property
    def highest_severity(self) -> Severity | None:
        """The worst finding's severity; None for a clean report."""
        return highest(self.severities())

    def filtered(self, severities: Collection[Severity]) -> ScanReport:
        """The same report with only the findings whose severity is in ``severities``."""
        return replace(
            self,
            vulnerabilities=tuple(v for v in self.vulnerabilities if v.finding.severity in severities),
            findings=tuple(f for f in self.findings if f.finding.severity in severities),
        )

    def summary(self) -> dict[str, Any]:
        """Counts: total, per severity and per category (every key always present)."""
        by_severity = {s.value: 0 for s in reversed(Severity)}
        by_category = dict.fromkeys(CATEGORIES, 0)
        for vulnerability in self.vulnerabilities:
            by_severity[vulnerability.finding.severity.value] += 1
            by_category[VULNERABILITY_CATEGORY] += 1
        for reported in self.findings:
            by_severity[reported.finding.severity.value] += 1
            by_category[reported.finding.category.value] += 1
        return {
            "total": len(self.vulnerabilities) + len(self.findings),
            "by_severity": by_severity,
            "by_category": by_category,
        }


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _identity_to_json(image: ImageIdentity) -> dict[str, Any]:
    return {
        "reference": image.reference,
        "manifest_digest": image.manifest_digest,
        "config_digest": image.config_digest,
        "platform": image.platform,
        "created": image.created,
        "layers": [
            {
                "index": layer.index,
                "digest": layer.digest,
                "size": layer.size,
                "media_type": layer.media_type,
                "created_by": layer.created_by,
            }
            for layer in image.layers
        ],
    }


def report_to_json(report: ScanReport) -> dict[str, Any]:
    """The documented JSON form."""
    inventory = inventory_to_json(report.inventory)
    database = report.database
    return {
        "schema": REPORT_SCHEMA,
        "generator": report.generator,
        "created_at": report.created_at,
        "image": _identity_to_json(report.image),
        "distro": inventory["distro"],
        "scanners": list(report.scanners),
        "database": None
        if database is None
        else {
            "schema_version": database.schema_version,
            "built_at": database.built_at,
            "sources": [{"kind": kind, "records": records} for kind, records in database.sources],
        },
        "summary": report.summary(),
        "vulnerabilities": [
            {"finding_id": v.finding_id, "layer_index": v.layer_index, **v.finding.to_json()}
            for v in report.vulnerabilities
        ],
        "findings": [
            {"finding_id": f.finding_id, "layer_index": f.layer_index, **finding_to_json(f.finding)}
            for f in report.findings
        ],
        "skipped_packages": [{"purl": s.purl, "path": s.path, "reason": s.reason} for s in report.skipped_packages],
        "skipped_scanners": [{"scanner": s.scanner, "reason": s.reason} for s in report.skipped_scanners],
        "issues": [
            {"scanner": i.scanner, "message": i.message, "path": i.path, "layer_digest": i.layer_digest, "code": i.code}
            for i in report.issues
        ],
        "timings": {name: round(seconds, 4) for name, seconds in report.timings.items()},
        "inventory": inventory,
    }


def _optional_int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParseError(f"expected an integer or null, got {value!r}")
    return value


def _identity_from_json(doc: Mapping[str, Any]) -> ImageIdentity:
    return ImageIdentity(
        reference=str(doc["reference"]),
        manifest_digest=str(doc.get("manifest_digest", "")),
        config_digest=str(doc.get("config_digest", "")),
        platform=str(doc.get("platform", "")),
        created=str(doc.get("created", "")),
        layers=tuple(
            LayerInfo(
                index=int(layer["index"]),
                digest=str(layer["digest"]),
                size=_optional_int(layer.get("size")),
                media_type=str(layer.get("media_type", "")),
                created_by=str(layer.get("created_by", "")),
            )
            for layer in doc.get("layers", ())
        ),
    )


# A check's finding that does not parse raises CheckError, the rest is a JSON shape error.
_MALFORMED_REPORT: tuple[type[Exception], ...] = (*MALFORMED_JSON, CheckError)


def report_from_json(doc: Any) -> ScanReport:
    """Read the JSON form back (unknown fields ignored); ParseError when it is not a report."""
    if not isinstance(doc, dict) or doc.get("schema") != REPORT_SCHEMA:
        raise ParseError(f"not a {REPORT_SCHEMA} document")
    try:
        database_doc = doc.get("database")
        database = (
            None
            if database_doc is None
            else DatabaseVersion(
                schema_version=int(database_doc["schema_version"]),
                built_at=str(database_doc["built_at"]),
                sources=tuple((str(s["kind"]), int(s["records"])) for s in database_doc.get("sources", ())),
            )
        )
        return ScanReport(
            image=_identity_from_json(doc["image"]),
            inventory=inventory_from_json(doc["inventory"]),
            scanners=tuple(str(s) for s in doc.get("scanners", ())),
            vulnerabilities=tuple(
                ReportedVulnerability(
                    str(v["finding_id"]), VulnerabilityFinding.from_json(v), _optional_int(v.get("layer_index"))
                )
                for v in doc.get("vulnerabilities", ())
            ),
            findings=tuple(
                ReportedFinding(str(f["finding_id"]), finding_from_json(f), _optional_int(f.get("layer_index")))
                for f in doc.get("findings", ())
            ),
            skipped_packages=tuple(
                SkippedPackage(str(s["purl"]), str(s.get("path", "")), str(s["reason"]))
                for s in doc.get("skipped_packages", ())
            ),
            skipped_scanners=tuple(
                SkippedScanner(str(s["scanner"]), str(s["reason"])) for s in doc.get("skipped_scanners", ())
            ),
            issues=tuple(
                ScanIssue(
                    str(i["scanner"]),
                    str(i["message"]),
                    str(i.get("path", "")),
                    str(i.get("layer_digest", "")),
                    str(i.get("code", "unknown")),
                )
                for i in doc.get("issues", ())
            ),
            database=database,
            timings={str(k): float(v) for k, v in (doc.get("timings") or {}).items()},
            created_at=str(doc.get("created_at", "")),
            generator=str(doc.get("generator", "")),
        )
    except _MALFORMED_REPORT as exc:
        raise ParseError(f"malformed scan report: {exc!r}") from exc


def report_or_inventory_from_json(doc: Any) -> ScanReport | ImageInventory:
    """A stored report or a bare inventory (``moorage sbom --format json``), for re-matching."""
    if isinstance(doc, dict) and doc.get("schema") == REPORT_SCHEMA:
        return report_from_json(doc)
    return inventory_from_json(doc)


def report_json_schema() -> dict[str, Any]:
    """The shipped JSON Schema of the report document (read from the package on each call)."""
    loaded: dict[str, Any] = json.loads(REPORT_SCHEMA_PATH.read_text())
    return loaded


def reports_to_json(reports: Iterable[ScanReport]) -> Any:
    """One report's document, or a list of them (several platforms)."""
    docs = [report_to_json(r) for r in reports]
    return docs[0] if len(docs) == 1 else docs
