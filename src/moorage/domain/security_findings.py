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


VULNERABILITY_SORTS = ("severity", "cvss", "package")
"""How one image's vulnerability list can be ordered (most severe, highest CVSS, by package)."""
OS_ECOSYSTEMS = frozenset({"deb", "apk", "rpm"})
"""Package types of the operating system: their vulnerabilities are ``linux_vul``, the rest ``app_vul``."""


@dataclass(frozen=True, slots=True)
class ImageVulnerabilityQuery:
    """Filters and order of one image's vulnerability list, done by the database (None: not
    filtered; ``package`` and ``vul_id`` match a part, ignoring case; ``vul_id`` also matches an
    alias). ``necessity`` is HSS's repair necessity (``immediate_repair``: critical and high,
    ``delay_repair``: medium, ``not_needed_repair``: the rest); ``kind`` ``linux_vul`` or
    ``app_vul``."""

    severity: str | None = None
    necessity: str | None = None
    fixable: bool | None = None
    package: str | None = None
    vul_id: str | None = None
    kind: str | None = None
    handled: bool | None = None
    sort: str = "severity"


@dataclass(frozen=True, slots=True)
class SetAsideScope:
    """What decides whether a vulnerability of one image is handled: the account (its ignored
    (digest, id) rows), and for each digest holding the image's findings, the account's whitelists
    that cover the image there (a platform image is also named by its multi-architecture image)."""

    domain_id: str
    whitelists_by_digest: tuple[tuple[str, tuple[str, ...]], ...]
    """(digest, ids of the whitelists covering it), one per digest of the image."""


@dataclass(frozen=True, slots=True)
class ListedVulnerability:
    """A row of one image's vulnerability list: the stored finding standing for its (id, package,
    version, path) across the image's digests, and whether it is handled there."""

    stored: StoredVulnerability
    handled: bool
    whitelisted: bool = False
    """Handled because a whitelist covers it here (else, when handled: ignored)."""
