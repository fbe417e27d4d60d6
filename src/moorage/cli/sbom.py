"""``moorage sbom``: list every package in an image as CycloneDX, SPDX, inventory JSON or a table."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from moorage.cli.image_options import (
    CACHE_DIR_OPTION,
    EXECUTOR_OPTION,
    IMAGE_ARGUMENT,
    MAX_ARCHIVE_BYTES_OPTION,
    MAX_ARCHIVE_DEPTH_OPTION,
    MAX_ARCHIVE_MEMBERS_OPTION,
    MAX_FILE_BYTES_OPTION,
    MAX_IMAGE_BYTES_OPTION,
    MAX_IMAGE_MEMBERS_OPTION,
    MAX_JSON_DEPTH_OPTION,
    MAX_LAYER_BYTES_OPTION,
    MAX_LAYER_MEMBERS_OPTION,
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
    scan_failures,
    scan_limits,
    write_output,
)
from moorage.scanner.analysis import analyze
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
    max_layer_bytes: str = MAX_LAYER_BYTES_OPTION,
    max_image_bytes: str = MAX_IMAGE_BYTES_OPTION,
    max_file_bytes: str = MAX_FILE_BYTES_OPTION,
    max_archive_bytes: str = MAX_ARCHIVE_BYTES_OPTION,
    max_layer_members: int = MAX_LAYER_MEMBERS_OPTION,
    max_image_members: int = MAX_IMAGE_MEMBERS_OPTION,
    max_archive_depth: int = MAX_ARCHIVE_DEPTH_OPTION,
    max_archive_members: int = MAX_ARCHIVE_MEMBERS_OPTION,
    max_json_depth: int = MAX_JSON_DEPTH_OPTION,
) -> None:
    """List every installed package of an image (SBOM)."""
    err = Console(stderr=True)
    try:
        writer = make_writer(output_format)
        wanted, all_platforms = parse_platform(platform)
        limits = scan_limits(
            max_layer_bytes=max_layer_bytes,
            max_image_bytes=max_image_bytes,
            max_file_bytes=max_file_bytes,
            max_archive_bytes=max_archive_bytes,
            max_layer_members=max_layer_members,
            max_image_members=max_image_members,
            max_archive_depth=max_archive_depth,
            max_archive_members=max_archive_members,
            max_json_depth=max_json_depth,
        )
    except ValueError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from exc
    options = analysis_options(
        no_cache=no_cache, cache_dir=cache_dir, workers=workers, executor=executor, limits=limits
    )
    with (
        scan_failures(err, reference=image, output_format=output_format, output=output),
        open_image(
            image, username=username, password=password, plain_http=plain_http, max_json_depth=limits.max_json_depth
        ) as source,
        layer_progress(err) as progress,
    ):
        results = analyze(source, platform=wanted, all_platforms=all_platforms, options=options, progress=progress)
    write_output(writer.render([r.inventory for r in results]), output)


def register(app: typer.Typer) -> None:
    """Add ``sbom`` to the ``moorage`` command."""
    app.command("sbom")(sbom)
