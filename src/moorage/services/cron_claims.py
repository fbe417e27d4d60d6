"""The one way a scheduler claims cron rows (signature, retention and replication policies, the
shared edition's retentions): read each row's mark (``last_scheduled_at``), work out whether its cron
fired since, and advance the marks of the rows that are due in one write transaction by
compare-and-set (``metadata/queries/cron_marks``), so of several processes or nodes looking at the
same moment exactly one runs each fire. A mark older than ``IDLE_MARK_MS`` is advanced even when
nothing fired, so the next look scans a short window. Missed fires are not caught up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from sqlalchemy import Table

from moorage.domain.cron import CronSchedule
from moorage.domain.errors import Invalid
from moorage.metadata.database import Database
from moorage.metadata.queries import cron_marks

log = logging.getLogger(__name__)

IDLE_MARK_MS = 60_000
"""A mark older than this is advanced even when nothing fired, so the next look scans a short window."""

T = TypeVar("T")


async def claim_fired(
    db: Database,
    table: Table,
    marks: Sequence[tuple[T, int]],
    *,
    row_id: Callable[[T], int],
    cron: Callable[[T], str],
    now: int,
    what: str,
) -> list[T]:
    """The rows of ``marks`` (row, mark) whose cron fired in (mark, now] and whose mark this process
    moved to ``now``: the fires this process runs. ``what`` names the rows in the warning about an
    invalid cron (such a row is skipped)."""
    due: list[tuple[T, int, bool]] = []
    for item, last in marks:
        try:
            schedule = CronSchedule.parse(cron(item))
        except Invalid:
            log.warning("%s %d has an invalid schedule %r", what, row_id(item), cron(item))
            continue
        fired = schedule.fired_between(last, now)
        if fired or now - last > IDLE_MARK_MS:
            due.append((item, last, fired))
    if not due:
        return []
    claims = [(row_id(item), last) for item, last, _ in due]
    won = await db.write(lambda conn: cron_marks.advance(conn, table, claims, now=now))
    return [item for item, _, fired in due if fired and row_id(item) in won]


async def look_every(interval_seconds: float, tick: Callable[[], Awaitable[object]], *, what: str) -> None:
    """Run a scheduler's ``tick`` every interval until cancelled; a failed look is logged and the
    next one comes as usual."""
    while True:
        try:
            await tick()
        except Exception:
            log.exception("scheduling %s failed", what)
        await asyncio.sleep(interval_seconds)
