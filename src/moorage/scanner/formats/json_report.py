"""The scan report's own JSON form (``moorage-scan-report/1``; docs/scan-report-format.md)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from moorage.scanner.formats.interface import ReportWriter
from moorage.scanner.report import ScanReport, reports_to_json


class JsonReportWriter(ReportWriter):
    """One report document, or a list of them for several platforms."""

    format_name = "json"

    def render(self, reports: Sequence[ScanReport]) -> str:
        """Indented JSON."""
        return json.dumps(reports_to_json(reports), indent=2)
