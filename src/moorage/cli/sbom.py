"""``moorage sbom``: list every package in an image as CycloneDX, SPDX, inventory JSON or a table."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from moorage.cli.image_options import (
    CACHE_DIR_OPTION,
    EXECUTOR_OPTION,
    IMAGE_ARGUMENT,
    NO_CACHE_OPTION,
    OUTPUT_OPTION,
    PASSWORD_OPTION,
    PLAIN_HTTP_OPTION,
    PLATFORM_OPTION,
    USERNAME_OPTION,
    WORKERS_OPTION,
    analysis_options,
    layer_progress,
    open_image,
    parse_platform,
    write_output,
)
from moorage.scanner.analysis import analyze
from moorage.scanner.errors import ScannerError
from moorage.scanner.sbom import WRITERS, make_writer


def sbom(
    image: str = IMAGE_ARGUMENT,
    output_format: str = typer.Option("table", "--format", "-f", help=f"One of: {', '.join(WRITERS)}."),
    platform: str = PLATFORM_OPTION,
    output: Path | None = OUTPUT_OPTION,
    cache_dir: Path | None = CACHE_DIR_OPTION,
    no_cache: bool = NO_CACHE_OPTION,
    workers: int = WORKERS_OPTION,
    executor: str = EXECUTOR_OPTION,
    username: str = USERNAME_OPTION,
    password: str = PASSWORD_OPTION,
    plain_http: bool = PLAIN_HTTP_OPTION,
) -> None:
    """List every installed package of an image (SBOM)."""
    err = Console(stderr=True)
    try:
        writer = make_writer(output_format)
        wanted, all_platforms = parse_platform(platform)
    except ValueError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from exc
    options = analysis_options(no_cache=no_cache, cache_dir=cache_dir, workers=workers, executor=executor)
    try:
        with (
            open_image(image, username=username, password=password, plain_http=plain_http) as source,
            layer_progress(err) as progress,
        ):
            results = analyze(source, platform=wanted, all_platforms=all_platforms, options=options, progress=progress)
    except ScannerError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from exc
    write_output(writer.render([r.inventory for r in results]), output)


def register(app: typer.Typer) -> None:
    """Add ``sbom`` to the ``moorage`` command."""
    app.command("sbom")(sbom)
