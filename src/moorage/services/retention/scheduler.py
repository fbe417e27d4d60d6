"""Runs retention on schedule: every shared-edition retention on ``MOORAGE_RETENTION__SCHEDULE``
(daily by default), and every enabled Enterprise Edition policy whose trigger is ``scheduled`` on
its own cron. Every HTTP process looks every few seconds (as the signature policies' scheduler
does); retentions and policies are claimed as every scheduler claims its cron rows
(``services/cron_claims.py``) and each run carries an idempotency key, so several processes or
nodes start each run once. Missed runs are not caught up (a server down at midnight runs the next day)."""

from __future__ import annotations

from moorage.domain.cron import CronSchedule
from moorage.metadata.database import Database, now_ms
from moorage.metadata.queries import retention as shared_q
from moorage.metadata.queries import retention_policies as policy_q
from moorage.metadata.tables import ee_retention_policies, retentions
from moorage.services.cron_claims import claim_fired, look_every
from moorage.services.retention.executions import RetentionExecutions
from moorage.services.retention.shared import SharedRetentionService


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
        if shared_schedule:
            CronSchedule.parse(shared_schedule)  # refused at start, not at each look
        self.shared_schedule = shared_schedule
        self.interval = interval_seconds

    async def tick(self, *, now: int | None = None) -> int:
        """Look once; return how many runs were started."""
        moment = now_ms() if now is None else now
        return await self._shared(moment) + await self._policies(moment)

    async def _shared(self, now: int) -> int:
        if not self.shared_schedule:
            return 0
        started = 0
        fired = await claim_fired(
            self.db,
            retentions,
            await self.db.read(shared_q.schedule_marks),
            row_id=lambda retention_id: retention_id,
            cron=lambda _: self.shared_schedule,
            now=now,
            what="retention",
        )
        for retention_id in fired:
            await self.shared.run_soon(
                retention_id, trigger="scheduled", dedupe_key=f"retention-scheduled:{retention_id}:{now // 1000}"
            )
            started += 1
        return started

    async def _policies(self, now: int) -> int:
        started = 0
        fired = await claim_fired(
            self.db,
            ee_retention_policies,
            await self.db.read(policy_q.scheduled_policies),
            row_id=lambda policy: policy.id,
            cron=lambda policy: policy.trigger.cron,
            now=now,
            what="retention policy",
        )
        for policy in fired:
            key = f"retention-scheduled:{policy.id}:{now // 1000}"
            if await self.executions.start(policy, trigger="scheduled", dry_run=False, dedupe_key=key) is not None:
                started += 1
        return started

    async def run_forever(self) -> None:
        """``tick`` every interval until cancelled."""
        await look_every(self.interval, self.tick, what="retention runs")
