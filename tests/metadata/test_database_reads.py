"""``Database`` reads on real SQLite and PostgreSQL: PostgreSQL's run without a transaction (no BEGIN
and COMMIT round trips; each statement has a snapshot of its own, as at READ COMMITTED inside one),
and the pooled connection they used goes back as it came: the next write on it is one transaction
again, rolled back whole on failure, after a read that succeeded or one that failed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from moorage.metadata.database import Database
from tests.conftest import DATABASES


@pytest.fixture(params=DATABASES)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'm.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_database_url")
    # One connection: the read and the write after it share it.
    db = Database(url, pool_size=1, max_overflow=0)
    db.run_write(lambda conn: conn.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY)")))
    yield db
    db.dispose()


def test_postgresql_reads_open_no_transaction(database: Database) -> None:
    if database.dialect != "postgresql":
        pytest.skip("PostgreSQL's reads only")

    def twice(conn: Connection) -> tuple[object, object]:
        first = conn.execute(text("SELECT transaction_timestamp()")).scalar_one()
        time.sleep(0.01)
        return first, conn.execute(text("SELECT transaction_timestamp()")).scalar_one()

    first, second = database.run_read(twice)
    assert second > first  # type: ignore[operator]  # each statement was a transaction of its own

    def in_one(conn: Connection) -> tuple[object, object]:
        first = conn.execute(text("SELECT transaction_timestamp()")).scalar_one()
        time.sleep(0.01)
        return first, conn.execute(text("SELECT transaction_timestamp()")).scalar_one()

    first, second = database.run_write(in_one)
    assert first == second  # writes are one transaction


def _write_then_fail(conn: Connection) -> None:
    conn.execute(text("INSERT INTO t (n) VALUES (1)"))
    raise RuntimeError("the unit of work failed")


def _count(conn: Connection) -> int:
    return int(conn.execute(text("SELECT count(*) FROM t")).scalar_one())


def test_a_write_after_a_read_is_still_one_transaction(database: Database) -> None:
    assert database.run_read(_count) == 0
    with pytest.raises(RuntimeError):
        database.run_write(_write_then_fail)
    assert database.run_read(_count) == 0  # rolled back whole, on the connection the read used


def test_a_read_that_fails_leaves_the_connection_usable(database: Database) -> None:
    with pytest.raises(DBAPIError):
        database.run_read(lambda conn: conn.execute(text("SELECT * FROM missing")).all())
    with pytest.raises(RuntimeError):
        database.run_write(_write_then_fail)
    database.run_write(lambda conn: conn.execute(text("INSERT INTO t (n) VALUES (2)")))
    assert database.run_read(_count) == 1


async def test_async_reads_run_the_same_way(database: Database) -> None:
    assert await database.read(_count) == 0
    assert await database.read(_count, heavy=True) == 0
