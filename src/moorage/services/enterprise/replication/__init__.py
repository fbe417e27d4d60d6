"""Enterprise Edition replication: registries (``registries.py``), policies (``policies.py``),
executions and their listings (``executions.py``), what starts them besides a caller
(``triggers.py``: events and schedules) and one run (``runner.py``, through the copy engine of
``moorage.services.replication``). Built together by ``build_replication``."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from moorage.auth.keys import MasterKey
from moorage.domain.jobs import JobSubmitter
from moorage.metadata.database import Database
from moorage.services.enterprise.replication.executions import ReplicationExecutions
from moorage.services.enterprise.replication.policies import ReplicationPolicyService
from moorage.services.enterprise.replication.registries import ReplicationRegistryService
from moorage.services.enterprise.replication.triggers import ReplicationScheduler
from moorage.services.security.remote_access import remote_access_of
from moorage.settings import Settings


@dataclass
class ReplicationServices:
    """What the replication handlers call, and the scheduler of scheduled policies."""

    registries: ReplicationRegistryService
    policies: ReplicationPolicyService
    executions: ReplicationExecutions
    scheduler: ReplicationScheduler
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    async def start_manual(self, *, instance_id: str, policy_id: int) -> int:
        """Run a policy now (ExecuteInstanceReplicationPolicy); the execution's id."""
        policy = await self.policies.get(instance_id=instance_id, policy_id=policy_id)
        execution_id = await self.executions.start(policy, trigger="manual")
        assert execution_id is not None  # manual executions have no idempotency key
        return execution_id

    def start(self) -> None:
        """Start the scheduler (call from the application's lifespan)."""
        self._task = asyncio.get_running_loop().create_task(self.scheduler.run_forever())

    async def stop(self) -> None:
        """Stop the scheduler."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def build_replication(
    settings: Settings, db: Database, master_key: MasterKey, jobs: JobSubmitter
) -> ReplicationServices:
    """The replication services (no I/O)."""
    executions = ReplicationExecutions(db, jobs)
    return ReplicationServices(
        registries=ReplicationRegistryService(
            db, master_key, remote_access_of(settings), max_registries=settings.replication.max_registries
        ),
        policies=ReplicationPolicyService(db, max_policies=settings.replication.max_policies),
        executions=executions,
        scheduler=ReplicationScheduler(db, executions, interval_seconds=settings.enterprise.schedule_interval_seconds),
    )
