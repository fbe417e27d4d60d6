"""Schema migrations (Alembic), run programmatically: no alembic.ini needed.

Every start checks the schema; Alembic (and its half-second import) is only loaded when the
database is not already at ``HEAD_REVISION`` (a test keeps that constant equal to Alembic's head).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from moorage.metadata.database import Database

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD_REVISION = "0010"


def alembic_config(url: str) -> Config:
    """An Alembic configuration pointing at moorage's migrations and ``url``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def current_revision(database: Database) -> str | None:
    """The revision the database is at, or None when it has no schema yet."""
    try:
        with database.engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:
        return None


def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (default: the newest)."""
    if revision == "head" and current_revision(database) == HEAD_REVISION:
        return
    from alembic import command

    with database.engine.begin() as connection:
        config = alembic_config(database.url)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
