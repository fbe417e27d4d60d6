"""``moorage vulndb``: build, import, export, update and inspect the advisory database.

The database is one SQLite file given by ``--db`` (or ``MOORAGE_VULNDB_PATH``); without either,
the file ``moorage serve`` uses (the settings' ``MOORAGE_SCANNER__VULNDB_PATH``, else
``vulndb.sqlite`` in the data directory, which ``--data-dir`` or ``MOORAGE_DATA_DIR`` choose as
for ``serve``), so one command updates what the server reads. Progress goes to stderr (bars on a
terminal, one line per source otherwise), so ``--json`` output on stdout stays machine-readable.
Errors in the input (a bad source, a damaged bundle, a missing database) print one line and exit
with status 1.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pydantic
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from moorage.scanner.advisories.builder import build_database, configured_sources, update_database
from moorage.scanner.advisories.bundle import export_bundle, import_bundle
from moorage.scanner.advisories.errors import VulnerabilityDatabaseError
from moorage.scanner.advisories.records import affected_to_json, record_header_to_json
from moorage.scanner.advisories.sources import SourceSpec, parse_source
from moorage.scanner.advisories.store import AdvisoryStore, DatabaseInfo, SourceSummary
from moorage.settings import Settings

DB_OPTION = typer.Option(
    None,
    "--db",
    envvar="MOORAGE_VULNDB_PATH",
    help="Advisory database file (SQLite). Default: the one `moorage serve` uses "
    "(MOORAGE_SCANNER__VULNDB_PATH, else vulndb.sqlite in the data directory).",
    dir_okay=False,
    resolve_path=True,
)
DATA_DIR_OPTION = typer.Option(
    None,
    "--data-dir",
    help="The server's data directory, as for `moorage serve` [env MOORAGE_DATA_DIR].",
    file_okay=False,
)
JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")


class _RichBuildProgress:
    """Draws a download bar and a record counter per source; without a terminal (a log, a CI job),
    prints one line per source as it finishes instead."""

    def __init__(self, progress: Progress, console: Console) -> None:
        self._progress = progress
        self._console = console
        self._download: TaskID | None = None
        self._records: TaskID | None = None
        self._label = ""

    def source_started(self, spec: SourceSpec, position: int, count: int) -> None:
        self._label = f"[{position}/{count}] {spec.kind}"
        self._download = self._progress.add_task(f"{self._label} download", total=None, visible=spec.is_url)
        self._records = self._progress.add_task(f"{self._label} import", total=None)

    def downloaded(self, received: int, total: int | None) -> None:
        if self._download is not None:
            self._progress.update(self._download, completed=received, total=total)

    def records_read(self, count: int) -> None:
        if self._records is not None:
            self._progress.update(self._records, completed=count)

    def source_finished(self, summary: SourceSummary) -> None:
        done = summary.records + summary.cve_metadata
        if self._records is not None:
            outcome = f"failed, left out: {summary.error}" if summary.error else "import"
            self._progress.update(
                self._records, completed=done, total=max(done, 1), description=f"{self._label} {outcome}"
            )
        if self._progress.disable:
            outcome = f"left out: {summary.error}" if summary.error else f"{done} records"
            self._console.print(
                f"{self._label} {summary.location}: {outcome}", highlight=False, soft_wrap=True, markup=False
            )


@contextmanager
def _progress_bars() -> Iterator[_RichBuildProgress]:
    console = Console(stderr=True)
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False, disable=not console.is_terminal) as progress:
        yield _RichBuildProgress(progress, console)


def _fail(error: Exception) -> typer.Exit:
    Console(stderr=True).print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
    return typer.Exit(code=1)


def _run(action: Callable[[], Any]) -> Any:
    try:
        return action()
    except VulnerabilityDatabaseError as error:
        raise _fail(error) from error


def _settings(data_dir: Path | None) -> Settings:
    """The settings ``moorage serve`` would use (``--data-dir`` overriding, as there)."""
    try:
        return Settings(data_dir=data_dir) if data_dir is not None else Settings()
    except pydantic.ValidationError as error:
        raise _fail(VulnerabilityDatabaseError(f"the settings are not valid: {error}")) from error


def _database(db: Path | None, data_dir: Path | None) -> Path:
    """``--db``, else the server's database file."""
    if db is not None:
        return db
    return _settings(data_dir).vulndb_path.expanduser().resolve()


def _info_json(info: DatabaseInfo) -> dict[str, Any]:
    body = asdict(info)
    body["sources"] = [s.to_json() for s in info.sources]
    return body


