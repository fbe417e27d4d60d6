"""Portable ``INSERT ... ON CONFLICT`` for SQLite and PostgreSQL (both speak it, with one syntax each).

Building a statement costs more than running it: SQLAlchemy coerces every value and computes the
statement's cache key on each construction (0.15-0.45 ms per insert here). ``insert_ignore`` of one
row therefore builds its statement once per table and conflict target and passes the row as
parameters; the hot registry queries do the same with prebuilt statements and ``bindparam``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from moorage.metadata import direct


def _insert(conn: Connection, table: Table) -> Any:
    return postgresql.insert(table) if conn.dialect.name == "postgresql" else sqlite.insert(table)


@lru_cache(maxsize=256)
def _ignoring_statement(dialect: str, table: Table, conflict: tuple[str, ...]) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING`` per dialect, table and conflict target (a few
    dozen): built once, as it depends on nothing else."""
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return insert.on_conflict_do_nothing(index_elements=list(conflict)).returning(table.c[conflict[0]])


def insert_ignore(
    conn: Connection, table: Table, values: Mapping[str, Any] | Sequence[Mapping[str, Any]], *, conflict: Sequence[str]
) -> int:
    """Insert unless a row with the same ``conflict`` columns exists; return rows inserted. Counted with
    RETURNING: rowcount is not reliable for INSERT ... ON CONFLICT across drivers (psycopg reports -1)."""
    if isinstance(values, Mapping):
        return len(direct.run(conn, _ignoring_statement(conn.dialect.name, table, tuple(conflict)), values).rows)
    stmt = _insert(conn, table).values(values).on_conflict_do_nothing(index_elements=list(conflict))
    result = conn.execute(stmt.returning(table.c[conflict[0]]))
    return len(result.fetchall())


def upsert(
    conn: Connection, table: Table, values: Mapping[str, Any], *, conflict: Sequence[str], update: Sequence[str]
) -> None:
    """Insert, or update ``update`` columns of the row that has the same ``conflict`` columns."""
    stmt = _insert(conn, table).values(values)
    stmt = stmt.on_conflict_do_update(index_elements=list(conflict), set_={c: stmt.excluded[c] for c in update})
    conn.execute(stmt)


def bytewise(conn: Connection, column: Any) -> Any:
    """``column`` compared and sorted byte by byte (the OCI spec's lexical order) on every database:
    PostgreSQL's default collation would sort by locale rules instead."""
    return column.collate("C") if conn.dialect.name == "postgresql" else column
