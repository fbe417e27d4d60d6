"""Report writers: one per ``moorage scan --format``, each turning scan reports into text."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from moorage.scanner.report import ScanReport


class ReportWriter(ABC):
    """Renders scan reports in one format."""

    format_name: ClassVar[str]
    """What ``--format`` calls it."""

    @abstractmethod
    def render(self, reports: Sequence[ScanReport]) -> str:
        """The document for one or more reports (several only for ``--platform all``)."""
