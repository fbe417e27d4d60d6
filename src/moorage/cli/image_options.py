"""What ``moorage sbom`` and ``moorage scan`` share: the image argument, the source, platform,
cache and registry options, and the layer progress bar."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from moorage.clients.auth import Credentials
from moorage.clients.oci_types import ManifestError, Platform
from moorage.scanner.analysis import AnalysisOptions, ProgressCallback
from moorage.scanner.analyzers import default_analyzers
from moorage.scanner.cache import default_cache_dir, make_cache
from moorage.scanner.interface import LayerPlugin
from moorage.scanner.sources import ImageSource

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


def parse_platform(text: str) -> tuple[Platform | None, bool]:
    """``--platform``: (the platform or None for the host's, whether every platform is wanted)."""
    if text in ("", "all"):
        return None, text == "all"
    try:
        return Platform.parse(text), False
    except ManifestError as exc:
        raise ValueError(str(exc)) from exc


def analysis_options(
    *, no_cache: bool, cache_dir: Path | None, workers: int, executor: str, extra_plugins: tuple[LayerPlugin, ...] = ()
) -> AnalysisOptions:
    """Every analyzer, the layer cache the options name, and the parallelism."""
    return AnalysisOptions(
        analyzers=tuple(default_analyzers()),
        extra_plugins=extra_plugins,
        cache=make_cache("none" if no_cache else "directory", cache_dir or default_cache_dir()),
        workers=workers,
        executor=executor,
    )


def open_image(image: str, *, username: str, password: str, plain_http: bool) -> ImageSource:
    """The image source ``image`` names (registry credentials only when a user is given)."""
    from moorage.scanner.sources import open_source

    credentials = Credentials(username, password) if username else None
    return open_source(image, credentials=credentials, plain_http=plain_http or None)


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
