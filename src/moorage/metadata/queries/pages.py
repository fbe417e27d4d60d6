"""One page of a listing: the number of rows that match and the rows of the page, by the same
conditions. Every Enterprise listing (registries, policies, executions, tasks, subtasks, keys) had
its own copy of this pair of queries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, FromClause, func, select
from sqlalchemy.engine import Connection


def ordered(column: ColumnElement[Any], *, descending: bool, tiebreak: ColumnElement[Any]) -> tuple[Any, ...]:
    """An ORDER BY on a caller-chosen column, ties broken by ``tiebreak`` (ascending) so paging is stable."""
    return (column.desc() if descending else column, tiebreak)


def page_rows(
    conn: Connection,
    columns: Sequence[ColumnElement[Any]],
    *,
    source: FromClause,
    where: Sequence[ColumnElement[bool]],
    order_by: Sequence[Any],
    offset: int,
    limit: int,
    count_from: FromClause | None = None,
) -> tuple[list[Sequence[Any]], int]:
    """The rows ``offset`` to ``offset + limit`` of ``columns`` from ``source`` (``where``, in
    ``order_by``) and the number of all matching rows, counted in ``count_from`` (``source`` when
    not given: a listing that joins only to name things counts its own table)."""
    total = int(
        conn.execute(
            select(func.count()).select_from(count_from if count_from is not None else source).where(*where)
        ).scalar_one()
    )
    rows = conn.execute(
        select(*columns).select_from(source).where(*where).order_by(*order_by).offset(offset).limit(limit)
    ).all()
    return list(rows), total
