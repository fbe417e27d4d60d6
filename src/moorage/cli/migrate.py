"""``moorage migrate``: bring the database schema up to date and create the defaults, then exit."""

from __future__ import annotations

from pathlib import Path

import typer

from moorage.settings import Settings


def register(app: typer.Typer) -> None:
    """Add the ``migrate`` command."""

    @app.command()
    def migrate(
        data_dir: Path | None = typer.Option(None, help="Data directory [env MOORAGE_DATA_DIR]"),
        config: Path | None = typer.Option(None, help="TOML configuration file [env MOORAGE_CONFIG]"),
    ) -> None:
        """Migrate the database schema and create the defaults (the administrator on first start), then
        exit. ``serve`` and ``worker`` do the same as they start (nodes starting together on PostgreSQL
        take turns); run this once before upgrading the nodes of a scale-out deployment, so that none
        of them starts with a migration to make."""
        from moorage.bootstrap import bootstrap, prepare_data_dir
        from moorage.cli.serve import configure_logging, use_config_file
        from moorage.metadata.database import Database
        from moorage.metadata.migrate import current_revision

        use_config_file(config)
        overrides: dict[str, object] = {"data_dir": data_dir.resolve()} if data_dir is not None else {}
        settings = Settings(**overrides)  # type: ignore[arg-type]
        configure_logging(settings.log_level)
        prepare_data_dir(settings)
        bootstrap(settings)
        database = Database(settings.resolved_database_url, pool_size=1)
        try:
            typer.echo(f"moorage: database schema at revision {current_revision(database)}")
        finally:
            database.dispose()
