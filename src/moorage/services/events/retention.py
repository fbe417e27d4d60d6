"""Pruning the audit log: events older than ``MOORAGE_EVENTS__AUDIT_RETENTION_DAYS`` (once dispatched)
and finished webhook deliveries as old, in batches of short transactions (the body of the
``events.prune`` job the worker queues every ``MOORAGE_EVENTS__PRUNE_INTERVAL_SECONDS``)."""

from __future__ import annotations

from functools import partial

from moorage.metadata.database import Database, now_ms
from moorage.metadata.queries import events as q
from moorage.metadata.queries import webhooks as webhooks_q

DAY_MS = 86_400_000
BATCH = 2000
"""Rows one transaction deletes: a long prune never holds SQLite's write lock for long."""


def prune(db: Database, *, retention_days: int, now: int | None = None) -> dict[str, int]:
    """Delete what is past its retention; how many events and deliveries went."""
    before = (now if now is not None else now_ms()) - retention_days * DAY_MS
    counts = {"events": 0, "deliveries": 0}
    for key, work in (("events", q.prune), ("deliveries", webhooks_q.prune_deliveries)):
        while True:
            removed = db.run_write(partial(work, before=before, limit=BATCH))
            counts[key] += removed
            if removed < BATCH:
                break
    return counts
