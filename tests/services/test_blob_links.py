"""Linking a stored blob (``link_blob``) against real SQLite and PostgreSQL: one statement on PostgreSQL
for a repository that exists, the usual path for its first content, the same counters either way;
many pushes of a repository's first blobs at one instant (a barrier) neither deadlock nor miscount;
and the closing PUT's claim takes the collector's fence in the same statement."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from moorage.domain.names import RepositoryName
from moorage.domain.registry import DEFAULT_INSTANCE, UploadTarget
from moorage.metadata.database import Database
from moorage.metadata.migrate import upgrade
from moorage.metadata.queries import blobs as blob_queries
from moorage.metadata.queries import gc as gc_queries
from moorage.metadata.queries import namespace_usage, repositories
from moorage.metadata.queries import quotas as quota_queries
from moorage.metadata.queries import uploads as upload_queries
from moorage.metadata.tables import blobs, namespace_blobs, repository_blobs
from moorage.services.blob_links import link_blob
from tests.conftest import DATABASES

SIZE = 4096


@pytest.fixture(params=DATABASES)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'm.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_database_url")
    db = Database(url, pool_size=16)
    upgrade(db)
    db.run_write(lambda conn: repositories.ensure_instance(conn, DEFAULT_INSTANCE, DEFAULT_INSTANCE))
    yield db
    db.dispose()


def _target(name: str) -> UploadTarget:
    return UploadTarget(DEFAULT_INSTANCE, RepositoryName.parse(name), "tenant")


def _digest(n: int) -> str:
    return "sha256:" + f"{n:064x}"


def _link(database: Database, name: str, digest: str, size: int = SIZE) -> None:
    def work(conn: Connection) -> None:
        gc_queries.writer_fence(conn)
        link_blob(conn, _target(name), digest, size)

    database.run_write(work)


def _figures(database: Database, name: str) -> tuple[int, int, int, int]:
    """(the repository's size, its links, the organization's byte counter, its bytes recounted)."""

    def work(conn: Connection) -> tuple[int, int, int, int]:
        repository = repositories.get(conn, DEFAULT_INSTANCE, RepositoryName.parse(name))
        assert repository is not None
        size = conn.execute(text("SELECT size FROM repositories WHERE id = :id"), {"id": repository.id}).scalar_one()
        links = len(
            conn.execute(
                select(repository_blobs.c.digest).where(repository_blobs.c.repository_id == repository.id)
            ).all()
        )
        return (
            int(size),
            links,
            quota_queries.namespace_stored(conn, DEFAULT_INSTANCE, repository.namespace),
            namespace_usage.computed_stored(conn, repository.namespace_id),
        )

    return database.run_read(work)


def test_add_and_link_reports_new_blobs_and_links_once(database: Database) -> None:
    def first(conn: Connection) -> bool | None:
        return blob_queries.add_and_link(conn, DEFAULT_INSTANCE, "org/a", _digest(1), SIZE)

    assert database.run_write(first) is None  # no repository yet: nothing done
    assert database.run_read(lambda conn: blob_queries.size(conn, _digest(1))) is None
    _link(database, "org/a", _digest(1))  # its first content creates it
    assert (
        database.run_write(lambda conn: blob_queries.add_and_link(conn, DEFAULT_INSTANCE, "org/a", _digest(2), SIZE))
        is True
    )
    assert (
        database.run_write(lambda conn: blob_queries.add_and_link(conn, DEFAULT_INSTANCE, "org/a", _digest(2), SIZE))
        is False
    )  # the same blob again: not new, linked once, counted once
    assert _figures(database, "org/a") == (2 * SIZE, 2, 2 * SIZE, 2 * SIZE)
    # Another repository of the organization linking a blob it holds: a link more, no bytes more.
    _link(database, "org/b", _digest(2))
    _link(database, "org/b", _digest(3), 10)
    assert _figures(database, "org/b") == (SIZE + 10, 2, 2 * SIZE + 10, 2 * SIZE + 10)
    held = database.run_read(
        lambda conn: dict(conn.execute(select(namespace_blobs.c.digest, namespace_blobs.c.links)).all())
    )
    assert held == {_digest(1): 1, _digest(2): 2, _digest(3): 1}


def test_a_blob_linked_again_is_revived(database: Database) -> None:
    _link(database, "org/a", _digest(1))
    database.run_write(
        lambda conn: conn.execute(
            blobs.update().values(deleting_since=1, touched_at=0).where(blobs.c.digest == _digest(1))
        )
    )
    _link(database, "org/b", _digest(1))
    deleting, touched = database.run_read(
        lambda conn: conn.execute(
            select(blobs.c.deleting_since, blobs.c.touched_at).where(blobs.c.digest == _digest(1))
        ).one()
    )
    assert deleting is None and touched > 0


def test_many_first_pushes_at_once_neither_deadlock_nor_miscount(database: Database) -> None:
    """Sixteen pushes into a repository that does not exist yet, at one instant: some create it (the
    usual path), the others find it (one statement on PostgreSQL). Both lock the repository's row and
    the organization's counter in the same order, so none deadlocks."""
    writers, each = 16, 4
    for round_index in range(2):
        name = f"org{round_index}/a"
        barrier = threading.Barrier(writers)

        def push(index: int, name: str = name, barrier: threading.Barrier = barrier, base: int = round_index) -> None:
            barrier.wait()
            for n in range(each):  # the first waves create the repository while the next find it
                _link(database, name, _digest(10_000 * base + 100 * index + n))

        with ThreadPoolExecutor(writers) as pool:
            list(pool.map(push, range(writers)))
        total = writers * each
        assert _figures(database, name) == (total * SIZE, total, total * SIZE, total * SIZE)


def test_claim_in_fence_claims_once_inside_the_fence(database: Database) -> None:
    def claim(conn: Connection) -> tuple[bool, int]:
        claimed = upload_queries.claim_in_fence(conn, "u1")
        if conn.dialect.name != "postgresql":
            return claimed, 1
        held = conn.execute(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND mode = 'ShareLock'"
                " AND granted AND pid = pg_backend_pid()"
            )
        ).scalar_one()
        return claimed, int(held)

    assert database.run_write(claim) == (True, 1)
    assert database.run_write(claim) == (False, 1)  # used up; the fence is taken all the same
    assert database.run_read(lambda conn: upload_queries.claimed(conn, "u1"))
