"""The one place the registry calls the scanner: scan a resolved image (or re-match a stored
report against a new advisory database) and turn the outcome into what the registry stores
(``ScanWrite``: the report, its findings as rows, and the summary the lists and policies read).

Image limits are checked here, before any layer is read: more layers than ``max_layers`` is
``image_layer_over_sized``; config and layers together above ``max_image_bytes`` is
``image_over_sized``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import moorage
from moorage.domain.security import ScanSummary, severity_rank
from moorage.metadata.queries.security_results import FindingRow, ScanWrite, VulnerabilityRow
from moorage.scanner.advisories.store import AdvisoryStore
from moorage.scanner.analysis import AnalysisOptions, ProgressCallback, analyze_image
from moorage.scanner.cache.interface import LayerCache
from moorage.scanner.image_inventory import inventory_from_json, inventory_to_json
from moorage.scanner.matching import Matcher, VulnerabilityFinding
from moorage.scanner.sources.interface import ImageSource, ResolvedImage
from moorage.services.security.failures import ScanFailure

REPORT_SCHEMA = "moorage-registry-scan/1"
ALL_SCANNERS = ("vuln", "secret", "malware", "config")
NO_DATABASE = "none"
"""``advisory_db`` of a result matched against no database (none was installed)."""


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """How the registry's scans run."""

    scanners: tuple[str, ...] = ALL_SCANNERS
    cache: LayerCache | None = None
    workers: int = 0
    executor: str = "thread"
    max_image_bytes: int = 10 * 1024**3
    max_layers: int = 128


def open_advisories(path: Path) -> AdvisoryStore | None:
    """The advisory database at ``path``, or None when none is installed there."""
    if not path.is_file():
        return None
    return AdvisoryStore(path)


def database_id(store: AdvisoryStore | None) -> str:
    """What tells one advisory database from the next (its build time)."""
    return store.built_at if store is not None else NO_DATABASE


def check_limits(image: ResolvedImage, options: EngineOptions) -> None:
    """Refuse images past the configured limits (``ScanFailure``)."""
    if len(image.layers) > options.max_layers:
        raise ScanFailure("image_layer_over_sized",
                          f"{len(image.layers)} layers, more than the {options.max_layers} allowed")
    size = sum(max(layer.size, 0) for layer in image.layers)
    if size > options.max_image_bytes:
        raise ScanFailure("image_over_sized",
                          f"{size} bytes of layers, more than the {options.max_image_bytes} allowed")


def scan_image(source: ImageSource, image: ResolvedImage, *, options: EngineOptions, store: AdvisoryStore | None,
               progress: ProgressCallback | None = None) -> ScanWrite:
    """Scan one resolved image into what the registry stores."""
    check_limits(image, options)
    analysis = analyze_image(source, image, AnalysisOptions(cache=options.cache, workers=options.workers,
                                                            executor=options.executor), progress)
    findings: list[VulnerabilityFinding] = []
    if "vuln" in options.scanners and store is not None:
        findings = list(Matcher(store).match(analysis.inventory.packages, analysis.inventory.distro).findings)
    resolved = analysis.image
    report: dict[str, Any] = {
        "schema": REPORT_SCHEMA,
        "generator": f"moorage {moorage.__version__}",
        "image": {"reference": resolved.name, "manifest_digest": resolved.manifest_digest,
                  "platform": str(resolved.platform) if resolved.platform else "",
                  "layers": [{"digest": layer.digest, "size": layer.size, "media_type": layer.media_type}
                             for layer in resolved.layers]},
        "scanners": list(options.scanners),
        "database": {"built_at": database_id(store)},
        "inventory": inventory_to_json(analysis.inventory),
        "findings": [],
    }
    return _write(report, findings, store)


def rematch_report(report: dict[str, Any], store: AdvisoryStore, matcher: Matcher | None = None) -> ScanWrite:
    """Match a stored report's inventory against ``store`` again (no layer is read)."""
    inventory = inventory_from_json(report["inventory"])
    findings = list((matcher or Matcher(store)).match(inventory.packages, inventory.distro).findings)
    updated = {**report, "database": {"built_at": database_id(store)}}
    return _write(updated, findings, store)


def _finding_key(finding: VulnerabilityFinding) -> str:
    return "vuln-" + hashlib.sha256(finding.key.encode()).hexdigest()[:32]


def _write(report: dict[str, Any], findings: Sequence[VulnerabilityFinding], store: AdvisoryStore | None) -> ScanWrite:
    keyed = [(_finding_key(f), f) for f in findings]
    report = {**report, "vulnerabilities": [{"finding_id": key, **f.to_json()} for key, f in keyed]}
    rows = tuple(VulnerabilityRow(
        finding_key=key, vul_id=f.vulnerability_id, aliases=f.aliases, severity=f.severity.value, score=f.score,
        ecosystem=f.ecosystem.value, package_name=f.package_name, package_version=f.installed_version, purl=f.purl,
        path=f.path, layer_digest=f.layer_digest, fixed_version=f.fixed_version, fix_state=f.fix_state.value,
        title=f.title) for key, f in keyed)
    other: tuple[FindingRow, ...] = ()
    summary = summarize([(f.vulnerability_id, f.severity.value, f.aliases) for f in findings],
                        [(r.category, r.rule_id, r.severity, r.path) for r in other])
    return ScanWrite(summary=summary, severity_level=summary.level().value, report=report, vulnerabilities=rows,
                     findings=other, scanners=",".join(report.get("scanners", ALL_SCANNERS)),
                     advisory_db=database_id(store), scanner_version=moorage.__version__)


def summarize(vulnerabilities: Sequence[tuple[str, str, tuple[str, ...]]],
              findings: Sequence[tuple[str, str, str, str]]) -> ScanSummary:
    """The summary of a scan: distinct vulnerabilities (the most severe rating of each, most severe
    first), malicious files, unsafe settings (baseline, image configuration, build commands) and
    the number of sensitive-information findings."""
    distinct: dict[str, tuple[str, tuple[str, ...]]] = {}
    for vul_id, severity, aliases in vulnerabilities:
        known = distinct.get(vul_id)
        merged = tuple(sorted(set(aliases) | set(known[1] if known else ())))
        if known is None or severity_rank(severity) > severity_rank(known[0]):
            distinct[vul_id] = (severity, merged)
        else:
            distinct[vul_id] = (known[0], merged)
    ordered = sorted(distinct.items(), key=lambda item: (-severity_rank(item[1][0]), item[0]))
    malicious = tuple((rule, path) for category, rule, _severity, path in findings if category == "malware")
    unsafe = tuple((rule, severity) for category, rule, severity, _path in findings
                   if category in ("baseline", "image_config", "build_command"))
    sensitive = sum(1 for category, *_rest in findings if category == "secret")
    return ScanSummary(tuple((vid, sev, aliases) for vid, (sev, aliases) in ordered), malicious, unsafe, sensitive)


def merge_summaries(parts: Sequence[ScanSummary]) -> ScanSummary:
    """The summary of a multi-architecture image: every platform's findings together (a
    vulnerability found in several platforms counts once)."""
    vulnerabilities = [v for part in parts for v in part.vulnerabilities]
    findings = [("malware", rule, "high", path) for part in parts for rule, path in part.malicious_files]
    findings += [("baseline", rule, severity, "") for part in parts for rule, severity in part.unsafe_settings]
    merged = summarize(vulnerabilities, findings)
    return ScanSummary(merged.vulnerabilities, tuple(dict.fromkeys(merged.malicious_files)),
                       tuple(dict.fromkeys(merged.unsafe_settings)), sum(p.sensitive for p in parts))
