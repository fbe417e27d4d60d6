"""Executions of signature policies: starting one (manually, on a push, on a schedule), listing
executions, tasks and subtasks, and stopping one.

Starting an execution writes its row (``Initialized``) and submits a job (``Pending``); the job
plans the tasks and subtasks and signs (see ``sign_job``). Everything the listings show lives in
the execution, task and subtask rows, so it survives restarts of the server and of the workers.
"""

from __future__ import annotations

import logging

from sqlalchemy.engine import Connection

from moorage.domain.enterprise import Execution, Page, PageRequest, RunStatus, SignPolicy, SignSubtask, SignTask
from moorage.domain.errors import Invalid, NotFound
from moorage.domain.events import NewEvent, Operation, ResourceType, change_event
from moorage.domain.jobs import JobKind, JobSubmitter
from moorage.metadata.database import Database
from moorage.metadata.queries import sign_runs as q
from moorage.services.events.recorder import record_events
from moorage.services.runs import require_task, stop_requested, submit_execution

log = logging.getLogger(__name__)


def parse_status(status: str | None) -> RunStatus | None:
    """A status filter of the listings (``Invalid`` for an unknown one)."""
    if status is None or status == "":
        return None
    try:
        return RunStatus(status)
    except ValueError:
        raise Invalid(f"status must be one of {', '.join(s.value for s in RunStatus)}, got {status!r}") from None


class ExecutionService:
    """Start, list and stop executions; list their tasks and subtasks."""

    def __init__(self, db: Database, jobs: JobSubmitter) -> None:
        self.db = db
        self.jobs = jobs

    async def start(
        self,
        policy: SignPolicy,
        *,
        trigger: str,
        only_repository: str | None = None,
        only_tag: str | None = None,
        dedupe_key: str | None = None,
    ) -> int | None:
        """A new execution of ``policy`` handed to the job queue; None when ``dedupe_key`` was used."""
        if not policy.enabled and trigger != "manual":
            return None

        def create(conn: Connection) -> int | None:
            created = q.create_execution(
                conn,
                policy_id=policy.id,
                trigger=trigger,
                dedupe_key=dedupe_key,
                only_repository=only_repository,
                only_tag=only_tag,
            )
            if created is not None and trigger == "manual":  # a person asked; pushes and schedules are the system's
                record_events(conn, _event(Operation.CREATE, policy, created))
            return created

        execution_id = await self.db.write(create)
        if execution_id is None:
            return None
        await submit_execution(
            self.db, self.jobs, q, execution_id, kind=JobKind.SIGN_EXECUTION, dedupe_prefix="sign", max_attempts=5
        )
        return execution_id

    async def list_executions(self, policy: SignPolicy, *, page: PageRequest) -> Page[Execution]:
        """Executions of a policy, newest first."""
        return await self.db.read(lambda conn: q.list_executions(conn, policy.id, offset=page.offset, limit=page.limit))

    async def get(self, policy: SignPolicy, execution_id: int) -> Execution:
        """One execution of a policy."""
        found = await self.db.read(lambda conn: q.get_execution(conn, policy.id, execution_id))
        if found is None:
            raise NotFound(f"execution {execution_id} of policy {policy.id} not found", reason="execution_not_found")
        return found

    async def tasks(self, policy: SignPolicy, execution_id: int, *, page: PageRequest) -> Page[SignTask]:
        """Tasks (one per repository) of an execution."""
        await self.get(policy, execution_id)
        return await self.db.read(lambda conn: q.list_tasks(conn, execution_id, offset=page.offset, limit=page.limit))

    async def subtasks(
        self, policy: SignPolicy, execution_id: int, task_id: int, *, status: RunStatus | None, page: PageRequest
    ) -> Page[SignSubtask]:
        """Subtasks (one per signed tag) of a task, optionally of one status
        (ListInstanceSignatureExecutionSubtasks)."""

        def work(conn: Connection) -> Page[SignSubtask]:
            if q.get_execution(conn, policy.id, execution_id) is None:
                raise NotFound(
                    f"execution {execution_id} of policy {policy.id} not found", reason="execution_not_found"
                )
            require_task(q.get_task, conn, execution_id, task_id)
            return q.list_subtasks(conn, task_id, status=status, offset=page.offset, limit=page.limit)

        return await self.db.read(work)

    async def stop(self, policy: SignPolicy, execution_id: int) -> Execution:
        """Ask a running execution to stop; one that has not started is stopped at once."""
        execution = await self.get(policy, execution_id)
        if not await stop_requested(self.jobs, execution_id, execution):
            return await self.get(policy, execution_id)

        def work(conn: Connection) -> None:
            q.stop_unfinished(conn, execution_id)
            q.set_execution_status(conn, execution_id, RunStatus.STOPPED, "stopped on request")
            record_events(conn, _event(Operation.UPDATE, policy, execution_id, stopped=True))

        await self.db.write(work)
        return await self.get(policy, execution_id)


def _event(operation: Operation, policy: SignPolicy, execution_id: int, *, stopped: bool = False) -> NewEvent:
    """The event of a signing execution started by hand or stopped."""
    detail: dict[str, object] = {"execution": execution_id}
    if stopped:
        detail["stopped"] = True
    return change_event(
        operation,
        ResourceType.SIGNATURE_POLICY,
        instance_id=policy.instance_id,
        resource=f"{policy.namespace_name}/{policy.id}",
        namespace=policy.namespace_name,
        detail=detail,
    )
