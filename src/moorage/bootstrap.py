"""First-start and every-start preparation: migrate the schema, create the default instance."""

from __future__ import annotations

from moorage.domain.registry import DEFAULT_INSTANCE
from moorage.metadata.database import Database
from moorage.metadata.migrate import upgrade
from moorage.metadata.queries import repositories
from moorage.settings import Settings


def bootstrap(settings: Settings) -> None:
    """Bring the database to the current schema and make sure the defaults exist (idempotent)."""
    database = Database(settings.resolved_database_url, pool_size=1)
    try:
        upgrade(database)
        database.run_write(lambda conn: repositories.ensure_instance(conn, DEFAULT_INSTANCE, DEFAULT_INSTANCE))
    finally:
        database.dispose()
