"""Scheduler marks: a row scheduled by cron (a signature, retention or replication policy, a
shared-edition retention) carries ``last_scheduled_at``, the moment a scheduler last considered it.
A scheduler claims a row by moving the mark from the value it read to now (compare-and-set): of
several processes or nodes reading the same mark, exactly one moves it."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table, update
from sqlalchemy.engine import Connection


def advance(conn: Connection, table: Table, marks: Sequence[tuple[int, int]], *, now: int) -> set[int]:
    """Move each ``(id, previous)`` row's mark from ``previous`` to ``now``; the ids this call moved
    (a row another process moved first keeps its new mark and is left out)."""
    won: set[int] = set()
    for row_id, previous in marks:
        moved = conn.execute(
            update(table)
            .where(table.c.id == row_id, table.c.last_scheduled_at == previous)
            .values(last_scheduled_at=now)
        ).rowcount
        if moved:
            won.add(row_id)
    return won
