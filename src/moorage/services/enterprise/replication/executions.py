"""Executions of replication policies (``ExecuteInstanceReplicationPolicy``,
``ListInstanceReplicationPolicyExecutions``, ``...ExecTasks``, ``...ExecSubTasks``,
``StopInstanceReplicationPolicyExecution``): starting one (manually, on the policy's schedule, or
for an event), listing executions, tasks and subtasks, and stopping one.

Starting writes the execution row (``Initialized``) and a ``enterprise.replication_execution`` job
(``Pending``); the job plans one task per artifact and copies them (``runner.py``). An event-based
execution is created inside the event dispatcher's transaction (``start_in``), so an event never
starts two and a rolled-back dispatch starts none.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy.engine import Connection

from moorage.domain.enterprise import Page, PageRequest, RunStatus
from moorage.domain.errors import NotFound
from moorage.domain.jobs import JobKind, JobSubmitter
from moorage.domain.replication import ReplicationExecution, ReplicationPolicy, ReplicationSubtask, ReplicationTask
from moorage.metadata.database import Database
from moorage.metadata.queries import jobs as jobs_q
from moorage.metadata.queries import replication_runs as q
from moorage.services.runs import require_task, stop_requested, submit_execution

JOB_ATTEMPTS = 3


def start_in(
    conn: Connection,
    policy: ReplicationPolicy,
    *,
    trigger: str,
    scope: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
) -> str | None:
    """Create an execution and its job row in ``conn``'s transaction; the job's id to send once it
    commits (None when ``dedupe_key`` was used)."""
    execution_id = q.create_execution(
        conn, policy_id=policy.id, instance_id=policy.instance_id, trigger=trigger, scope=scope, dedupe_key=dedupe_key
    )
    if execution_id is None:
        return None
    job_id = secrets.token_hex(16)
    jobs_q.create(
        conn,
        job_id=job_id,
        kind=JobKind.REPLICATION_EXECUTION,
        params={"execution_id": execution_id},
        max_attempts=JOB_ATTEMPTS,
        dedupe_key=f"replication:{execution_id}",
        domain_id=None,
    )
    q.set_execution_job(conn, execution_id, job_id)
    return job_id


class ReplicationExecutions:
    """Start, list and stop executions; list their tasks and subtasks."""

    def __init__(self, db: Database, jobs: JobSubmitter) -> None:
        self.db = db
        self.jobs = jobs

    async def start(self, policy: ReplicationPolicy, *, trigger: str, dedupe_key: str | None = None) -> int | None:
        """A new execution of the whole policy handed to the job queue; None when ``dedupe_key`` was
        used (or, when not manual, the policy is disabled)."""
        if not policy.enabled and trigger != "manual":
            return None
        execution_id = await self.db.write(
            lambda conn: q.create_execution(
                conn, policy_id=policy.id, instance_id=policy.instance_id, trigger=trigger, dedupe_key=dedupe_key
            )
        )
        if execution_id is None:
            return None
        await submit_execution(
            self.db,
            self.jobs,
            q,
            execution_id,
            kind=JobKind.REPLICATION_EXECUTION,
            dedupe_prefix="replication",
            max_attempts=JOB_ATTEMPTS,
            say_why=False,
        )
        return execution_id

    async def list_executions(
        self, *, instance_id: str, policy_id: int | None, page: PageRequest
    ) -> Page[ReplicationExecution]:
        """Executions of an instance (of one policy), newest first."""
        return await self.db.read(
            lambda conn: q.list_executions(conn, instance_id, policy_id=policy_id, offset=page.offset, limit=page.limit)
        )

    @staticmethod
    def _execution(conn: Connection, instance_id: str, execution_id: int) -> ReplicationExecution:
        found = q.get_execution(conn, instance_id, execution_id)
        if found is None:
            raise NotFound(f"replication execution {execution_id} not found", reason="execution_not_found")
        return found

    async def get(self, *, instance_id: str, execution_id: int) -> ReplicationExecution:
        """One execution."""
        return await self.db.read(lambda conn: self._execution(conn, instance_id, execution_id))

    async def tasks(self, *, instance_id: str, execution_id: int, page: PageRequest) -> Page[ReplicationTask]:
        """Tasks (one per artifact) of an execution."""

        def work(conn: Connection) -> Page[ReplicationTask]:
            self._execution(conn, instance_id, execution_id)
            return q.list_tasks(conn, execution_id, offset=page.offset, limit=page.limit)

        return await self.db.read(work)

    async def subtasks(
        self, *, instance_id: str, execution_id: int, task_id: int, status: RunStatus | None, page: PageRequest
    ) -> Page[ReplicationSubtask]:
        """Subtasks (one per manifest or blob) of a task, optionally of one status."""

        def work(conn: Connection) -> Page[ReplicationSubtask]:
            self._execution(conn, instance_id, execution_id)
            require_task(q.get_task, conn, execution_id, task_id)
            return q.list_subtasks(conn, task_id, status=status, offset=page.offset, limit=page.limit)

        return await self.db.read(work)

    async def stop(self, *, instance_id: str, execution_id: int) -> None:
        """Ask a running execution to stop (it stops between two blobs); one not started stops at once."""
        execution = await self.get(instance_id=instance_id, execution_id=execution_id)
        if not await stop_requested(self.jobs, execution_id, execution):
            return  # the run sees the request and marks what it had not done as stopped

        def work(conn: Connection) -> None:
            q.stop_unfinished(conn, execution_id, "stopped on request")
            q.set_execution_status(conn, execution_id, RunStatus.STOPPED, "stopped on request")

        await self.db.write(work)
