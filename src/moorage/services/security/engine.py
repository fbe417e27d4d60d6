"""The one place the registry calls the scanner (``moorage.scanner.scan``): scan a resolved image,
or re-match a stored report against a new advisory database, and turn the report into what the
registry stores (``ScanWrite``: the report's JSON form, its findings as rows keyed by the report's
stable finding ids, and the summary the lists and policies read).

Image limits are checked here, before any layer is read: more layers than ``max_layers`` is
``image_layer_over_sized``; config and layers together above ``max_image_bytes`` is
``image_over_sized``. The scanner's own bounds (``limits``: uncompressed bytes and files per layer
and per image) are checked while the layers are read; past one, the scan fails with
``image_over_sized`` too (``failures.failure_from``), its message saying which bound.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import moorage
from moorage.domain.oci_platform import Platform
from moorage.domain.security import VULNERABILITIES_SKIPPED, ScanSummary
from moorage.domain.security_findings import FindingRow, ScanWrite, VulnerabilityRow
from moorage.domain.severity import severity_rank
from moorage.scanner.advisories.store import AdvisoryStore
from moorage.scanner.analysis import AnalysisOptions, ProgressCallback
from moorage.scanner.cache.interface import LayerCache
from moorage.scanner.checks.findings import finding_to_json
from moorage.scanner.limits import ScanLimits
from moorage.scanner.matching import Matcher
from moorage.scanner.report import ScanReport, report_from_json, report_to_json
from moorage.scanner.scan import VULN_SCANNER, ScanOptions, rematch, scan
from moorage.scanner.sources.interface import ImageSource, LayerRef, ResolvedImage
from moorage.services.security.failures import ScanFailure
from moorage.services.security.password_policy import PasswordPolicyPlugin

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
    limits: ScanLimits = field(default_factory=ScanLimits)
    """How much of an image a scan reads (uncompressed bytes, files, archives); past a
    whole-image bound the scan fails with ``image_over_sized``."""


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
        raise ScanFailure(
            "image_layer_over_sized", f"{len(image.layers)} layers, more than the {options.max_layers} allowed"
        )
    size = sum(max(layer.size, 0) for layer in image.layers)
    if size > options.max_image_bytes:
        raise ScanFailure(
            "image_over_sized", f"{size} bytes of layers, more than the {options.max_image_bytes} allowed"
        )


class _Resolved(ImageSource):
    """A source whose image was already resolved (and checked against the limits)."""

    def __init__(self, inner: ImageSource, image: ResolvedImage) -> None:
        self.inner = inner
        self.image = image

    def resolve(self, platform: Platform | None) -> list[ResolvedImage]:
        """The one image, whatever the platform: the registry scans each platform image by digest."""
        return [self.image]

    def fetch(self, image: ResolvedImage, layers: Sequence[LayerRef]) -> ResolvedImage:
        """See :meth:`ImageSource.fetch`."""
        return self.inner.fetch(image, layers)


def scan_image(
    source: ImageSource,
    image: ResolvedImage,
    *,
    options: EngineOptions,
    store: AdvisoryStore | None,
    progress: ProgressCallback | None = None,
) -> ScanWrite:
    """Scan one resolved image into what the registry stores. Without an advisory database the
    vulnerability scanner is left out and the report says so (``skipped_scanners``); the inventory
    is kept, so a database installed later re-matches it. The password policy plug-in runs in the
    same layer passes (the detail queries read its cached results)."""
    check_limits(image, options)
    report = scan(
        _Resolved(source, image),
        ScanOptions(
            scanners=options.scanners,
            advisory_store=store,
            skip_vuln_without_database=True,
            analysis=AnalysisOptions(
                cache=options.cache,
                workers=options.workers,
                executor=options.executor,
                extra_plugins=(PasswordPolicyPlugin(),),
                limits=options.limits,
            ),
        ),
        progress,
    )
    return stored_form(report)


def rematch_report(document: dict[str, Any], store: AdvisoryStore, matcher: Matcher | None = None) -> ScanWrite:
    """Match a stored report's inventory against ``store`` again (no layer is read)."""
    return stored_form(rematch(report_from_json(document), store, matcher=matcher))


def stored_form(report: ScanReport) -> ScanWrite:
    """A scan report as the registry stores it: the report, its findings as rows, the summary."""
    vulnerabilities = tuple(
        VulnerabilityRow(
            finding_key=v.finding_id,
            vul_id=f.vulnerability_id,
            aliases=f.aliases,
            severity=f.severity.value,
            score=f.score,
            ecosystem=f.ecosystem.value,
            package_name=f.package_name,
            package_version=f.installed_version,
            purl=f.purl,
            path=f.path,
            layer_digest=f.layer_digest,
            fixed_version=f.fixed_version,
            fix_state=f.fix_state.value,
            title=f.title,
        )
        for v in report.vulnerabilities
        for f in (v.finding,)
    )
    findings = tuple(
        FindingRow(
            finding_key=r.finding_id,
            category=r.finding.category.value,
            rule_id=r.finding.rule_id,
            severity=r.finding.severity.value,
            path=r.finding.path,
            layer_digest=r.finding.layer_digest,
            title=r.finding.message,
            detail=finding_to_json(r.finding),
        )
        for r in report.findings
    )
    summary = summarize(
        [(v.vul_id, v.severity, v.aliases) for v in vulnerabilities],
        [(f.category, f.rule_id, f.severity, f.path) for f in findings],
    )
    database = report.database.built_at if report.database is not None else NO_DATABASE
    skipped = report.skipped_reason(VULN_SCANNER)
    return ScanWrite(
        summary=summary,
        severity_level=summary.level().value,
        report=report_to_json(report),
        vulnerabilities=vulnerabilities,
        findings=findings,
        scanners=",".join(report.scanners),
        advisory_db=database,
        scanner_version=moorage.__version__,
        failed_code=VULNERABILITIES_SKIPPED if skipped is not None else "",
        failed_message=f"vulnerability scan skipped: {skipped}" if skipped is not None else "",
    )


def summarize(
    vulnerabilities: Sequence[tuple[str, str, tuple[str, ...]]], findings: Sequence[tuple[str, str, str, str]]
) -> ScanSummary:
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
    unsafe = tuple(
        (rule, severity)
        for category, rule, severity, _path in findings
        if category in ("baseline", "image_config", "build_command")
    )
    sensitive = sum(1 for category, *_rest in findings if category == "secret")
    return ScanSummary(tuple((vid, sev, aliases) for vid, (sev, aliases) in ordered), malicious, unsafe, sensitive)


def merge_summaries(parts: Sequence[ScanSummary]) -> ScanSummary:
    """The summary of a multi-architecture image: every platform's findings together (a
    vulnerability found in several platforms counts once)."""
    vulnerabilities = [v for part in parts for v in part.vulnerabilities]
    findings = [("malware", rule, "high", path) for part in parts for rule, path in part.malicious_files]
    findings += [("baseline", rule, severity, "") for part in parts for rule, severity in part.unsafe_settings]
    merged = summarize(vulnerabilities, findings)
    return ScanSummary(
        merged.vulnerabilities,
        tuple(dict.fromkeys(merged.malicious_files)),
        tuple(dict.fromkeys(merged.unsafe_settings)),
        sum(p.sensitive for p in parts),
    )
