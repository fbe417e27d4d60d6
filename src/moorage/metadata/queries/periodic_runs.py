"""Claims on periodic chores (``periodic_runs``): of every process offering to run a chore, the one
whose compare-and-set moves its ``next_run_at`` past now runs it for that period."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from moorage.domain.periodic import PeriodicRun
from moorage.metadata.tables import periodic_runs
from moorage.metadata.upsert import insert_ignore


def claim(conn: Connection, name: str, *, now: int, period_ms: int, holder: str) -> bool:
    """Whether ``holder`` runs chore ``name`` now (epoch milliseconds): True for exactly one caller per
    period, the one whose conditional update found ``next_run_at`` due. On PostgreSQL a concurrent
    caller waits for the winner's row lock, then finds the row no longer due."""
    insert_ignore(
        conn,
        periodic_runs,
        {"name": name, "next_run_at": 0, "last_run_at": 0, "holder": "", "runs": 0},
        conflict=["name"],
    )
    result = conn.execute(
        update(periodic_runs)
        .where(periodic_runs.c.name == name, periodic_runs.c.next_run_at <= now)
        .values(next_run_at=now + period_ms, last_run_at=now, holder=holder[:255], runs=periodic_runs.c.runs + 1)
    )
    return bool(result.rowcount)


def get(conn: Connection, name: str) -> PeriodicRun | None:
    """The record of chore ``name``, if it ever ran."""
    row = conn.execute(select(periodic_runs).where(periodic_runs.c.name == name)).first()
    if row is None:
        return None
    return PeriodicRun(str(row.name), int(row.next_run_at), int(row.last_run_at), str(row.holder), int(row.runs))
