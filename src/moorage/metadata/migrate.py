"""Schema migrations (Alembic), run programmatically: no alembic.ini needed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from moorage.metadata.database import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic configuration pointing at moorage's migrations and ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (default: the newest)."""

    def _run(connection: Connection) -> None:
        config = alembic_config(database.url)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with database.engine.begin() as conn:
        await conn.run_sync(_run)


def upgrade_blocking(url: str, revision: str = "head") -> None:
    """``upgrade`` for synchronous callers (the CLI, before the server's workers start)."""

    async def _main() -> None:
        database = Database(url)
        try:
            await upgrade(database, revision)
        finally:
            await database.dispose()

    asyncio.run(_main())
