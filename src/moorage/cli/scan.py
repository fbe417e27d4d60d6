"""``moorage scan``: vulnerabilities, secrets, malicious files and unsafe settings of an image;
``moorage rematch``: a stored report (or inventory) against a newer advisory database.

Exit status: 0, or ``--exit-code N`` when a finding at the ``--severity`` selection remains (a CI
gate: ``--severity high --exit-code 1``); 2 when the scan cannot run (bad image, options or
database); 3 when the image is past one of the scan's limits (``--max-layer-bytes``...).

With ``--report-to`` (the command ``CreateCicdConfigurationCommand`` generates) the result is
uploaded and the server's CI/CD gate decides instead: 0 passed (or ``--no-block``), 1 failed,
4 the upload was refused or failed (``moorage.cli.cicd_report``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

import typer
from rich.console import Console

from moorage.cli.cicd_report import ReportTarget, report_and_judge
from moorage.cli.image_options import (
    CACHE_DIR_OPTION,
    EXECUTOR_OPTION,
    IMAGE_ARGUMENT,
    MAX_ARCHIVE_BYTES_OPTION,
    MAX_ARCHIVE_DEPTH_OPTION,
    MAX_ARCHIVE_MEMBERS_OPTION,
    MAX_FILE_BYTES_OPTION,
    MAX_IMAGE_BYTES_OPTION,
    MAX_IMAGE_MEMBERS_OPTION,
    MAX_JSON_DEPTH_OPTION,
    MAX_LAYER_BYTES_OPTION,
    MAX_LAYER_MEMBERS_OPTION,
    NO_CACHE_OPTION,
    OUTPUT_OPTION,
    PASSWORD_OPTION,
    PLAIN_HTTP_OPTION,
    PLATFORM_OPTION,
    USERNAME_OPTION,
    WORKERS_OPTION,
    analysis_options,
    layer_progress,
    open_image,
    parse_platform,
    scan_failures,
    scan_limits,
    write_output,
)
from moorage.domain.severity import Severity, parse_severity_filter
from moorage.scanner.advisories.errors import VulnerabilityDatabaseError
from moorage.scanner.advisories.store import AdvisoryStore
from moorage.scanner.checks import CheckOptions
from moorage.scanner.errors import ScannerError
from moorage.scanner.formats import WRITERS, make_writer
from moorage.scanner.matching import Matcher, diff_findings
from moorage.scanner.report import ScanReport, report_or_inventory_from_json
from moorage.scanner.scan import ALL_SCANNERS, VULN_SCANNER, ScanOptions, parse_scanners, rematch, scan_images

FORMAT_OPTION = typer.Option("table", "--format", "-f", help=f"One of: {', '.join(WRITERS)}.")
SEVERITY_OPTION = typer.Option(
    "",
    "--severity",
    help="Report only these severities: one level means it and above (high: high, critical), "
    "a comma list exactly those (low,critical). Default: all.",
)
EXIT_CODE_OPTION = typer.Option(
    0, "--exit-code", help="Exit with this status when any reported finding remains (a CI gate)."
)
DB_HELP = "Advisory database (SQLite, from `moorage vulndb build`)."


class _Failure(Exception):
    """Ends the command with status 2 and a one-line message."""


@contextmanager
def _failures(err: Console) -> Iterator[None]:
    try:
        yield
    except (_Failure, ScannerError, VulnerabilityDatabaseError, OSError) as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from exc


def _finish(
    reports: Sequence[ScanReport],
    *,
    output_format: str,
    severities: frozenset[Severity],
    exit_code: int,
    output: Path | None,
) -> None:
    """Write the (filtered) reports and end with ``exit_code`` when a finding remains."""
    color = output is None and output_format == "table" and sys.stdout.isatty()
    shown = [report.filtered(severities) for report in reports]
    write_output(make_writer(output_format, color=color).render(shown), output)
    if exit_code and any(report.vulnerabilities or report.findings for report in shown):
        raise typer.Exit(exit_code)


def scan(
    image: str = IMAGE_ARGUMENT,
    scanners: str = typer.Option(
        "",
        "--scanners",
        help=f"Comma list of {', '.join(ALL_SCANNERS)}. Default: all (vuln only with a database).",
    ),
    severity: str = SEVERITY_OPTION,
    output_format: str = FORMAT_OPTION,
    exit_code: int = EXIT_CODE_OPTION,
    db: Path | None = typer.Option(None, "--db", envvar="MOORAGE_VULNDB_PATH", help=DB_HELP, dir_okay=False),
    platform: str = PLATFORM_OPTION,
    output: Path | None = OUTPUT_OPTION,
    yara_rules: list[Path] = typer.Option([], "--yara-rules", help="Extra YARA rule file (repeatable)."),
    blocklist: list[Path] = typer.Option([], "--blocklist", help="Extra SHA-256 blocklist file (repeatable)."),
    replace_malware_rules: bool = typer.Option(
        False, "--replace-malware-rules", help="Use only the given YARA rules and blocklists, not the shipped ones."
    ),
    weak_passwords: list[Path] = typer.Option(
        [], "--weak-passwords", help="Extra weak-password dictionary, one word a line (repeatable)."
    ),
    suid_allow: list[str] = typer.Option(
        [], "--suid-allow", help="Set-id program path or glob that is fine (repeatable)."
    ),
    secret_skip_path: list[str] = typer.Option(
        [], "--secret-skip-path", help="Path prefix the secret scan skips (repeatable)."
    ),
    disable_secret_rule: list[str] = typer.Option(
        [], "--disable-secret-rule", help="Secret rule id to switch off, e.g. secret.jwt (repeatable)."
    ),
    cache_dir: Path | None = CACHE_DIR_OPTION,
    no_cache: bool = NO_CACHE_OPTION,
    workers: int = WORKERS_OPTION,
    executor: str = EXECUTOR_OPTION,
    username: str = USERNAME_OPTION,
    password: str = PASSWORD_OPTION,
    plain_http: bool = PLAIN_HTTP_OPTION,
    max_layer_bytes: str = MAX_LAYER_BYTES_OPTION,
    max_image_bytes: str = MAX_IMAGE_BYTES_OPTION,
    max_file_bytes: str = MAX_FILE_BYTES_OPTION,
    max_archive_bytes: str = MAX_ARCHIVE_BYTES_OPTION,
    max_layer_members: int = MAX_LAYER_MEMBERS_OPTION,
    max_image_members: int = MAX_IMAGE_MEMBERS_OPTION,
    max_archive_depth: int = MAX_ARCHIVE_DEPTH_OPTION,
    max_archive_members: int = MAX_ARCHIVE_MEMBERS_OPTION,
    max_json_depth: int = MAX_JSON_DEPTH_OPTION,
    report_to: str = typer.Option(
        "", "--report-to", help="moorage's URL: upload the result to a CI/CD configuration and exit by its gate."
    ),
    cicd_id: str = typer.Option("", "--cicd-id", help="The CI/CD configuration (with --report-to)."),
    cicd_token: str = typer.Option(
        "", "--cicd-token", envvar="MOORAGE_CICD_TOKEN", help="The scan-upload credential of the generated command."
    ),
    cicd_image: str = typer.Option(
        "", "--cicd-image", help="[namespace/]name[:tag] the result is listed under (default: IMAGE)."
    ),
    pipeline_type: str = typer.Option("", "--pipeline-type", help="jenkins, codearts, gitlab, github or other."),
    no_block: bool = typer.Option(False, "--no-block", help="Report the gate's verdict but exit 0 when it fails."),
) -> None:
    """Scan an image for vulnerabilities, secrets, malicious files and unsafe settings."""
    err = Console(stderr=True)
    with (
        _failures(err),
        scan_failures(err, reference=image, output_format=output_format, output=output),
        ExitStack() as stack,
    ):
        if output_format not in WRITERS:
            raise _Failure(f"unknown format {output_format!r}; use one of {', '.join(WRITERS)}")
        if report_to and not (cicd_id and cicd_token):
            raise _Failure("--report-to needs --cicd-id and --cicd-token (or MOORAGE_CICD_TOKEN)")
        try:
            severities = parse_severity_filter(severity)
            wanted, all_platforms = parse_platform(platform)
            limits = scan_limits(
                max_layer_bytes=max_layer_bytes,
                max_image_bytes=max_image_bytes,
                max_file_bytes=max_file_bytes,
                max_archive_bytes=max_archive_bytes,
                max_layer_members=max_layer_members,
                max_image_members=max_image_members,
                max_archive_depth=max_archive_depth,
                max_archive_members=max_archive_members,
                max_json_depth=max_json_depth,
            )
        except ValueError as exc:
            raise _Failure(str(exc)) from exc
        chosen = parse_scanners(scanners) if scanners else ALL_SCANNERS
        store = None
        if VULN_SCANNER in chosen:
            if db is not None:
                store = stack.enter_context(AdvisoryStore(db))
            elif scanners:
                raise _Failure("the vuln scanner needs an advisory database: give --db (or MOORAGE_VULNDB_PATH)")
            elif not report_to:  # with --report-to the server matches the packages against its database
                err.print(
                    "note: no advisory database (--db), so no vulnerability scan", highlight=False, soft_wrap=True
                )
        options = ScanOptions(
            scanners=chosen,
            check_options=CheckOptions(
                yara_rule_files=tuple(yara_rules),
                blocklist_files=tuple(blocklist),
                replace_shipped_malware_rules=replace_malware_rules,
                weak_password_files=tuple(weak_passwords),
                suid_allowlist=tuple(suid_allow),
                secret_skipped_paths=tuple(secret_skip_path),
                disabled_secret_rules=tuple(disable_secret_rule),
            ),
            advisory_store=store,
            skip_vuln_without_database=not scanners,
            analysis=analysis_options(
                no_cache=no_cache, cache_dir=cache_dir, workers=workers, executor=executor, limits=limits
            ),
            platform=wanted,
            all_platforms=all_platforms,
        )
        source = stack.enter_context(
            open_image(
                image, username=username, password=password, plain_http=plain_http, max_json_depth=limits.max_json_depth
            )
        )
        progress = stack.enter_context(layer_progress(err))
        reports = scan_images(source, options, progress)
    if report_to:
        _finish(reports, output_format=output_format, severities=severities, exit_code=0, output=output)
        target = ReportTarget(report_to, cicd_id, cicd_token, cicd_image or image, pipeline_type, not no_block)
        report_and_judge(reports, target, err)
        return
    _finish(reports, output_format=output_format, severities=severities, exit_code=exit_code, output=output)


def rematch_command(
    stored: Path = typer.Argument(
        ...,
        help="A scan report (moorage scan --format json) or an inventory (moorage sbom --format json).",
        exists=True,
        dir_okay=False,
    ),
    db: Path = typer.Option(..., "--db", envvar="MOORAGE_VULNDB_PATH", help=DB_HELP, dir_okay=False),
    severity: str = SEVERITY_OPTION,
    output_format: str = FORMAT_OPTION,
    exit_code: int = EXIT_CODE_OPTION,
    output: Path | None = OUTPUT_OPTION,
) -> None:
    """Match a stored report or inventory against an advisory database again, reading no layer."""
    err = Console(stderr=True)
    with _failures(err):
        if output_format not in WRITERS:
            raise _Failure(f"unknown format {output_format!r}; use one of {', '.join(WRITERS)}")
        try:
            severities = parse_severity_filter(severity)
        except ValueError as exc:
            raise _Failure(str(exc)) from exc
        try:
            doc = json.loads(stored.read_bytes())
        except ValueError as exc:
            raise _Failure(f"{stored} is not JSON: {exc}") from exc
        olds = [report_or_inventory_from_json(d) for d in (doc if isinstance(doc, list) else [doc])]
        with AdvisoryStore(db) as store:
            matcher = Matcher(store)
            reports = [rematch(old, store, matcher=matcher) for old in olds]
        for old, new in zip(olds, reports, strict=True):
            before = [v.finding for v in old.vulnerabilities] if isinstance(old, ScanReport) else []
            change = diff_findings(before, [v.finding for v in new.vulnerabilities])
            err.print(
                f"{new.image.reference}: {len(change.added)} added, {len(change.removed)} removed, "
                f"{len(change.changed)} changed",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    _finish(reports, output_format=output_format, severities=severities, exit_code=exit_code, output=output)


def register(app: typer.Typer) -> None:
    """Add ``scan`` and ``rematch`` to the ``moorage`` command."""
    app.command("scan")(scan)
    app.command("rematch")(rematch_command)
