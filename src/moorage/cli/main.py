"""The ``moorage`` command: builds the Typer application from the command modules."""

from __future__ import annotations

import typer

import moorage
from moorage.cli import admin, config, sbom, scan, serve, vulndb, worker

app = typer.Typer(
    name="moorage",
    help="moorage: a self-hosted container registry with built-in image security.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"moorage {moorage.__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """moorage: a self-hosted container registry with built-in image security."""


serve.register(app)
worker.register(app)
admin.register(app)
vulndb.register(app)
sbom.register(app)
scan.register(app)
config.register(app)


def run() -> None:
    """Console-script entry point."""
    app()
