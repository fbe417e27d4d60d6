"""Retention in both editions: the shared edition's retentions (one per repository, SWR's
``date_rule`` / ``tag_rule``) and the Enterprise Edition's retention policies (Harbor's rules), the
jobs that run them, and their scheduler, built together by ``build_retention``.

Retention deletes tags and manifests only, through ``services/image_removal.py`` (the registry's own
queries and tag protection); garbage collection frees the blobs nothing references any more."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from moorage.domain.jobs import JobSubmitter
from moorage.metadata.database import Database
from moorage.services.retention.executions import RetentionExecutions
from moorage.services.retention.policies import RetentionPolicyService
from moorage.services.retention.scheduler import RetentionScheduler
from moorage.services.retention.shared import SharedRetentionService
from moorage.settings import Settings


@dataclass
class RetentionServices:
    """Everything the retention handlers call, and the scheduler the application runs."""

    shared: SharedRetentionService
    policies: RetentionPolicyService
    executions: RetentionExecutions
    scheduler: RetentionScheduler
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    def start(self) -> None:
        """Start the scheduler (from the application's lifespan)."""
        self._task = asyncio.get_running_loop().create_task(self.scheduler.run_forever())

    async def stop(self) -> None:
        """Stop the scheduler."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def build_retention(settings: Settings, db: Database, jobs: JobSubmitter) -> RetentionServices:
    """Build the retention services (no I/O)."""
    shared = SharedRetentionService(db, jobs)
    executions = RetentionExecutions(db, jobs)
    return RetentionServices(
        shared=shared,
        policies=RetentionPolicyService(db),
        executions=executions,
        scheduler=RetentionScheduler(
            db,
            shared,
            executions,
            shared_schedule=settings.retention.schedule,
            interval_seconds=settings.enterprise.schedule_interval_seconds,
        ),
    )
