"""``direct.run`` answers what ``Connection.execute`` answers for the same prebuilt statement, on SQLite
and PostgreSQL: the same rows with the same Python types (Booleans as bools), IN lists of any length
(none included), rows changed, the driver's errors as SQLAlchemy's, and defaults it cannot fill in
refused up front."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from moorage.metadata import direct
from moorage.metadata.database import Database
from tests.conftest import DATABASES

meta = MetaData()
items = Table(
    "items",
    meta,
    Column("id", Integer, primary_key=True),
    Column("name", String(20), nullable=False, unique=True),
    Column("flag", Boolean, nullable=False),
    Column("size", Integer, nullable=True),
)
with_default = Table("with_default", meta, Column("id", Integer, primary_key=True), Column("n", Integer, default=7))

_BY_NAMES = select(items.c.id, items.c.name, items.c.flag, items.c.size).where(
    items.c.name.in_(bindparam("names", expanding=True))
)
_NOT_IN = select(items.c.name).where(
    items.c.name.not_in(bindparam("names", expanding=True)), items.c.size > bindparam("above")
)
_ADD = {
    name: dialect.insert(items)
    .on_conflict_do_nothing(index_elements=[items.c.name])
    .returning(items.c.id, items.c.flag)
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}
_GROW = update(items).where(items.c.flag == bindparam("which")).values(size=items.c.size + bindparam("by"))
_FLAGGED = select(items.c.name).where(items.c.flag == bindparam("flag")).order_by(items.c.name)

_ADD_STRICT = insert(items)
NAMES = [f"n{i}" for i in range(12)]


@pytest.fixture(params=DATABASES)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'd.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_database_url")
    database = Database(url)
    meta.create_all(database.engine)
    database.run_write(
        lambda conn: conn.execute(
            insert(items), [{"name": n, "flag": i % 3 == 0, "size": i} for i, n in enumerate(NAMES[:8])]
        )
    )
    yield database
    database.dispose()


def _both(db: Database, statement: Any, params: dict[str, Any]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    def work(conn: Connection) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        return direct.run(conn, statement, params).rows, [tuple(r) for r in conn.execute(statement, params)]

    return db.run_read(work)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(st.sampled_from(NAMES), max_size=10), above=st.integers(-1, 9))
def test_in_lists_of_any_length_answer_as_sqlalchemy(db: Database, names: list[str], above: int) -> None:
    mine, theirs = _both(db, _BY_NAMES, {"names": names})
    assert sorted(mine) == sorted(theirs)
    assert all(type(row[2]) is bool for row in mine)  # a Boolean column reads as a bool, as SQLAlchemy's
    mine, theirs = _both(db, _NOT_IN, {"names": names, "above": above})
    assert sorted(mine) == sorted(theirs)


def test_inserts_updates_and_their_counts(db: Database) -> None:
    def work(conn: Connection) -> None:
        add = _ADD[conn.dialect.name]
        added = direct.run(conn, add, {"name": "new", "flag": True, "size": 1})
        assert added.rowcount == 1 and added.one()[1] is True
        assert direct.run(conn, add, {"name": "new", "flag": False, "size": 2}).rows == []  # conflict: nothing
        before = [tuple(r) for r in conn.execute(select(items.c.size).where(items.c.flag).order_by(items.c.id))]
        grown = direct.run(conn, _GROW, {"which": True, "by": 10})
        assert grown.rowcount == len(before)
        after = [tuple(r) for r in conn.execute(select(items.c.size).where(items.c.flag).order_by(items.c.id))]
        assert after == [(None if s is None else s + 10,) for (s,) in before]
        direct.run_many(conn, add, [{"name": f"many{i}", "flag": i == 1, "size": i} for i in range(3)])
        assert direct.run(conn, _FLAGGED, {"flag": True}).rows == [(n,) for n in ["many1", "n0", "n3", "n6", "new"]]
        conn.rollback()

    db.run_write(work)


def test_a_statement_whose_parameter_has_a_python_default_is_refused(db: Database) -> None:
    with pytest.raises(TypeError, match="must be given"):
        db.run_write(lambda conn: direct.run(conn, insert(with_default), {"id": 1}))


def test_driver_errors_are_raised_as_sqlalchemy_raises_them(db: Database) -> None:
    """Callers catch SQLAlchemy's exceptions (a full disk becomes ``StorageFull`` from one)."""
    with pytest.raises(IntegrityError):
        db.run_write(lambda conn: direct.run(conn, _ADD_STRICT, {"id": 1, "name": "n1", "flag": True, "size": 0}))
    with pytest.raises(IntegrityError):
        db.run_write(
            lambda conn: direct.run_many(
                conn, _ADD_STRICT, [{"id": 9000 + i, "name": None, "flag": True, "size": 0} for i in range(2)]
            )
        )


def test_statements_built_per_call_do_not_grow_the_cache_without_bound(db: Database) -> None:
    def work(conn: Connection) -> None:
        for i in range(direct.MAX_FORMS + 10):
            built = select(items.c.name).where(items.c.size == bindparam("size"))  # a new object each time
            assert direct.run(conn, built, {"size": i % 8}).rows == [(NAMES[i % 8],)]

    db.run_read(work)
    assert len(direct._FORMS) <= direct.MAX_FORMS
