"""SARIF 2.1.0 (OASIS): one run per scanned image, one rule per vulnerability id or check rule.

Code-scanning services read it: levels follow severity (critical and high are ``error``, medium
``warning``, the rest ``note``), ``security-severity`` carries the CVSS score (or a value inside
the severity's band), paths are relative to the image root (``uriBaseId`` ``IMAGE_ROOT``), and
``partialFingerprints`` carry the report's stable finding id, so a result keeps its identity
across scans. Image, layer and package details go in ``properties``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import moorage
from moorage.domain.severity import Severity
from moorage.scanner.checks.findings import MalwareFinding, SecretFinding, SettingFinding
from moorage.scanner.formats.interface import ReportWriter
from moorage.scanner.report import ReportedFinding, ReportedVulnerability, ScanReport

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
IMAGE_ROOT = "IMAGE_ROOT"
FINGERPRINT_KEY = "moorageFindingId/v1"

_LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.NEGLIGIBLE: "note",
    Severity.UNKNOWN: "note",
}
_BAND_SCORES = {
    Severity.CRITICAL: 9.5,
    Severity.HIGH: 8.0,
    Severity.MEDIUM: 5.5,
    Severity.LOW: 2.0,
    Severity.NEGLIGIBLE: 0.1,
}
"""``security-severity`` for a finding without a CVSS score: inside its severity's band."""


def _security_severity(severity: Severity, score: float | None) -> dict[str, str]:
    if score is not None:
        return {"security-severity": f"{score:.1f}"}
    band = _BAND_SCORES.get(severity)
    return {"security-severity": f"{band:.1f}"} if band is not None else {}


def _location(path: str, line: int | None = None) -> list[dict[str, Any]]:
    if not path:
        return []
    physical: dict[str, Any] = {"artifactLocation": {"uri": quote(path.lstrip("/"), safe="/"), "uriBaseId": IMAGE_ROOT}}
    if line is not None:
        physical["region"] = {"startLine": line}
    return [{"physicalLocation": physical}]


class _Rules:
    """The run's rules, indexed in order of first use."""

    def __init__(self) -> None:
        """No rules yet."""
        self.rules: list[dict[str, Any]] = []
        self.index: dict[str, int] = {}

    def add(self, rule_id: str, make: Any) -> int:
        """The index of ``rule_id``, adding ``make()`` as its rule on first use."""
        if rule_id not in self.index:
            self.index[rule_id] = len(self.rules)
            self.rules.append(make())
        return self.index[rule_id]


def _vulnerability_rule(reported: ReportedVulnerability) -> dict[str, Any]:
    finding = reported.finding
    rule: dict[str, Any] = {
        "id": finding.vulnerability_id,
        "shortDescription": {"text": finding.title or finding.vulnerability_id},
        "fullDescription": {"text": finding.description or finding.title or finding.vulnerability_id},
        "help": {"text": " ".join(finding.links) or finding.vulnerability_id},
        "defaultConfiguration": {"level": _LEVELS[finding.severity]},
        "properties": {
            "tags": ["security", "vulnerability", finding.severity.value],
            "aliases": list(finding.aliases),
            **_security_severity(finding.severity, finding.score),
        },
    }
    if finding.links:
        rule["helpUri"] = finding.links[0]
    return rule


def _vulnerability_result(reported: ReportedVulnerability, rule_index: int) -> dict[str, Any]:
    finding = reported.finding
    if finding.fixed_version:
        fix = f"fixed in {finding.fixed_version}"
    else:
        fix = f"no fixed version ({finding.fix_state.value})"
    return {
        "ruleId": finding.vulnerability_id,
        "ruleIndex": rule_index,
        "level": _LEVELS[finding.severity],
        "kind": "fail",
        "message": {
            "text": f"{finding.package_name} {finding.installed_version} is affected by "
            f"{finding.vulnerability_id} ({finding.severity.value}); {fix}"
        },
        "locations": _location(finding.path),
        "partialFingerprints": {FINGERPRINT_KEY: reported.finding_id},
        "properties": {
            "findingId": reported.finding_id,
            "purl": finding.purl,
            "installedVersion": finding.installed_version,
            "fixedVersion": finding.fixed_version,
            "fixState": finding.fix_state.value,
            "severity": finding.severity.value,
            "layerDigest": finding.layer_digest,
            "layerIndex": reported.layer_index,
            **_security_severity(finding.severity, finding.score),
        },
    }


