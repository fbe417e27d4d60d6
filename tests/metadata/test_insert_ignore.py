"""``insert_ignore`` reports truthfully whether it inserted, on both databases, also for tables with a
generated key (where PostgreSQL drivers report no row count): callers decide on it whether to
update instead (a tag that moves) or to refuse (a name that is taken)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import insert, select

from moorage.metadata.database import Database
from moorage.metadata.migrate import upgrade
from moorage.metadata.tables import domains, instances, namespaces
from moorage.metadata.upsert import insert_ignore
from tests.conftest import DATABASES


@pytest.mark.parametrize("kind", DATABASES)
def test_insert_ignore_counts(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}" if kind == "sqlite" else request.getfixturevalue("pg_database_url")
    db = Database(url)
    try:
        upgrade(db)
        with db.write_transaction() as conn:
            conn.execute(insert(instances).values(id="i", name="i", created_at=0))
            conn.execute(insert(domains).values(id="d" * 32, name="d", created_at=0))
            row = {"instance_id": "i", "name": "team", "domain_id": "d" * 32, "created_at": 0}
            assert insert_ignore(conn, namespaces, row, conflict=["instance_id", "name"]) == 1
            assert insert_ignore(conn, namespaces, row, conflict=["instance_id", "name"]) == 0
            two = [{**row, "name": "a"}, {**row, "name": "team"}, {**row, "name": "b"}]
            assert insert_ignore(conn, namespaces, two, conflict=["instance_id", "name"]) == 2
            assert insert_ignore(conn, instances, {"id": "i", "name": "i", "created_at": 0}, conflict=["id"]) == 0
            names = sorted(r[0] for r in conn.execute(select(namespaces.c.name)))
        assert names == ["a", "b", "team"]
    finally:
        db.dispose()
