"""Executions of Enterprise Edition retention policies (``ExecuteInstanceRetentionPolicy``,
``ListInstanceRetentionPolicyExecutions``, ``...ExecTasks``, ``...ExecSubTasks``): starting one
(manually, as a dry run or not, or on the policy's schedule) and listing executions, tasks and
subtasks with the paging and status filter of the signature executions
(ListInstanceSignatureExecutionSubtasks).

Starting an execution writes its row (``Initialized``) and submits an
``enterprise.retention_execution`` job (``Pending``); the job plans and deletes (``runner.py``).
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from moorage.domain.enterprise import Page, PageRequest, RunStatus
from moorage.domain.errors import NotFound
from moorage.domain.jobs import JobKind, JobSubmitter
from moorage.domain.retention import (
    CountedRetentionExecution,
    RetentionExecution,
    RetentionPolicy,
    RetentionSubtask,
    RetentionTask,
)
from moorage.metadata.database import Database
from moorage.metadata.queries import retention_runs as q
from moorage.services.runs import require_task, submit_execution


class RetentionExecutions:
    """Start executions; list them, their tasks and subtasks."""

    def __init__(self, db: Database, jobs: JobSubmitter) -> None:
        self.db = db
        self.jobs = jobs

    async def start(
        self, policy: RetentionPolicy, *, trigger: str, dry_run: bool, dedupe_key: str | None = None
    ) -> int | None:
        """A new execution handed to the job queue; None when ``dedupe_key`` was used (or, for a
        scheduled one, the policy is disabled)."""
        if not policy.enabled and trigger != "manual":
            return None
        execution_id = await self.db.write(
            lambda conn: q.create_execution(
                conn, policy_id=policy.id, trigger=trigger, dry_run=dry_run, dedupe_key=dedupe_key
            )
        )
        if execution_id is None:
            return None
        await submit_execution(
            self.db,
            self.jobs,
            q,
            execution_id,
            kind=JobKind.RETENTION_EXECUTION,
            dedupe_prefix="retention",
            max_attempts=5,
        )
        return execution_id

    async def list_executions(self, policy: RetentionPolicy, *, page: PageRequest) -> Page[RetentionExecution]:
        """Executions of a policy, newest first."""
        return await self.db.read(lambda conn: q.list_executions(conn, policy.id, offset=page.offset, limit=page.limit))

    async def counted_page(self, policy: RetentionPolicy, *, page: PageRequest) -> Page[CountedRetentionExecution]:
        """Executions of a policy, newest first, each with its tasks counted (total, succeeded,
        failed): what the web console lists; one read for the page and its counts."""

        def work(conn: Connection) -> Page[CountedRetentionExecution]:
            found = q.list_executions(conn, policy.id, offset=page.offset, limit=page.limit)
            counts = q.task_counts(conn, [e.id for e in found.items])
            items = []
            for execution in found.items:
                of = counts.get(execution.id, {})
                items.append(
                    CountedRetentionExecution(
                        execution,
                        total=sum(of.values()),
                        succeeded=of.get(RunStatus.SUCCEED.value, 0),
                        failed=of.get(RunStatus.FAILED.value, 0),
                    )
                )
            return Page(items, found.total)

        return await self.db.read(work)

    @staticmethod
    def _execution(conn: Connection, policy: RetentionPolicy, execution_id: int) -> RetentionExecution:
        found = q.get_execution(conn, policy.id, execution_id)
        if found is None:
            raise NotFound(
                f"execution {execution_id} of retention policy {policy.id} not found", reason="execution_not_found"
            )
        return found

    async def get(self, policy: RetentionPolicy, execution_id: int) -> RetentionExecution:
        """One execution of a policy."""
        return await self.db.read(lambda conn: self._execution(conn, policy, execution_id))

    async def tasks(
        self, policy: RetentionPolicy, execution_id: int, *, status: RunStatus | None, page: PageRequest
    ) -> Page[RetentionTask]:
        """Tasks (one per repository) of an execution, optionally of one status."""

        def work(conn: Connection) -> Page[RetentionTask]:
            self._execution(conn, policy, execution_id)
            return q.list_tasks(conn, execution_id, status=status, offset=page.offset, limit=page.limit)

        return await self.db.read(work)

    async def subtasks(
        self, policy: RetentionPolicy, execution_id: int, task_id: int, *, status: RunStatus | None, page: PageRequest
    ) -> Page[RetentionSubtask]:
        """Subtasks (one per artifact to delete) of a task, optionally of one status."""

        def work(conn: Connection) -> Page[RetentionSubtask]:
            self._execution(conn, policy, execution_id)
            require_task(q.get_task, conn, execution_id, task_id)
            return q.list_subtasks(conn, task_id, status=status, offset=page.offset, limit=page.limit)

        return await self.db.read(work)
