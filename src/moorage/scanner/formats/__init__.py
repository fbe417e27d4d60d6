"""Scan report formats (table, JSON, SARIF 2.1.0, CycloneDX 1.6) and :func:`make_writer`, their factory."""

from __future__ import annotations

from moorage.scanner.formats.cyclonedx import CycloneDxVulnerabilityWriter
from moorage.scanner.formats.interface import ReportWriter
from moorage.scanner.formats.json_report import JsonReportWriter
from moorage.scanner.formats.sarif import SarifWriter
from moorage.scanner.formats.table import TableReportWriter

WRITERS: dict[str, type[ReportWriter]] = {
    cls.format_name: cls for cls in (TableReportWriter, JsonReportWriter, SarifWriter, CycloneDxVulnerabilityWriter)
}

__all__ = ["WRITERS", "ReportWriter", "make_writer"]


def make_writer(format_name: str, *, color: bool = False) -> ReportWriter:
    """The writer for ``table``, ``json``, ``sarif`` or ``cyclonedx`` (``color``: table only)."""
    if format_name == TableReportWriter.format_name:
        return TableReportWriter(color=color)
    try:
        return WRITERS[format_name]()
    except KeyError:
        raise ValueError(f"unknown format {format_name!r}; use one of {', '.join(WRITERS)}") from None
