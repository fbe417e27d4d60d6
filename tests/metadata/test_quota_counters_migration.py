"""Migration 0010 starts the organizations' storage counters from the blob links a registry already
holds (both databases): a blob linked by two repositories of one organization counts once."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import insert, select

from moorage.metadata.database import Database
from moorage.metadata.migrate import upgrade
from moorage.metadata.tables import blobs, instances, namespace_blobs, namespace_storage, namespaces, repositories
from moorage.metadata.tables import repository_blobs as links
from tests.conftest import DATABASES


@pytest.mark.parametrize("kind", DATABASES)
def test_the_counters_start_from_the_existing_links(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}" if kind == "sqlite" else request.getfixturevalue("pg_database_url")
    db = Database(url)
    try:
        upgrade(db, "0009")
        with db.engine.begin() as conn:
            conn.execute(insert(instances).values(id="default", name="default", created_at=0))
            conn.execute(
                insert(namespaces),
                [
                    {"id": 1, "instance_id": "default", "name": "one", "created_at": 0},
                    {"id": 2, "instance_id": "default", "name": "two", "created_at": 0},
                ],
            )
            conn.execute(
                insert(repositories),
                [
                    {
                        "id": n,
                        "instance_id": "default",
                        "namespace_id": ns,
                        "name": f"r{n}",
                        "full_name": f"ns{ns}/r{n}",
                        "created_at": 0,
                        "updated_at": 0,
                    }
                    for n, ns in ((1, 1), (2, 1), (3, 2))
                ],
            )
            conn.execute(
                insert(blobs),
                [
                    {"digest": f"sha256:{i:064x}", "size": size, "created_at": 0}
                    for i, size in ((1, 100), (2, 20), (3, 5))
                ],
            )
            conn.execute(
                insert(links),
                [
                    {"repository_id": r, "digest": f"sha256:{i:064x}", "created_at": 0}
                    for r, i in ((1, 1), (2, 1), (2, 2), (3, 1), (3, 3))
                ],
            )
        upgrade(db)
        with db.engine.connect() as conn:
            stored = dict(
                conn.execute(select(namespace_storage.c.namespace_id, namespace_storage.c.stored_bytes)).all()
            )
            counted = conn.execute(
                select(namespace_blobs.c.namespace_id, namespace_blobs.c.digest, namespace_blobs.c.links).order_by(
                    namespace_blobs.c.namespace_id, namespace_blobs.c.digest
                )
            ).all()
        assert stored == {1: 120, 2: 105}
        assert [(ns, int(d[-1]), n) for ns, d, n in counted] == [(1, 1, 2), (1, 2, 1), (2, 1, 1), (2, 3, 1)]
    finally:
        db.dispose()