def _print_info(info: DatabaseInfo, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(_info_json(info), indent=2))
        return
    console = Console()
    console.print(f"database      {info.path}")
    console.print(f"schema        {info.schema_version}")
    console.print(f"built at      {info.built_at}")
    console.print(f"advisories    {info.advisories}")
    console.print(f"affected rows {info.affected}")
    console.print(f"NVD entries   {info.cve_metadata}")
    sources = Table("kind", "location", "records", "NVD", "skipped", "fetched at", title="sources")
    for source in info.sources:
        skipped = ", ".join(f"{reason} {count}" for reason, count in sorted(source.skipped.items())) or "-"
        if source.error:
            skipped = f"FAILED, left out: {source.error}"
        counts = (str(source.records), str(source.cve_metadata))
        sources.add_row(source.kind, escape(source.location), *counts, escape(skipped), source.fetched_at)
    console.print(sources)
    scopes = Table("scope", "affected rows", title="coverage")
    for scope, count in info.scopes.items():
        scopes.add_row(scope, str(count))
    console.print(scopes)


def build(
    source: list[str] = typer.Option(
        ..., "--source", "-s", help="KIND:PATH_OR_URL; kinds: osv, debian, alpine, redhat, nvd. Repeat."
    ),
    db: Path | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Build the database from advisory sources (replaces the file only if every source succeeds)."""
    specs = _run(lambda: [parse_source(text) for text in source])
    database = _database(db, data_dir)
    with _progress_bars() as progress:
        info = _run(lambda: build_database(specs, database, progress=progress))
    _print_info(info, as_json)


def update(db: Path | None = DB_OPTION, data_dir: Path | None = DATA_DIR_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Rebuild the database from the sources it was built from, downloading URLs again; a database
    that does not exist yet is built from the configured sources (MOORAGE_SCANNER__VULNDB_SOURCES,
    what the server fetches by itself). A source the database holds must succeed; others that fail
    are left out and listed."""
    database = _database(db, data_dir)
    specs: list[SourceSpec] | None = None
    if not database.is_file():
        configured = _settings(data_dir).scanner.vulndb_sources
        if not configured:
            raise _fail(
                VulnerabilityDatabaseError(
                    f"no advisory database at {database}, and no sources configured to build one "
                    "(MOORAGE_SCANNER__VULNDB_SOURCES); use `moorage vulndb build -s KIND:URL`"
                )
            )
        specs = _run(lambda: [parse_source(text) for text in configured])
    else:
        _run(lambda: configured_sources(database))
    with _progress_bars() as progress:
        info = _run(lambda: update_database(database, sources=specs, progress=progress))
    _print_info(info, as_json)


def import_command(
    bundle: Path = typer.Argument(..., help="Bundle file made by `moorage vulndb export`.", dir_okay=False),
    db: Path | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Install a prebuilt database bundle (for sites without internet access)."""
    database = _database(db, data_dir)
    info = _run(lambda: import_bundle(bundle, database))
    _print_info(info, as_json)


def export(
    bundle: Path = typer.Argument(..., help="Bundle file to write.", dir_okay=False),
    db: Path | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
) -> None:
    """Write the database as a bundle file that `moorage vulndb import` installs elsewhere."""
    database = _database(db, data_dir)
    manifest = _run(lambda: export_bundle(database, bundle))
    size = manifest["database"]["size"]
    typer.echo(f"wrote {bundle} (database {size} bytes, sha256 {manifest['database']['sha256']})")


def info(db: Path | None = DB_OPTION, data_dir: Path | None = DATA_DIR_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Show the database's schema version, build time, sources with counts, and coverage."""
    database = _database(db, data_dir)

    def read() -> DatabaseInfo:
        with AdvisoryStore(database) as store:
            return store.info()

    _print_info(_run(read), as_json)


def show(
    vulnerability_id: str = typer.Argument(..., help="Any id or alias: CVE-..., GHSA-..., PYSEC-..."),
    db: Path | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
) -> None:
    """Print every stored record known by an id, with its affected packages (explains matches)."""
    database = _database(db, data_dir)

    def read() -> list[dict[str, Any]]:
        with AdvisoryStore(database) as store:
            records = store.find(vulnerability_id)
        return [
            {
                "source": r.source,
                "id": r.id,
                **record_header_to_json(r),
                "affected": [{"scope": a.scope, "name": a.name, **affected_to_json(a)} for a in r.affected],
            }
            for r in records
        ]

    records = _run(read)
    if not records:
        raise _fail(VulnerabilityDatabaseError(f"no record known as {vulnerability_id}"))
    typer.echo(json.dumps(records, indent=2))


def register(app: typer.Typer) -> None:
    """Add the ``vulndb`` command group to the ``moorage`` application."""
    group = typer.Typer(help="The vulnerability advisory database.", no_args_is_help=True)
    group.command("build")(build)
    group.command("update")(update)
    group.command("import")(import_command)
    group.command("export")(export)
    group.command("info")(info)
    group.command("show")(show)
    app.add_typer(group, name="vulndb")
