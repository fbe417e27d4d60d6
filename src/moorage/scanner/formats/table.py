"""Tables for people (Rich): a summary line, the vulnerabilities, then the other findings."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table
from rich.text import Text

from moorage.domain.severity import Severity
from moorage.scanner.checks.findings import MalwareFinding, SecretFinding, SettingFinding
from moorage.scanner.formats.interface import ReportWriter
from moorage.scanner.report import ReportedFinding, ScanReport
from moorage.scanner.sbom.table import skipped_lines
from moorage.scanner.scan import VULN_SCANNER

SEVERITY_STYLES = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "blue",
    Severity.NEGLIGIBLE: "dim",
    Severity.UNKNOWN: "dim",
}


def _severity(severity: Severity) -> Text:
    return Text(severity.value.upper(), style=SEVERITY_STYLES[severity])


def _layer(index: int | None) -> str:
    return "-" if index is None else str(index)


def _title(report: ScanReport) -> str:
    image = report.image
    parts = [image.reference]
    if image.platform:
        parts.append(f"({image.platform})")
    distro = report.inventory.distro
    if distro is not None:
        parts.append(f"- {distro.pretty_name or f'{distro.id} {distro.version_id}'.strip()}")
    return " ".join(parts)


def _age(built_at: str, now: datetime | None) -> str:
    """``3 days old`` (hours below two days); empty when the time does not parse."""
    try:
        built = datetime.fromisoformat(built_at.replace("Z", "+00:00"))
    except ValueError:
        return ""
    if built.tzinfo is None:
        built = built.replace(tzinfo=UTC)
    hours = max(int(((now or datetime.now(UTC)) - built).total_seconds() // 3600), 0)
    return f"{hours // 24} days old" if hours >= 48 else f"{hours} hours old"


def _database(report: ScanReport, now: datetime | None) -> str:
    """What the vulnerability part rests on: the database's build time, age and sources with their
    record counts, or why there is no vulnerability part at all."""
    skipped = report.skipped_reason(VULN_SCANNER)
    if skipped is not None:
        return f"vulnerabilities: skipped: {skipped}"
    database = report.database
    if database is None:
        return ""
    age = _age(database.built_at, now)
    sources = ", ".join(f"{kind} {records}" for kind, records in database.sources)
    details = "; ".join(part for part in (age, f"records: {sources}" if sources else "") if part)
    return f"advisory database built {database.built_at}" + (f" ({details})" if details else "")


def _summary(report: ScanReport) -> str:
    summary = report.summary()
    counts = ", ".join(f"{name} {count}" for name, count in summary["by_severity"].items() if count)
    return f"{summary['total']} findings ({counts or 'none'}); scanners: {', '.join(report.scanners) or 'none'}"


def _detail(reported: ReportedFinding) -> str:
    finding = reported.finding
    parts = [finding.message]
    if isinstance(finding, SecretFinding):
        parts.append(f"match {finding.redacted_match}")
    elif isinstance(finding, SettingFinding) and finding.evidence:
        parts.append(finding.evidence)
    if isinstance(finding, SecretFinding | MalwareFinding) and not finding.in_final_filesystem:
        parts.append("deleted or replaced by a later layer, still shipped in this one")
    return "; ".join(parts)


def _location(reported: ReportedFinding) -> str:
    finding = reported.finding
    if isinstance(finding, SecretFinding):
        return f"{finding.path}:{finding.line}"
    if isinstance(finding, SettingFinding) and finding.history_index is not None:
        return f"history[{finding.history_index}]"
    return finding.path or "(image config)"


class TableReportWriter(ReportWriter):
    """Severity, id, package, versions, layer and title of every vulnerability; then each other finding."""

    format_name = "table"

    def __init__(self, *, color: bool = False, width: int = 180, now: datetime | None = None) -> None:
        """``color``: ANSI colours (for a terminal); ``width``: columns of the tables; ``now``: the
        time the database's age is counted to (default: the clock)."""
        self.color = color
        self.width = width
        self.now = now

    def render(self, reports: Sequence[ScanReport]) -> str:
        """The tables as text (ANSI colours only when ``color``)."""
        out = io.StringIO()
        console = Console(
            file=out,
            width=self.width,
            color_system="standard" if self.color else None,
            force_terminal=self.color,
            highlight=False,
        )
        for report in reports:
            console.print(Text(_title(report), style="bold"))
            console.print(_summary(report))
            database = _database(report, self.now)
            if database:
                console.print(database)
            if report.vulnerabilities:
                table = Table(title="Vulnerabilities", title_justify="left", show_lines=False)
                for column in ("SEVERITY", "ID", "PACKAGE", "INSTALLED", "FIXED", "STATE", "LAYER", "TITLE"):
                    table.add_column(column, overflow="fold")
                for vulnerability in report.vulnerabilities:
                    found = vulnerability.finding
                    table.add_row(
                        _severity(found.severity),
                        found.vulnerability_id,
                        found.package_name,
                        found.installed_version,
                        found.fixed_version or "-",
                        found.fix_state.value,
                        _layer(vulnerability.layer_index),
                        found.title,
                    )
                console.print(table)
            if report.findings:
                table = Table(title="Secrets, malware and settings", title_justify="left", show_lines=False)
                for column in ("SEVERITY", "CATEGORY", "RULE", "WHERE", "LAYER", "DETAIL"):
                    table.add_column(column, overflow="fold")
                for reported in report.findings:
                    finding = reported.finding
                    table.add_row(
                        _severity(finding.severity),
                        finding.category.value,
                        finding.rule_id,
                        _location(reported),
                        _layer(reported.layer_index),
                        _detail(reported),
                    )
                console.print(table)
            if report.skipped_packages:
                console.print(f"{len(report.skipped_packages)} packages not matched (see --format json)")
            skips = [(e.code, e.path, e.analyzer, e.message) for e in report.inventory.errors]
            skips += [(i.code, i.path or "-", i.scanner, i.message) for i in report.issues]
            for line in skipped_lines(skips):
                console.print(line, markup=False, highlight=False)
            console.print()
        return out.getvalue()
