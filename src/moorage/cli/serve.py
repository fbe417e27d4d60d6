"""``moorage serve``: migrate the schema, prepare defaults, and run the HTTP server."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import typer

from moorage.settings import Settings


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(message)s", stream=sys.stderr)
    logging.getLogger("alembic").setLevel(logging.WARNING)




def register(app: typer.Typer) -> None:
    """Add the ``serve`` command."""

    @app.command()
    def serve(
        host: list[str] | None = typer.Option(
            None, help="Address to listen on; repeat it (or separate with commas) for several "
                       "[env MOORAGE_HOST; 127.0.0.1]"),
        port: int | None = typer.Option(None, help="Port [env MOORAGE_PORT; 5000]"),
        data_dir: Path | None = typer.Option(None, help="Data directory [env MOORAGE_DATA_DIR]"),
        workers: int | None = typer.Option(None, help="HTTP worker processes [env MOORAGE_WORKERS; 1]"),
    ) -> None:
        """Run the registry."""
        hosts = ",".join(host) if host else None
        overrides = {k: v for k, v in {"host": hosts, "port": port, "data_dir": data_dir, "workers": workers}.items()
                     if v is not None}
        settings = Settings(**overrides)  # type: ignore[arg-type]
        _configure_logging(settings.log_level)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        from moorage.bootstrap import bootstrap

        bootstrap(settings)  # migrations and defaults, once, before any worker starts
        from moorage.server import run_server

        run_server(settings)