def _check_rule(reported: ReportedFinding) -> dict[str, Any]:
    finding = reported.finding
    return {
        "id": finding.rule_id,
        "shortDescription": {"text": finding.message},
        "defaultConfiguration": {"level": _LEVELS[finding.severity]},
        "properties": {
            "tags": ["security", finding.category.value, finding.severity.value],
            **_security_severity(finding.severity, None),
        },
    }


def _check_result(reported: ReportedFinding, rule_index: int) -> dict[str, Any]:
    finding = reported.finding
    text = finding.message
    properties: dict[str, Any] = {
        "findingId": reported.finding_id,
        "category": finding.category.value,
        "severity": finding.severity.value,
        "layerDigest": finding.layer_digest,
        "layerIndex": reported.layer_index,
    }
    line: int | None = None
    if isinstance(finding, SecretFinding):
        line = finding.line
        properties["redactedMatch"] = finding.redacted_match
    if isinstance(finding, MalwareFinding):
        properties["engine"] = finding.engine.value
        properties["sha256"] = finding.sha256
    if isinstance(finding, SecretFinding | MalwareFinding):
        properties["inFinalFilesystem"] = finding.in_final_filesystem
        if not finding.in_final_filesystem:
            text += " (deleted or replaced by a later layer; still shipped in the image)"
    if isinstance(finding, SettingFinding):
        properties["evidence"] = finding.evidence
        properties["historyIndex"] = finding.history_index
        if finding.evidence:
            text += f": {finding.evidence}"
    return {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": _LEVELS[finding.severity],
        "kind": "fail",
        "message": {"text": text},
        "locations": _location(finding.path, line),
        "partialFingerprints": {FINGERPRINT_KEY: reported.finding_id},
        "properties": properties,
    }


def sarif_run(report: ScanReport) -> dict[str, Any]:
    """One SARIF run for one report."""
    rules = _Rules()
    results: list[dict[str, Any]] = []
    for vulnerability in report.vulnerabilities:
        index = rules.add(vulnerability.finding.vulnerability_id, lambda v=vulnerability: _vulnerability_rule(v))
        results.append(_vulnerability_result(vulnerability, index))
    for reported in report.findings:
        index = rules.add(reported.finding.rule_id, lambda r=reported: _check_rule(r))
        results.append(_check_result(reported, index))
    image = report.image
    properties: dict[str, Any] = {
        "image": {
            "reference": image.reference,
            "manifestDigest": image.manifest_digest,
            "configDigest": image.config_digest,
            "platform": image.platform,
            "layers": [layer.digest for layer in image.layers],
        },
        "scanners": list(report.scanners),
    }
    if report.database is not None:
        properties["advisoryDatabaseBuiltAt"] = report.database.built_at
    return {
        "tool": {
            "driver": {
                "name": "moorage",
                "version": moorage.__version__,
                "rules": rules.rules,
            }
        },
        "originalUriBaseIds": {
            IMAGE_ROOT: {"uri": "file:///", "description": {"text": "The root of the image's file system."}}
        },
        "results": results,
        "properties": properties,
    }


class SarifWriter(ReportWriter):
    """SARIF 2.1.0 JSON: a log with one run per report."""

    format_name = "sarif"

    def render(self, reports: Sequence[ScanReport]) -> str:
        """Indented JSON."""
        log = {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [sarif_run(r) for r in reports]}
        return json.dumps(log, indent=2)
