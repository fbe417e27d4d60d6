"""Building and updating the advisory database from sources.

A build fetches each source (downloads go to a scratch directory beside the database), streams
its importer's records into a new database file, and renames that file over the old one only
when every source succeeded: a failed update leaves the previous database in place, and scans
that hold it open are never disturbed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import httpx

from moorage.scanner.advisories.errors import StoreError
from moorage.scanner.advisories.interface import ImportTally
from moorage.scanner.advisories.records import AdvisoryRecord
from moorage.scanner.advisories.sources import SourceSpec, fetch_source, importer_for, parse_source
from moorage.scanner.advisories.store import AdvisoryStore, AdvisoryStoreWriter, DatabaseInfo, SourceSummary


class BuildProgress(Protocol):
    """Receives progress of a build (the CLI draws bars from it)."""

    def source_started(self, spec: SourceSpec, position: int, count: int) -> None:
        """Source ``position`` (1-based) of ``count`` starts."""

    def downloaded(self, received: int, total: int | None) -> None:
        """Bytes of the current source's download so far."""

    def records_read(self, count: int) -> None:
        """Records (and NVD entries) read from the current source so far."""

    def source_finished(self, summary: SourceSummary) -> None:
        """The current source is done."""


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _import_source(
    spec: SourceSpec,
    position: int,
    scratch: Path,
    writer: AdvisoryStoreWriter,
    progress: BuildProgress | None,
    client: httpx.Client | None,
) -> SourceSummary:
    on_download: Callable[[int, int | None], None] | None = progress.downloaded if progress else None
    fetched_at = _now()
    location = fetch_source(spec, scratch, position=position, client=client, progress=on_download)
    tally = ImportTally()
    records = cves = 0
    for item in importer_for(spec.kind).read(location, tally):
        if isinstance(item, AdvisoryRecord):
            writer.add_record(item)
            records += 1
        else:
            writer.add_cve_metadata(item)
            cves += 1
        if progress is not None and (records + cves) % 500 == 0:
            progress.records_read(records + cves)
    if progress is not None:
        progress.records_read(records + cves)
    return SourceSummary(
        kind=spec.kind,
        location=spec.location,
        records=records,
        cve_metadata=cves,
        skipped=dict(tally.skipped),
        warnings=tuple(tally.warnings),
        fetched_at=fetched_at,
    )


def build_database(
    sources: Sequence[SourceSpec],
    database: Path,
    *,
    progress: BuildProgress | None = None,
    client: httpx.Client | None = None,
) -> DatabaseInfo:
    """Build a database from ``sources`` and put it at ``database`` (replacing any old one)."""
    if not sources:
        raise StoreError("a build needs at least one --source")
    database = database.expanduser()
    database.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".vulndb-build-", dir=database.parent))
    try:
        new_file = scratch / "advisories.sqlite"
        writer = AdvisoryStoreWriter(new_file)
        summaries: list[SourceSummary] = []
        try:
            for position, spec in enumerate(sources, start=1):
                if progress is not None:
                    progress.source_started(spec, position, len(sources))
                summary = _import_source(spec, position, scratch, writer, progress, client)
                summaries.append(summary)
                if progress is not None:
                    progress.source_finished(summary)
        except BaseException:
            writer.abort()
            raise
        writer.finish(built_at=_now(), sources=summaries)
        os.replace(new_file, database)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    with AdvisoryStore(database) as store:
        return store.info()


def configured_sources(database: Path) -> list[SourceSpec]:
    """The sources an existing database was built from (what ``update`` fetches again)."""
    with AdvisoryStore(database.expanduser()) as store:
        return [parse_source(f"{s.kind}:{s.location}") for s in store.sources()]


def update_database(
    database: Path, *, progress: BuildProgress | None = None, client: httpx.Client | None = None
) -> DatabaseInfo:
    """Rebuild ``database`` from the sources recorded in it, fetching URLs again."""
    return build_database(configured_sources(database), database, progress=progress, client=client)
