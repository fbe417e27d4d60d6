"""Runs scheduled signature policies. Every HTTP process looks every few seconds; a policy's
``last_scheduled_at`` mark is advanced with compare-and-set and each execution carries a
``scheduled:<policy>:<second>`` idempotency key, so several processes or nodes start each run once."""

from __future__ import annotations

import asyncio
import logging
from functools import partial

from moorage.domain.cron import CronSchedule
from moorage.metadata.database import Database, now_ms
from moorage.metadata.queries import enterprise_signing as q
from moorage.services.enterprise.executions import ExecutionService

log = logging.getLogger(__name__)


class PolicyScheduler:
    """Starts executions of scheduled policies whose cron fired since the last look."""

    def __init__(self, db: Database, executions: ExecutionService, *, interval_seconds: float) -> None:
        self.db = db
        self.executions = executions
        self.interval = interval_seconds

    async def tick(self) -> int:
        """Look once; return how many executions were started."""
        now = now_ms()
        started = 0
        for policy, last in await self.db.read(q.scheduled_policies):
            try:
                schedule = CronSchedule.parse(policy.trigger.cron)
            except Exception:
                log.warning("policy %d has an invalid schedule %r", policy.id, policy.trigger.cron)
                continue
            fired = schedule.fired_between(last, now)
            if not fired and now - last <= 60_000:
                continue
            won = await self.db.write(partial(q.mark_scheduled, policy_id=policy.id, previous=last, now=now))
            if not fired:
                continue
            if (
                won
                and await self.executions.start(
                    policy, trigger="scheduled", dedupe_key=f"scheduled:{policy.id}:{now // 1000}"
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
                log.exception("scheduling signature policies failed")
            await asyncio.sleep(self.interval)
