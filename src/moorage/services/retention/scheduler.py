"""Runs retention on schedule: every shared-edition retention on ``MOORAGE_RETENTION__SCHEDULE``
(daily by default), and every enabled Enterprise Edition policy whose trigger is ``scheduled`` on
its own cron. Every HTTP process looks every few seconds (as the signature policies' scheduler
does); each retention's and policy's ``last_scheduled_at`` mark is advanced with compare-and-set and
each run carries an idempotency key, so several processes or nodes start each run once. Missed
runs are not caught up (a server down at midnight runs the next day)."""

from __future__ import annotations

import asyncio
import logging
from functools import partial

from moorage.domain.cron import CronSchedule
from moorage.domain.errors import Invalid
from moorage.metadata.database import Database, now_ms
from moorage.metadata.queries import retention as shared_q
from moorage.metadata.queries import retention_policies as policy_q
from moorage.services.retention.executions import RetentionExecutions
from moorage.services.retention.shared import SharedRetentionService

log = logging.getLogger(__name__)

IDLE_MARK_MS = 60_000
"""A mark older than this is advanced even when nothing fired, so the next look scans a short window."""


class RetentionScheduler:
    """Starts the runs whose schedule fired since the last look."""

    def __init__(
        self,
        db: Database,
        shared: SharedRetentionService,
        executions: RetentionExecutions,
        *,
        shared_schedule: str,
        interval_seconds: float,
    ) -> None:
        self.db = db
        self.shared = shared
        self.executions = executions
        self.shared_schedule = CronSchedule.parse(shared_schedule) if shared_schedule else None
        self.interval = interval_seconds

    async def tick(self, *, now: int | None = None) -> int:
        """Look once; return how many runs were started."""
        moment = now_ms() if now is None else now
        return await self._shared(moment) + await self._policies(moment)

    async def _shared(self, now: int) -> int:
        if self.shared_schedule is None:
            return 0
        started = 0
        for retention_id, last in await self.db.read(shared_q.schedule_marks):
            fired = self.shared_schedule.fired_between(last, now)
            if not fired and now - last <= IDLE_MARK_MS:
                continue
            won = await self.db.write(
                partial(shared_q.mark_scheduled, retention_id=retention_id, previous=last, now=now)
            )
            if won and fired:
                await self.shared.run_soon(
                    retention_id, trigger="scheduled", dedupe_key=f"retention-scheduled:{retention_id}:{now // 1000}"
                )
                started += 1
        return started

    async def _policies(self, now: int) -> int:
        started = 0
        for policy, last in await self.db.read(policy_q.scheduled_policies):
            try:
                schedule = CronSchedule.parse(policy.trigger.cron)
            except Invalid:
                log.warning("retention policy %d has an invalid schedule %r", policy.id, policy.trigger.cron)
                continue
            fired = schedule.fired_between(last, now)
            if not fired and now - last <= IDLE_MARK_MS:
                continue
            won = await self.db.write(partial(policy_q.mark_scheduled, policy_id=policy.id, previous=last, now=now))
            if (
                won
                and fired
                and await self.executions.start(
                    policy,
                    trigger="scheduled",
                    dry_run=False,
                    dedupe_key=f"retention-scheduled:{policy.id}:{now // 1000}",
                )
                is not None
            ):
                started += 1
        return started

    async def run_forever(self) -> None:
        """``tick`` every interval until cancelled."""
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("scheduling retention runs failed")
            await asyncio.sleep(self.interval)
