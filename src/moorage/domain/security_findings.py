"""Scan results as stored: vulnerability and other findings of a digest, packages, and everything
one finished scan writes; the vulnerability lists' filters, and what the advisory database says
about a vulnerability id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from moorage.domain.security import ScanSummary


@dataclass(frozen=True, slots=True)
class VulnerabilityRow:
    """One vulnerability finding as stored."""

    finding_key: str
    vul_id: str
    aliases: tuple[str, ...]
    severity: str
    score: float | None
    ecosystem: str
    package_name: str
    package_version: str
    purl: str
    path: str
    layer_digest: str
    fixed_version: str
    fix_state: str
    title: str


@dataclass(frozen=True, slots=True)
class FindingRow:
    """One other finding (malware, secret, setting, history) as stored."""

    finding_key: str
    category: str
    rule_id: str
    severity: str
    path: str
    layer_digest: str
    title: str
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ScanWrite:
    """Everything a finished scan stores for its digest."""

    summary: ScanSummary
    severity_level: str
    report: dict[str, Any]
    vulnerabilities: tuple[VulnerabilityRow, ...]
    findings: tuple[FindingRow, ...]
    scanners: str
    advisory_db: str
    scanner_version: str
    failed_code: str = ""
    """On a successful scan, a part that did not run (``failed_to_scan_vulnerability``: no advisory
    database); empty when everything ran."""
    failed_message: str = ""
    """What ``failed_code`` left out, for people."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredVulnerability(VulnerabilityRow):
    """One vulnerability finding of a digest: the stored row and the digest it belongs to."""

    manifest_digest: str

    @property
    def ids(self) -> tuple[str, ...]:
        """Its id and aliases."""
        return (self.vul_id, *self.aliases)


@dataclass(frozen=True, slots=True)
class StoredFinding(FindingRow):
    """One other finding (malware, secret, baseline, image config, build command) as stored, with
    the digest it belongs to."""

    manifest_digest: str


@dataclass(frozen=True, slots=True)
class PackageRecord:
    """One package of a scan result."""

    ecosystem: str
    name: str
    version: str
    purl: str
    path: str
    layer_digest: str
    compliant: bool = True
    """False when the scanner could not check it against advisories (``note`` says why)."""
    note: str = ""


@dataclass(frozen=True, slots=True)
class StoredPackage:
    """A package row with the digest it belongs to."""

    manifest_digest: str
    position: int
    package: PackageRecord


@dataclass(frozen=True, slots=True)
class VulnerabilityFilter:
    """Filters of the vulnerability lists (None: not filtered; ``vul_id``, ``vul_name``: a part)."""

    vul_id: str | None = None
    vul_name: str | None = None
    cve_id: str | None = None
    kind: str | None = None
    necessity: str | None = None
    image_type: str | None = None
    severity_level: str | None = None
    handle_status: str | None = None


@dataclass(frozen=True, slots=True)
class CveFacts:
    """One CVE of a vulnerability."""

    cve_id: str
    cvss_score: float
    publish_time: int
    """Epoch milliseconds (0: unknown)."""
    description: str


@dataclass(frozen=True, slots=True)
class AdvisoryFacts:
    """What is known about one vulnerability id."""

    vul_id: str
    title: str
    description: str
    url: str
    cves: tuple[CveFacts, ...]
