"""The scan orchestrator: image source -> one pass per layer (analyzers and checks together) ->
inventory, check findings -> matching -> :class:`~moorage.scanner.report.ScanReport`.

``scan`` reads an image; ``rematch`` takes a stored report (or a bare inventory) and a new
advisory database and matches again without reading any layer. Both are what the registry's
jobs call; ``moorage scan`` and ``moorage rematch`` are thin commands over them.

Timings are kept per phase: ``resolve`` (manifests and config), ``layers`` (every layer read or
loaded from the cache, analyzers and file checks in the same pass), ``analysis`` (flattening and
the analyzers' collection), ``checks`` (reading back the file checks' results, the filesystem and
config checks), ``matching`` and ``total``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import moorage
from moorage.domain.oci_platform import Platform
from moorage.scanner.advisories.store import SCHEMA_VERSION, AdvisoryStore
from moorage.scanner.analysis import AnalysisOptions, ImageAnalysis, ProgressCallback, analyze_image
from moorage.scanner.check_plugins import CheckPlugins, check_plugins, run_checks
from moorage.scanner.checks import CHECK_SCANNERS, CheckOptions, sort_findings
from moorage.scanner.checks.errors import CheckError
from moorage.scanner.errors import ScannerError
from moorage.scanner.finding_ids import check_finding_id, unique_ids, vulnerability_finding_id
from moorage.scanner.image_inventory import ImageInventory
from moorage.scanner.interface import SkipCode, Skipped
from moorage.scanner.layers import READER
from moorage.scanner.matching import Matcher, VulnerabilityFinding
from moorage.scanner.report import (
    DatabaseVersion,
    ImageIdentity,
    LayerInfo,
    ReportedFinding,
    ReportedVulnerability,
    ScanIssue,
    ScanReport,
    SkippedPackage,
    SkippedScanner,
    now_iso,
)
from moorage.scanner.sources.interface import ImageSource, ResolvedImage, resolve_images

VULN_SCANNER = "vuln"
ALL_SCANNERS = (VULN_SCANNER, *CHECK_SCANNERS)
"""Every scanner, in report order: ``vuln``, ``secret``, ``malware``, ``config``."""
NO_ADVISORY_DATABASE = "no advisory database"
"""The reason a report gives for a ``vuln`` scanner that did not run for want of a database."""


class ScanSetupError(ScannerError):
    """The scan cannot start as asked: an unknown scanner, no advisory database, a bad rule file."""

    code = "invalid_options"


def parse_scanners(text: str) -> tuple[str, ...]:
    """``vuln,secret`` -> ``("vuln", "secret")`` in report order; ScanSetupError on unknown names."""
    names = {part.strip().lower() for part in text.split(",") if part.strip()}
    unknown = names - set(ALL_SCANNERS)
    if unknown or not names:
        raise ScanSetupError(
            f"unknown scanner(s): {', '.join(sorted(unknown)) or '(none given)'} (known: {', '.join(ALL_SCANNERS)})"
        )
    return tuple(s for s in ALL_SCANNERS if s in names)


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """How to scan."""

    scanners: tuple[str, ...] = ALL_SCANNERS
    """Which scanners run (``vuln`` needs ``advisory_store``)."""
    check_options: CheckOptions = field(default_factory=CheckOptions)
    """Extra YARA rules, blocklists, allowlists and switches for the checks."""
    advisory_store: AdvisoryStore | None = field(default=None, compare=False)
    """An open advisory database (the caller closes it); required for ``vuln``."""
    skip_vuln_without_database: bool = False
    """Without ``advisory_store``, leave ``vuln`` out and say so in the report (``skipped_scanners``)
    instead of refusing to scan: the inventory is still made, so a later ``rematch`` can add the
    vulnerabilities."""
    analysis: AnalysisOptions = field(default_factory=AnalysisOptions)
    """Analyzers, layer cache, parallelism (the checks are added to its plug-ins)."""
    platform: Platform | None = None
    """The platform to scan in a multi-platform image (default: the host's)."""
    all_platforms: bool = False
    """Scan every platform instead (``scan_images`` only)."""


def _prepare_checks(scanners: Sequence[str], options: CheckOptions) -> CheckPlugins | None:
    wanted = [s for s in scanners if s in CHECK_SCANNERS]
    if not wanted:
        return None
    try:
        return check_plugins(wanted, options)
    except CheckError as exc:
        raise ScanSetupError(str(exc)) from exc


def database_version(store: AdvisoryStore) -> DatabaseVersion:
    """The database's identity for a report: schema version, build time, sources and their sizes."""
    return DatabaseVersion(
        schema_version=SCHEMA_VERSION,
        built_at=store.built_at,
        sources=tuple((source.kind, source.records) for source in store.sources()),
    )


def _history_of_layers(config: dict[str, object], layer_count: int) -> list[str]:
    """``created_by`` of the history entries that made a layer, one per layer (empty when unknown)."""
    history = config.get("history")
    if not isinstance(history, list):
        return [""] * layer_count
    made = [h for h in history if isinstance(h, dict) and not h.get("empty_layer")]
    if len(made) != layer_count:
        return [""] * layer_count
    return [str(h.get("created_by", ""))[:1000] for h in made]


def image_identity(image: ResolvedImage) -> ImageIdentity:
    """What a report says about the scanned image."""
    created_by = _history_of_layers(image.config, len(image.layers))
    created = image.config.get("created")
    return ImageIdentity(
        reference=image.name,
        manifest_digest=image.manifest_digest,
        config_digest=image.config_digest,
        platform=str(image.platform) if image.platform else "",
        created=created if isinstance(created, str) else "",
        layers=tuple(
            LayerInfo(
                index=index,
                digest=layer.digest,
                size=layer.size if layer.size >= 0 else None,
                media_type=layer.media_type,
                created_by=created_by[index],
            )
            for index, layer in enumerate(image.layers)
        ),
    )


def _topmost_index(layer_digests: Sequence[str], digest: str) -> int | None:
    for index in range(len(layer_digests) - 1, -1, -1):
        if layer_digests[index] == digest:
            return index
    return None


def report_vulnerabilities(
    findings: Sequence[VulnerabilityFinding],
    layer_digests: Sequence[str],
    previous: Sequence[ReportedVulnerability] = (),
) -> tuple[ReportedVulnerability, ...]:
    """Findings with their ids and layer positions; an id from ``previous`` is kept for the same
    package and any shared vulnerability id (a GHSA that gained its CVE keeps its handling)."""
    by_package: dict[str, list[ReportedVulnerability]] = {}
    for old in previous:
        by_package.setdefault(old.finding.package_key, []).append(old)
    used: set[str] = set()
    ids: list[str] = []
    for finding in findings:
        carried = next(
            (
                old.finding_id
                for old in by_package.get(finding.package_key, ())
                if old.finding_id not in used and set(old.finding.ids) & set(finding.ids)
            ),
            None,
        )
        if carried is not None:
            used.add(carried)
        ids.append(carried or vulnerability_finding_id(finding))
    return tuple(
        ReportedVulnerability(finding_id, finding, _topmost_index(layer_digests, finding.layer_digest))
        for finding_id, finding in zip(unique_ids(ids), findings, strict=True)
    )


def _match(
    matcher: Matcher, inventory: ImageInventory, layer_digests: Sequence[str], previous: Sequence[ReportedVulnerability]
) -> tuple[tuple[ReportedVulnerability, ...], tuple[SkippedPackage, ...], tuple[ScanIssue, ...]]:
    result = matcher.match(inventory.packages, inventory.distro)
    vulnerabilities = report_vulnerabilities(result.findings, layer_digests, previous)
    skipped = tuple(SkippedPackage(s.package.purl, s.package.path, s.reason) for s in result.skipped)
    issues = tuple(ScanIssue("matcher", problem, code=SkipCode.MALFORMED.value) for problem in result.problems)
    return vulnerabilities, skipped, issues


def _check_issues(analysis: ImageAnalysis, problems: Sequence[Skipped]) -> list[ScanIssue]:
    """What the checks (and any other plug-in that is not an analyzer) left out; the analyzers' and
    the reader's notes are in the inventory's errors."""
    issues = [ScanIssue("checks", problem.message, code=problem.code.value) for problem in problems]
    in_inventory = {*analysis.inventory.analyzers, READER}
    for scan in analysis.view.layers:
        issues.extend(
            ScanIssue(error.plugin, error.message, error.path, scan.digest, error.code.value)
            for error in scan.errors
            if error.plugin not in in_inventory
        )
    return issues


def _scan_one(
    source: ImageSource,
    image: ResolvedImage,
    options: ScanOptions,
    plugins: CheckPlugins | None,
    matcher: Matcher | None,
    progress: ProgressCallback | None,
) -> ScanReport:
    started = time.perf_counter()
    analysis_options = replace(
        options.analysis,
        extra_plugins=(*options.analysis.extra_plugins, *(plugins.layer_plugins if plugins else ())),
    )
    analysis = analyze_image(source, image, analysis_options, progress)
    image = analysis.image
    layer_digests = [layer.digest for layer in image.layers]
    timings: dict[str, float] = dict(analysis.timings)

    checks_started = time.perf_counter()
    reported: tuple[ReportedFinding, ...] = ()
    problems: list[Skipped] = []
    if plugins is not None:
        placed, problems = run_checks(plugins, analysis.view, image.config, layer_digests)
        layer_of = {id(p.finding): p.layer_index for p in placed}
        ordered = sort_findings(p.finding for p in placed)
        ids = unique_ids(check_finding_id(f) for f in ordered)
        reported = tuple(
            ReportedFinding(finding_id, finding, layer_of[id(finding)])
            for finding_id, finding in zip(ids, ordered, strict=True)
        )
    timings["checks"] = time.perf_counter() - checks_started

    matching_started = time.perf_counter()
    vulnerabilities: tuple[ReportedVulnerability, ...] = ()
    skipped: tuple[SkippedPackage, ...] = ()
    match_issues: tuple[ScanIssue, ...] = ()
    if matcher is not None:
        vulnerabilities, skipped, match_issues = _match(matcher, analysis.inventory, layer_digests, ())
    timings["matching"] = time.perf_counter() - matching_started
    timings["total"] = time.perf_counter() - started

    return ScanReport(
        image=image_identity(image),
        inventory=analysis.inventory,
        scanners=tuple(options.scanners),
        vulnerabilities=vulnerabilities,
        findings=reported,
        skipped_packages=skipped,
        issues=(*_check_issues(analysis, problems), *match_issues),
        database=database_version(matcher.store) if matcher is not None else None,
        timings=timings,
        created_at=now_iso(),
        generator=f"moorage {moorage.__version__}",
    )


def scan_images(
    source: ImageSource, options: ScanOptions, progress: ProgressCallback | None = None
) -> list[ScanReport]:
    """One report per image the source holds for ``options.platform`` (or every platform)."""
    scanners = parse_scanners(",".join(options.scanners))
    skipped: tuple[SkippedScanner, ...] = ()
    if VULN_SCANNER in scanners and options.advisory_store is None:
        if not options.skip_vuln_without_database:
            raise ScanSetupError("the vuln scanner needs an advisory database (moorage vulndb build; --db)")
        scanners = tuple(s for s in scanners if s != VULN_SCANNER)
        skipped = (SkippedScanner(VULN_SCANNER, NO_ADVISORY_DATABASE),)
    options = replace(options, scanners=scanners)
    plugins = _prepare_checks(scanners, options.check_options)
    matcher = Matcher(options.advisory_store) if VULN_SCANNER in scanners and options.advisory_store else None
    started = time.perf_counter()
    images = resolve_images(source, options.platform, all_platforms=options.all_platforms)
    resolved = time.perf_counter() - started
    reports = []
    for image in images:
        report = _scan_one(source, image, options, plugins, matcher, progress)
        timings = {"resolve": resolved / len(images), **report.timings}
        timings["total"] += timings["resolve"]
        reports.append(replace(report, timings=timings, skipped_scanners=skipped))
    return reports


def scan(
    source: ImageSource, options: ScanOptions | None = None, progress: ProgressCallback | None = None
) -> ScanReport:
    """Scan the source's image for ``options.platform`` (default: the host's) into one report."""
    options = options or ScanOptions()
    if options.all_platforms:
        raise ScanSetupError("scan() makes one report: use scan_images() for every platform")
    (report,) = scan_images(source, options, progress)
    return report


def _inventory_identity(inventory: ImageInventory) -> ImageIdentity:
    return ImageIdentity(
        reference=inventory.name,
        manifest_digest=inventory.manifest_digest,
        platform=inventory.platform,
        layers=tuple(LayerInfo(index, digest) for index, digest in enumerate(inventory.layers)),
    )


def rematch(
    report_or_inventory: ScanReport | ImageInventory, store: AdvisoryStore, *, matcher: Matcher | None = None
) -> ScanReport:
    """Match a stored report's (or a bare inventory's) packages against ``store``; no layer is read.

    The check findings, image identity and inventory of a report are kept as they were; its
    vulnerabilities, skipped packages and database are replaced, each vulnerability keeping the id
    it had when it pairs with an old one (same package, any shared id). Pass a ``matcher`` to
    reuse its compiled ranges across many inventories.
    """
    started = time.perf_counter()
    matcher = matcher or Matcher(store)
    if isinstance(report_or_inventory, ScanReport):
        old = report_or_inventory
    else:
        old = ScanReport(
            image=_inventory_identity(report_or_inventory),
            inventory=report_or_inventory,
            scanners=(),
        )
    layer_digests = [layer.digest for layer in old.image.layers] or list(old.inventory.layers)
    vulnerabilities, skipped, match_issues = _match(matcher, old.inventory, layer_digests, old.vulnerabilities)
    elapsed = time.perf_counter() - started
    kept_issues = tuple(issue for issue in old.issues if issue.scanner != "matcher")
    scanners = set(old.scanners) | {VULN_SCANNER}
    timings: dict[str, Any] = {"matching": elapsed, "total": elapsed}
    return replace(
        old,
        scanners=tuple(s for s in ALL_SCANNERS if s in scanners),
        vulnerabilities=vulnerabilities,
        skipped_packages=skipped,
        skipped_scanners=tuple(s for s in old.skipped_scanners if s.scanner != VULN_SCANNER),
        issues=(*kept_issues, *match_issues),
        database=database_version(store),
        timings=timings,
        created_at=now_iso(),
        generator=f"moorage {moorage.__version__}",
    )
