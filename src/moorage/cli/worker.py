"""``moorage worker``: run background jobs (scans, signing, replication...) on this machine."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import typer

from moorage.settings import Settings


def register(app: typer.Typer) -> None:
    """Add the ``worker`` command."""

    @app.command()
    def worker(
        data_dir: Path | None = typer.Option(None, help="Data directory [env MOORAGE_DATA_DIR]"),
        threads: int | None = typer.Option(None, help="Jobs run at once [env MOORAGE_JOBS__THREADS; 2]"),
        config: Path | None = typer.Option(None, help="TOML configuration file [env MOORAGE_CONFIG]"),
    ) -> None:
        """Run jobs from the queue until interrupted. Several workers on several machines may share one
        database and queue (set MOORAGE_DATABASE_URL and MOORAGE_REDIS_URL)."""
        from moorage.child_process import ConfigurationMismatch, ParentGone, follow_parent, settings_from_parent
        from moorage.cli.serve import use_config_file

        use_config_file(config)
        try:
            follow_parent()  # started by moorage serve: end with it
            settings = settings_from_parent()
        except (ConfigurationMismatch, ParentGone) as error:
            typer.echo(f"moorage worker: {error}", err=True)
            raise typer.Exit(1) from error
        if settings is None:
            overrides: dict[str, object] = {}
            if data_dir is not None:
                overrides["data_dir"] = data_dir
            settings = Settings(**overrides)  # type: ignore[arg-type]
        if threads is not None:
            settings.jobs.threads = threads
        logging.basicConfig(level=settings.log_level.upper(), format="%(message)s", stream=sys.stderr)
        from moorage.cli.serve import quiet_object_store_client

        quiet_object_store_client()
        from moorage.bootstrap import bootstrap, prepare_data_dir
        from moorage.jobs.worker import run_worker

        prepare_data_dir(settings)
        bootstrap(settings)
        run_worker(settings)
