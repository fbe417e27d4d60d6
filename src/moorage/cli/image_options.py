"""What ``moorage sbom`` and ``moorage scan`` share: the image argument, the source, platform,
cache, limit and registry options, the layer progress bar, and how a failed scan ends (exit
status 2, or 3 when the image is past a limit; a ``moorage-scan-failure/1`` document with
``--format json``)."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from moorage.clients.auth import Credentials
from moorage.domain.oci_platform import Platform
from moorage.scanner.analysis import AnalysisOptions, ProgressCallback
from moorage.scanner.analyzers import default_analyzers
from moorage.scanner.cache import default_cache_dir, make_cache
from moorage.scanner.errors import LimitExceeded, ScannerError
from moorage.scanner.failure import failure_document
from moorage.scanner.interface import LayerPlugin
from moorage.scanner.limits import DEFAULT_JSON_DEPTH, ScanLimits
from moorage.scanner.report import now_iso
from moorage.scanner.sources import ImageSource

FAILED_EXIT = 2
"""Exit status of a scan that cannot run (bad options, an unreadable image)."""
LIMIT_EXIT = 3
"""Exit status of a scan refused because the image is past one of its limits."""
LIMIT_OPTIONS = {item.name: "--" + item.name.replace("_", "-") for item in fields(ScanLimits)}
"""``ScanLimits`` field -> the option that sets it (``max_layer_bytes`` -> ``--max-layer-bytes``)."""
_SIZE = re.compile(r"^\s*(\d+)\s*(?:([kmgt])(?:i?b)?|b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}

IMAGE_ARGUMENT = typer.Argument(
    ...,
    help="oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE, dir:ROOTFS, "
    "a registry reference, or a path (its kind is detected).",
)
PLATFORM_OPTION = typer.Option("", "--platform", help="os/arch or os/arch/variant, or 'all' (default: this host's).")
OUTPUT_OPTION = typer.Option(None, "--output", "-o", help="Write here instead of standard output.")
CACHE_DIR_OPTION = typer.Option(None, "--cache-dir", help="Layer cache directory.")
NO_CACHE_OPTION = typer.Option(False, "--no-cache", help="Read every layer, keep nothing.")
WORKERS_OPTION = typer.Option(0, "--workers", help="Parallel layer readers (0: one per core).")
EXECUTOR_OPTION = typer.Option("process", "--executor", help="process, thread or serial.")
USERNAME_OPTION = typer.Option("", "--username", envvar="MOORAGE_REGISTRY_USERNAME", help="Registry user.")
PASSWORD_OPTION = typer.Option("", "--password", envvar="MOORAGE_REGISTRY_PASSWORD", help="Registry password.")
PLAIN_HTTP_OPTION = typer.Option(False, "--plain-http", help="Talk HTTP, not HTTPS, to the registry.")


_DEFAULTS = ScanLimits()
MAX_LAYER_BYTES_OPTION = typer.Option(
    "",
    "--max-layer-bytes",
    help=f"Most uncompressed bytes of one layer (1GiB, 512M...; default {_DEFAULTS.max_layer_bytes}).",
)
MAX_IMAGE_BYTES_OPTION = typer.Option(
    "",
    "--max-image-bytes",
    help=f"Most uncompressed bytes of all layers together (default {_DEFAULTS.max_image_bytes}).",
)
MAX_FILE_BYTES_OPTION = typer.Option(
    "", "--max-file-bytes", help=f"Most bytes of one file read into memory (default {_DEFAULTS.max_file_bytes})."
)
MAX_ARCHIVE_BYTES_OPTION = typer.Option(
    "",
    "--max-archive-bytes",
    help=f"Most bytes inflated out of one jar/war/ear, nested ones included (default {_DEFAULTS.max_archive_bytes}).",
)
MAX_LAYER_MEMBERS_OPTION = typer.Option(
    0, "--max-layer-members", help=f"Most files of one layer (default {_DEFAULTS.max_layer_members})."
)
MAX_IMAGE_MEMBERS_OPTION = typer.Option(
    0, "--max-image-members", help=f"Most files of all layers together (default {_DEFAULTS.max_image_members})."
)
MAX_ARCHIVE_DEPTH_OPTION = typer.Option(
    0, "--max-archive-depth", help=f"Most archives nested in an archive (default {_DEFAULTS.max_archive_depth})."
)
MAX_JSON_DEPTH_OPTION = typer.Option(
    0,
    "--max-json-depth",
    help=f"Deepest nesting of JSON read out of the image: manifests, configs, package databases "
    f"(default {_DEFAULTS.max_json_depth}).",
)
MAX_ARCHIVE_MEMBERS_OPTION = typer.Option(
    0,
    "--max-archive-members",
    help=f"Most members of one archive, nested ones included (default {_DEFAULTS.max_archive_members}).",
)


def parse_size(text: str) -> int:
    """``1073741824``, ``1GiB``, ``1G``, ``512MiB``, ``64k``: a byte count (powers of 1024)."""
    found = _SIZE.match(text)
    if not found:
        raise ValueError(f"{text!r} is not a size (a number of bytes, or 64k, 512MiB, 1G...)")
    return int(found.group(1)) * _UNITS[(found.group(2) or "").lower()]


def scan_limits(
    *,
    max_layer_bytes: str = "",
    max_image_bytes: str = "",
    max_file_bytes: str = "",
    max_archive_bytes: str = "",
    max_layer_members: int = 0,
    max_image_members: int = 0,
    max_archive_depth: int = 0,
    max_archive_members: int = 0,
    max_json_depth: int = 0,
) -> ScanLimits:
    """The limits the options give (an empty or zero option keeps the default); ValueError when bad."""
    given: dict[str, int] = {}
    for name, text in (
        ("max_layer_bytes", max_layer_bytes),
        ("max_image_bytes", max_image_bytes),
        ("max_file_bytes", max_file_bytes),
        ("max_archive_bytes", max_archive_bytes),
    ):
        if text:
            given[name] = parse_size(text)
    for name, count in (
        ("max_layer_members", max_layer_members),
        ("max_image_members", max_image_members),
        ("max_archive_depth", max_archive_depth),
        ("max_archive_members", max_archive_members),
        ("max_json_depth", max_json_depth),
    ):
        if count:
            given[name] = count
    return ScanLimits(**given)


@contextmanager
def scan_failures(err: Console, *, reference: str, output_format: str, output: Path | None) -> Iterator[None]:
    """End a failed scan: ``error: [code] message`` on stderr, the failure document with
    ``--format json``, and status 3 for an image past a limit (2 otherwise)."""
    try:
        yield
    except ScannerError as exc:
        hint = ""
        if isinstance(exc, LimitExceeded):
            hint = f" (raise the limit with {LIMIT_OPTIONS.get(exc.setting, exc.setting)})"
        err.print(f"error: [{exc.code}] {exc}{hint}", markup=False, highlight=False, soft_wrap=True)
        if output_format == "json":
            document = failure_document(reference, exc, created_at=now_iso(), options=LIMIT_OPTIONS)
            write_output(json.dumps(document, indent=2), output)
        raise typer.Exit(LIMIT_EXIT if isinstance(exc, LimitExceeded) else FAILED_EXIT) from exc


def parse_platform(text: str) -> tuple[Platform | None, bool]:
    """``--platform``: (the platform or None for the host's, whether every platform is wanted)."""
    if text in ("", "all"):
        return None, text == "all"
    return Platform.parse(text), False


def analysis_options(
    *,
    no_cache: bool,
    cache_dir: Path | None,
    workers: int,
    executor: str,
    extra_plugins: tuple[LayerPlugin, ...] = (),
    limits: ScanLimits | None = None,
) -> AnalysisOptions:
    """Every analyzer, the layer cache the options name, the parallelism and the limits."""
    return AnalysisOptions(
        analyzers=tuple(default_analyzers()),
        extra_plugins=extra_plugins,
        cache=make_cache("none" if no_cache else "directory", cache_dir or default_cache_dir()),
        workers=workers,
        executor=executor,
        limits=limits or ScanLimits(),
    )


def open_image(
    image: str, *, username: str, password: str, plain_http: bool, max_json_depth: int = DEFAULT_JSON_DEPTH
) -> ImageSource:
    """The image source ``image`` names (registry credentials only when a user is given)."""
    from moorage.scanner.sources import open_source

    credentials = Credentials(username, password) if username else None
    return open_source(image, credentials=credentials, plain_http=plain_http or None, max_json_depth=max_json_depth)


@contextmanager
def layer_progress(err: Console) -> Iterator[ProgressCallback | None]:
    """A layer progress bar on stderr when it is a terminal (and MOORAGE_NO_PROGRESS is unset)."""
    if not sys.stderr.isatty() or os.environ.get("MOORAGE_NO_PROGRESS"):
        yield None
        return
    with Progress(
        TextColumn("layers"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err, transient=True
    ) as bar:
        task = bar.add_task("layers", total=None)

        def on_progress(what: str, done: int, total: int) -> None:
            """Move the bar to ``done`` of ``total`` layers."""
            bar.update(task, completed=done, total=total)

        yield on_progress


def write_output(text: str, output: Path | None) -> None:
    """To ``output``, or to standard output with a final newline."""
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        output.write_text(text)
