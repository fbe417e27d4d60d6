"""Portable ``INSERT ... ON CONFLICT`` for SQLite and PostgreSQL (both speak it, with one syntax each)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection


def _insert(conn: Connection, table: Table) -> Any:
    return postgresql.insert(table) if conn.dialect.name == "postgresql" else sqlite.insert(table)


def insert_ignore(
    conn: Connection, table: Table, values: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    *, conflict: Sequence[str]
) -> int:
    """Insert unless a row with the same ``conflict`` columns exists; return rows inserted."""
    stmt = _insert(conn, table).values(values).on_conflict_do_nothing(index_elements=list(conflict))
    if conn.dialect.name == "postgresql":
        # SQLAlchemy adds an implicit RETURNING for tables with a generated key, and psycopg then
        # reports rowcount -1 whether or not a row went in: count the returned rows instead.
        return len(conn.execute(stmt.returning(*table.primary_key.columns)).all())
    result = conn.execute(stmt)
    return int(result.rowcount or 0)


def upsert(
    conn: Connection, table: Table, values: Mapping[str, Any], *, conflict: Sequence[str],
    update: Sequence[str]
) -> None:
    """Insert, or update ``update`` columns of the row that has the same ``conflict`` columns."""
    stmt = _insert(conn, table).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(conflict), set_={c: stmt.excluded[c] for c in update}
    )
    conn.execute(stmt)


def bytewise(conn: Connection, column: Any) -> Any:
    """``column`` compared and sorted byte by byte (the OCI spec's lexical order) on every database:
    PostgreSQL's default collation would sort by locale rules instead."""
    return column.collate("C") if conn.dialect.name == "postgresql" else column
