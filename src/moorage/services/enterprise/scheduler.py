"""Runs scheduled signature policies. Every HTTP process looks every few seconds; the policies are
claimed as every scheduler claims its cron rows (``services/cron_claims.py``) and each execution
carries a ``scheduled:<policy>:<second>`` idempotency key, so several processes or nodes start each
run once."""

from __future__ import annotations

from moorage.metadata.database import Database, now_ms
from moorage.metadata.queries import enterprise_signing as q
from moorage.metadata.tables import ee_sign_policies
from moorage.services.cron_claims import claim_fired, look_every
from moorage.services.enterprise.executions import ExecutionService


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
        fired = await claim_fired(
            self.db,
            ee_sign_policies,
            await self.db.read(q.scheduled_policies),
            row_id=lambda policy: policy.id,
            cron=lambda policy: policy.trigger.cron,
            now=now,
            what="policy",
        )
        for policy in fired:
            key = f"scheduled:{policy.id}:{now // 1000}"
            if await self.executions.start(policy, trigger="scheduled", dedupe_key=key) is not None:
                started += 1
        return started

    async def run_forever(self) -> None:
        """``tick`` every interval until cancelled."""
        await look_every(self.interval, self.tick, what="signature policies")
