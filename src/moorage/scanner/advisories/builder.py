"""Building and updating the advisory database from sources.

A build fetches each source (downloads go to a scratch directory beside the database), streams
its importer's records into a new database file, and renames that file over the old one only
when the build succeeded: a failed update leaves the previous database in place, and scans that
hold it open are never disturbed.

A build succeeds when every source was read, except the sources it was told ``may_fail``: such a
source that fails (a download error, a damaged feed) is left out whole (its records so far are
rolled back) and recorded with its error in the new database's metadata. ``update_database``
uses that so a refresh never loses a source the installed database has (those must succeed) and
a source that never worked does not hold the others back.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import httpx

from moorage.scanner.advisories.errors import SourceFetchError, StoreError, VulnerabilityDatabaseError
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
        """The current source is done (``summary.error`` is set when it failed and was left out)."""


log = logging.getLogger(__name__)


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
    may_fail: Collection[str] = (),
) -> DatabaseInfo:
    """Build a database from ``sources`` and put it at ``database`` (replacing any old one).

    ``may_fail`` names sources (``str(spec)``) whose failure leaves them out instead of failing
    the build; a build where every source failed fails all the same.
    """
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
                try:
                    with writer.source():
                        summary = _import_source(spec, position, scratch, writer, progress, client)
                except VulnerabilityDatabaseError as error:
                    if str(spec) not in may_fail:
                        raise
                    log.debug("advisory source %s left out: %s", spec, error)
                    summary = SourceSummary(
                        kind=spec.kind, location=spec.location, fetched_at=_now(), error=str(error)[:1000]
                    )
                summaries.append(summary)
                if progress is not None:
                    progress.source_finished(summary)
            if all(summary.error for summary in summaries):
                raise SourceFetchError(f"all {len(summaries)} sources failed; the first: {summaries[0].error}")
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


def sources_held(database: Path) -> frozenset[str]:
    """The sources (``str(spec)``) the database at ``database`` holds: read without an error.
    Empty when there is no database there (or it cannot be read: a rebuild replaces it)."""
    database = database.expanduser()
    if not database.is_file():
        return frozenset()
    try:
        with AdvisoryStore(database) as store:
            return frozenset(f"{s.kind}:{s.location}" for s in store.sources() if not s.error)
    except StoreError:
        return frozenset()


def update_database(
    database: Path,
    *,
    sources: Sequence[SourceSpec] | None = None,
    progress: BuildProgress | None = None,
    client: httpx.Client | None = None,
) -> DatabaseInfo:
    """Rebuild ``database`` from ``sources`` (default: those recorded in it), fetching URLs again.

    A source the installed database holds must be read again, or the update fails and the
    installed database stays (a refresh never loses coverage); any other source may fail and is
    then left out and recorded, so a first build is not held back by one unreachable feed.
    """
    specs = list(sources) if sources is not None else configured_sources(database)
    held = sources_held(database)
    may_fail = [str(spec) for spec in specs if str(spec) not in held]
    return build_database(specs, database, progress=progress, client=client, may_fail=may_fail)
