"""``moorage gc``: collect the whole registry's garbage now, in this process, while the server keeps
serving (run it where the server's settings and data directory are)."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from moorage.settings import Settings

console = Console()


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def register(app: typer.Typer) -> None:
    """Add the ``gc`` command."""

    @app.command("gc")
    def gc(
        dry_run: bool = typer.Option(False, "--dry-run", help="Find and count what would be freed; change nothing."),
        as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
        delete_untagged: bool | None = typer.Option(
            None,
            "--delete-untagged/--keep-untagged",
            help="Also delete the shared registry's untagged manifests no tag reaches [env "
            "MOORAGE_GC__DELETE_UNTAGGED; keep]",
        ),
        workers: int | None = typer.Option(
            None, min=1, max=5, help="Storage deletions in flight at once [env MOORAGE_GC__WORKERS; 2]"
        ),
        config: Path | None = typer.Option(None, help="TOML configuration file [env MOORAGE_CONFIG]"),
    ) -> None:
        """Delete blobs no manifest references and no push used for the grace period, repository links
        no manifest uses, expired uploads and orphaned files (and, when asked, untagged manifests), in
        every instance at once; print what was freed. Exit status 1 when a storage error left some
        garbage for the next run."""
        from moorage.bootstrap import bootstrap, prepare_data_dir
        from moorage.cli.serve import use_config_file
        from moorage.domain.gc import GcParameters, GcRunStatus
        from moorage.metadata.database import Database
        from moorage.services.lifecycle.runs import GcRunService
        from moorage.storage.blobstore import BlobStore
        from moorage.storage.drivers import create_driver

        use_config_file(config)
        settings = Settings()
        logging.basicConfig(level=settings.log_level.upper(), format="%(message)s", stream=sys.stderr)
        prepare_data_dir(settings)
        bootstrap(settings)
        parameters = GcParameters(
            delete_untagged=settings.gc.delete_untagged if delete_untagged is None else delete_untagged,
            workers=settings.gc.workers if workers is None else workers,
            dry_run=dry_run,
        )
        database = Database(settings.resolved_database_url, pool_size=2)
        store = BlobStore(create_driver(settings.storage.driver, root=settings.storage_root))
        try:
            run = asyncio.run(GcRunService(database, store, settings.gc, jobs=None).run_here(parameters=parameters))
        finally:
            database.dispose()
        figures = run.figures
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "run": run.id,
                        "status": run.status.value,
                        "dry_run": dry_run,
                        "delete_untagged": parameters.delete_untagged,
                        **figures.to_json(),
                        "freed_bytes": figures.freed_bytes,
                    }
                )
            )
        else:
            verb = "would free" if dry_run else "freed"
            table = Table("", verb, "bytes", title=f"garbage collection {run.id}: {run.status.value}")
            table.add_row("manifests", f"{figures.manifests:,}", "")
            table.add_row("blobs", f"{figures.blobs:,}", f"{figures.bytes:,} ({_size(figures.bytes)})")
            table.add_row("repository links", f"{figures.links:,}", "")
            table.add_row(
                "uploads", f"{figures.uploads:,}", f"{figures.upload_bytes:,} ({_size(figures.upload_bytes)})"
            )
            table.add_row(
                "orphaned blob files",
                f"{figures.orphans:,}",
                f"{figures.orphan_bytes:,} ({_size(figures.orphan_bytes)})",
            )
            table.add_row("total", "", f"{figures.freed_bytes:,} ({_size(figures.freed_bytes)})")
            console.print(table)
            if figures.errors:
                console.print(
                    f"[yellow]{figures.errors} storage errors: those blobs are left for the next run[/yellow]"
                )
        if run.status is not GcRunStatus.SUCCESS or figures.errors:
            raise typer.Exit(1)
