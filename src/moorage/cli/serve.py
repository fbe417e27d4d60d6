"""``moorage serve``: migrate the schema, prepare defaults, and run the HTTP server."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import typer

from moorage.settings import Settings


def configure_logging(level: str) -> None:
    """Log lines to stderr at ``level`` (Alembic's chatter at warnings only)."""
    logging.basicConfig(level=level.upper(), format="%(message)s", stream=sys.stderr)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    quiet_object_store_client()


def quiet_object_store_client() -> None:
    """botocore and urllib3 at DEBUG write every S3 request's headers and bodies (blob parts of
    megabytes, signed headers naming the access key): never below INFO, whatever ``log_level`` says."""
    for name in ("botocore", "urllib3"):
        logger = logging.getLogger(name)
        logger.setLevel(max(logger.getEffectiveLevel(), logging.INFO))


def use_config_file(config: Path | None) -> None:
    """``--config FILE``: the TOML file, for this process and every process it starts (as if
    ``MOORAGE_CONFIG`` named it)."""
    if config is not None:
        os.environ["MOORAGE_CONFIG"] = str(config.resolve())


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command."""

    @app.command()
    def serve(
        host: list[str] | None = typer.Option(
            None,
            help="Address to listen on; repeat it (or separate with commas) for several [env MOORAGE_HOST; 127.0.0.1]",
        ),
        port: int | None = typer.Option(None, help="Port [env MOORAGE_PORT; 5000]"),
        data_dir: Path | None = typer.Option(None, help="Data directory [env MOORAGE_DATA_DIR]"),
        workers: int | None = typer.Option(
            None, help="HTTP worker processes, 0 for one per CPU [env MOORAGE_WORKERS; 0]"
        ),
        config: Path | None = typer.Option(None, help="TOML configuration file [env MOORAGE_CONFIG]"),
    ) -> None:
        """Run the registry."""
        use_config_file(config)
        hosts = ",".join(host) if host else None
        overrides: dict[str, object] = {
            k: v
            for k, v in {
                "host": hosts,
                "port": port,
                "data_dir": data_dir and data_dir.resolve(),
                "workers": workers,
            }.items()
            if v is not None
        }
        settings = Settings(**overrides)  # type: ignore[arg-type]
        configure_logging(settings.log_level)
        from moorage.bootstrap import bootstrap, prepare_data_dir

        prepare_data_dir(settings)  # the umask every child inherits, and the data directory
        bootstrap(settings)  # migrations and defaults, once, before any worker starts
        from moorage.server import ServerFailed, run_server

        try:
            run_server(settings, overrides=overrides)
        except ServerFailed as failure:
            typer.echo(f"moorage: stopped: {failure}", err=True)
            raise typer.Exit(1) from failure
