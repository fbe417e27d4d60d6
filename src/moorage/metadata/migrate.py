"""Schema migrations (Alembic), run programmatically: no alembic.ini needed.

Every start checks the schema; Alembic (and its half-second import) is only loaded when the
database is not already at ``HEAD_REVISION`` (a test keeps that constant equal to Alembic's head).
Nodes that start together on PostgreSQL take turns (``one_at_a_time``): the first migrates, the
others find the schema current.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from moorage.metadata.database import Database

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD_REVISION = "0021"
BOOTSTRAP_LOCK = 0x6D6F6F72  # "moor": the PostgreSQL advisory lock held while a node migrates and prepares


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


@contextmanager
def one_at_a_time(database: Database) -> Iterator[None]:
    """Hold the database's bootstrap lock for the ``with`` block: on PostgreSQL a session advisory lock,
    so nodes starting together migrate and create the defaults one after another instead of racing
    (the losers of a race failed on "relation already exists" or a duplicate administrator). SQLite
    needs none: its migrations run in a write transaction, which SQLite already serialises, and its
    database belongs to one machine."""
    if database.dialect != "postgresql":
        yield
        return
    with database.engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": BOOTSTRAP_LOCK})
        conn.commit()  # the lock belongs to the session, not to this transaction
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": BOOTSTRAP_LOCK})
            conn.commit()
