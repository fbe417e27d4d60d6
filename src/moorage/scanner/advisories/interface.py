"""The importer contract: one feed format in, advisory records out.

Each importer (``osv``, ``debian``, ``alpine``, ``redhat``, ``nvd``) lives in its own module and
reads a local path (a file, a directory or an archive: the source layer downloads URLs first). It
yields records one at a time, so the builder can stream them into the store and show progress.
Records a source withdrew or that name nothing we can match are not yielded but counted in the
``ImportTally`` with a reason, so ``vulndb info`` can say what was left out and why. A document
that is not in the importer's format at all raises ``FeedFormatError``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar, Protocol

from moorage.scanner.advisories.records import AdvisoryRecord, CveMetadata

MAX_KEPT_WARNINGS = 20


class ImportTally:
    """What an import left out, counted per reason, with the first few details kept for people."""

    def __init__(self) -> None:
        self.skipped: Counter[str] = Counter()
        self.warnings: list[str] = []

    def skip(self, reason: str, detail: str = "") -> None:
        """Count one thing left out for ``reason`` (``withdrawn``, ``unsupported ecosystem``...)."""
        self.skipped[reason] += 1
        if detail and len(self.warnings) < MAX_KEPT_WARNINGS:
            self.warnings.append(f"{reason}: {detail}")


class AdvisoryImporter(Protocol):
    """Reads one feed format."""

    kind: ClassVar[str]
    """Source kind used on the command line (``osv``) and stored as each record's ``source``."""

    def read(self, location: Path, tally: ImportTally) -> Iterator[AdvisoryRecord | CveMetadata]:
        """Yield the feed's records (NVD yields ``CveMetadata``); count what is left out in ``tally``."""
        ...
