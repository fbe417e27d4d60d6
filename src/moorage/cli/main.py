"""The ``moorage`` command: builds the Typer application from the command modules."""

from __future__ import annotations

import sys

import typer
from pydantic import ValidationError

import moorage
from moorage.cli import admin, audit, config, gc, migrate, sbom, scan, serve, vulndb, worker

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
migrate.register(app)
admin.register(app)
vulndb.register(app)
sbom.register(app)
scan.register(app)
config.register(app)
gc.register(app)
audit.register(app)


def settings_error_lines(error: ValidationError) -> list[str]:
    """One line per invalid setting, naming it and saying what is wrong, never echoing the value
    given (it may be a secret: a password in a database URL, a master key)."""
    lines = []
    for problem in error.errors(include_input=False, include_url=False):
        name = "__".join(str(part) for part in problem["loc"]).upper()
        lines.append(
            f"moorage: invalid setting MOORAGE_{name}: {problem['msg']}"
            if name
            else f"moorage: invalid settings: {problem['msg']}"
        )
    return lines


def run() -> None:
    """Console-script entry point: invalid settings, and a master key other than the database's, end
    the command with one line each (exit 2) instead of a traceback."""
    from moorage.auth.keys import MasterKeyMismatch

    try:
        app()
    except MasterKeyMismatch as error:
        print(f"moorage: {error}", file=sys.stderr)
        sys.exit(2)
    except ValidationError as error:
        if error.title != "Settings":
            raise
        for line in settings_error_lines(error):
            print(line, file=sys.stderr)
        sys.exit(2)
