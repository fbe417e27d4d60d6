"""``moorage sbom``: list every package in an image as CycloneDX, SPDX, inventory JSON or a table."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from moorage.clients.auth import Credentials
from moorage.clients.oci_types import ManifestError, Platform
from moorage.scanner.analysis import AnalysisOptions, analyze
from moorage.scanner.analyzers import default_analyzers
from moorage.scanner.cache import default_cache_dir, make_cache
from moorage.scanner.errors import ScannerError
from moorage.scanner.sbom import WRITERS, make_writer


def sbom(
    image: str = typer.Argument(
        ...,
        help="oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE, dir:ROOTFS, "
        "a registry reference, or a path (its kind is detected).",
    ),
    output_format: str = typer.Option("table", "--format", "-f", help=f"One of: {', '.join(WRITERS)}."),
    platform: str = typer.Option(
        "", "--platform", help="os/arch or os/arch/variant, or 'all' (default: this host's)."
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here instead of standard output."),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="Layer cache directory."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Read every layer, keep nothing."),
    workers: int = typer.Option(0, "--workers", help="Parallel layer readers (0: one per core)."),
    executor: str = typer.Option("process", "--executor", help="process, thread or serial."),
    username: str = typer.Option("", "--username", envvar="MOORAGE_REGISTRY_USERNAME", help="Registry user."),
    password: str = typer.Option(
        "", "--password", envvar="MOORAGE_REGISTRY_PASSWORD", help="Registry password."
    ),
    plain_http: bool = typer.Option(False, "--plain-http", help="Talk HTTP, not HTTPS, to the registry."),
) -> None:
    """List every installed package of an image (SBOM)."""
    err = Console(stderr=True)
    try:
        writer = make_writer(output_format)
        wanted = None if platform in ("", "all") else Platform.parse(platform)
    except (ValueError, ManifestError) as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from exc
    options = AnalysisOptions(
        analyzers=tuple(default_analyzers()),
        cache=make_cache("none" if no_cache else "directory", cache_dir or default_cache_dir()),
        workers=workers,
        executor=executor,
    )
    credentials = Credentials(username, password) if username else None
    from moorage.scanner.sources import open_source

    show_progress = sys.stderr.isatty() and not os.environ.get("MOORAGE_NO_PROGRESS")
    try:
        with open_source(image, credentials=credentials, plain_http=plain_http or None) as source:
            if show_progress:
                with Progress(
                    TextColumn("layers"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(),
                    console=err,
                    transient=True,
                ) as bar:
                    task = bar.add_task("layers", total=None)

                    def on_progress(what: str, done: int, total: int) -> None:
                        bar.update(task, completed=done, total=total)

                    results = analyze(
                        source,
                        platform=wanted,
                        all_platforms=platform == "all",
                        options=options,
                        progress=on_progress,
                    )
            else:
                results = analyze(source, platform=wanted, all_platforms=platform == "all", options=options)
    except ScannerError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from exc
    text = writer.render([r.inventory for r in results])
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        output.write_text(text)


def register(app: typer.Typer) -> None:
    """Add ``sbom`` to the ``moorage`` command."""
    app.command("sbom")(sbom)
