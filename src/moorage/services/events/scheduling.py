"""When the prune job is queued: at most once per interval across every worker (the job's dedupe key
names the interval, so several workers queueing it for the same interval make one job)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from moorage.domain.jobs import JobKind

Submit = Callable[..., Any]
"""``JobQueue.submit_blocking``: (kind, params, *, dedupe_key, max_attempts) -> job."""


class PruneSchedule:
    """Queues ``events.prune`` once per ``interval_seconds`` (call ``tick`` often)."""

    def __init__(self, submit: Submit, *, interval_seconds: int) -> None:
        self.submit = submit
        self.interval_seconds = interval_seconds
        self._queued_for = -1

    def tick(self, now: float | None = None) -> bool:
        """Queue the prune of the current interval if this worker has not yet; whether it did."""
        bucket = int((now if now is not None else time.time()) // self.interval_seconds)
        if bucket == self._queued_for:
            return False
        self.submit(JobKind.EVENTS_PRUNE, {}, dedupe_key=f"{JobKind.EVENTS_PRUNE}:{bucket}", max_attempts=3)
        self._queued_for = bucket
        return True
