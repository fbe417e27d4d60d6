"""Migrations build exactly the schema the code declares, on both databases, and run twice safely."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from moorage.metadata.database import Database
from moorage.metadata.migrate import upgrade
from moorage.metadata.tables import metadata
from tests.conftest import DATABASES


@pytest.mark.parametrize("kind", DATABASES)
def test_migrated_schema_matches_the_tables(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}" if kind == "sqlite" else request.getfixturevalue("pg_database_url")
    db = Database(url)
    try:
        upgrade(db)
        upgrade(db)  # idempotent: a second start changes nothing
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == [], f"the migrations and metadata/tables.py disagree: {diff}"
    finally:
        db.dispose()


def test_head_revision_constant_is_alembics_head() -> None:
    from alembic.script import ScriptDirectory

    from moorage.metadata.migrate import HEAD_REVISION, alembic_config

    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert heads == [HEAD_REVISION], "update HEAD_REVISION in metadata/migrate.py with the new migration"
