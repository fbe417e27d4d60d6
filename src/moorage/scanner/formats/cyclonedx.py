"""CycloneDX 1.6 JSON with vulnerabilities: the SBOM of ``moorage sbom --format cyclonedx`` plus one
``vulnerabilities`` entry per finding, tied to the affected component by its ``bom-ref``.

Each entry carries every id (the main one and its aliases as ``references``), a rating (the
severity, with the CVSS score, vector and method when there is one), the advisory links, the
installed version as ``affected`` and the fix as a recommendation. Secrets, malware and settings
have no place in a CycloneDX vulnerability list; use the JSON or SARIF formats for them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from moorage.domain.severity import Severity
from moorage.scanner.formats.interface import ReportWriter
from moorage.scanner.report import ReportedVulnerability, ScanReport
from moorage.scanner.sbom.cyclonedx import bom_document, package_bom_ref

_SEVERITIES = {
    Severity.CRITICAL: "critical",
    Severity.HIGH: "high",
    Severity.MEDIUM: "medium",
    Severity.LOW: "low",
    Severity.NEGLIGIBLE: "info",
    Severity.UNKNOWN: "unknown",
}
_METHODS = (("CVSS:4.0/", "CVSSv4"), ("CVSS:3.1/", "CVSSv31"), ("CVSS:3.0/", "CVSSv3"))


def _method(vector: str) -> str:
    for prefix, method in _METHODS:
        if vector.startswith(prefix):
            return method
    return "CVSSv2" if vector else "other"


def _id_source(vulnerability_id: str) -> str:
    """Who assigns ids of this form (``CVE-`` NVD, ``GHSA-`` GitHub...); the id's prefix otherwise."""
    prefix = vulnerability_id.split("-", 1)[0].upper()
    return {"CVE": "NVD", "GHSA": "GitHub Advisories"}.get(prefix, prefix or "unknown")


def vulnerability_entry(reported: ReportedVulnerability, component_ref: str | None) -> dict[str, Any]:
    """One CycloneDX ``vulnerabilities`` entry."""
    finding = reported.finding
    rating: dict[str, Any] = {"source": {"name": finding.severity_source or "moorage"}}
    if finding.score is not None:
        rating["score"] = finding.score
    rating["severity"] = _SEVERITIES[finding.severity]
    rating["method"] = _method(finding.cvss_vector)
    if finding.cvss_vector:
        rating["vector"] = finding.cvss_vector
    entry: dict[str, Any] = {
        "bom-ref": reported.finding_id,
        "id": finding.vulnerability_id,
        "source": {"name": _id_source(finding.vulnerability_id)},
    }
    if finding.aliases:
        entry["references"] = [{"id": alias, "source": {"name": _id_source(alias)}} for alias in finding.aliases]
    entry["ratings"] = [rating]
    if finding.title:
        entry["description"] = finding.title
    if finding.description and finding.description != finding.title:
        entry["detail"] = finding.description
    if finding.fixed_version:
        entry["recommendation"] = f"Upgrade {finding.package_name} to {finding.fixed_version} or later."
    if finding.links:
        entry["advisories"] = [{"url": link} for link in finding.links]
    if component_ref is not None:
        entry["affects"] = [
            {"ref": component_ref, "versions": [{"version": finding.installed_version, "status": "affected"}]}
        ]
    entry["properties"] = [
        {"name": "moorage:finding_id", "value": reported.finding_id},
        {"name": "moorage:fix_state", "value": finding.fix_state.value},
        {"name": "moorage:fixed_version", "value": finding.fixed_version or "-"},
        {"name": "moorage:layer_digest", "value": finding.layer_digest or "-"},
        {"name": "moorage:path", "value": finding.path or "-"},
        {"name": "moorage:matched_by", "value": ", ".join(m.record_id for m in finding.matched_by) or "-"},
    ]
    return entry


class CycloneDxVulnerabilityWriter(ReportWriter):
    """CycloneDX 1.6 JSON: components from the inventories, vulnerabilities from the reports."""

    format_name = "cyclonedx"

    def render(self, reports: Sequence[ScanReport]) -> str:
        """One BOM for the image (every platform's components and findings)."""
        document = bom_document([r.inventory for r in reports])
        vulnerabilities: list[dict[str, Any]] = []
        seen: set[str] = set()
        for report in reports:
            refs: dict[tuple[str, str], str] = {}
            for package in report.inventory.packages:
                refs.setdefault((package.purl, package.path), package_bom_ref(package))
            for reported in report.vulnerabilities:
                if reported.finding_id in seen:  # the same finding on two platforms
                    continue
                seen.add(reported.finding_id)
                finding = reported.finding
                vulnerabilities.append(vulnerability_entry(reported, refs.get((finding.purl, finding.path))))
        document["vulnerabilities"] = vulnerabilities
        return json.dumps(document, indent=2)
