"""Periodic chores run once per period across every process of every node.

Each ``moorage serve`` HTTP process and each worker offers to run its chores (``domain/periodic.py``) every period;
the database decides which one does (``metadata/queries/periodic_runs``: a compare-and-set on the
chore's next due time), so two nodes never purge the same uploads or recover the same jobs at once,
and the chore keeps running while any process that offers it is alive: a process that dies leaves
the next period to the others.
"""

from __future__ import annotations

import os
import socket

from moorage.domain.periodic import Chore, PeriodicRun
from moorage.metadata.database import Database, now_ms
from moorage.metadata.queries import periodic_runs as q

__all__ = ["Chore", "PeriodicChores", "PeriodicRun"]


class PeriodicChores:
    """Claims the periods of chores for this process."""

    def __init__(self, db: Database, *, holder: str | None = None) -> None:
        self.db = db
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}"

    def claim_blocking(self, chore: Chore, period_seconds: float) -> bool:
        """Whether this process runs ``chore`` now; if so, nobody else does for ``period_seconds``."""
        period_ms = max(int(period_seconds * 1000), 1)
        return self.db.run_write(
            lambda conn: q.claim(conn, chore, now=now_ms(), period_ms=period_ms, holder=self.holder)
        )

    async def claim(self, chore: Chore, period_seconds: float) -> bool:
        """``claim_blocking`` from async code."""
        period_ms = max(int(period_seconds * 1000), 1)
        return await self.db.write(
            lambda conn: q.claim(conn, chore, now=now_ms(), period_ms=period_ms, holder=self.holder)
        )

    def record(self, chore: Chore) -> PeriodicRun | None:
        """The chore's record (who ran it last, how many times)."""
        return self.db.run_read(lambda conn: q.get(conn, chore))
