"""The service side of runs made of executions, tasks and subtasks (signature, retention and
replication executions), shared by the three: handing a created execution to the job queue,
stopping one, when a running one must stop, and the lookups of the task listings. The SQL side
is ``metadata/queries/runs.py``; each dialect's service keeps its own names and events
(``services/enterprise/executions.py``, ``services/retention/executions.py``,
``services/enterprise/replication/executions.py``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy.engine import Connection

from moorage.domain.enterprise import RunStatus
from moorage.domain.errors import Conflict, NotFound
from moorage.domain.jobs import JobKind, JobSubmitter
from moorage.metadata.database import Database
from moorage.metadata.queries import jobs as jobs_q


class ExecutionQueries(Protocol):
    """What a dialect's query module offers for its executions."""

    def set_execution_status(self, conn: Connection, execution_id: int, status: RunStatus, text: str = "") -> bool: ...

    def set_execution_job(self, conn: Connection, execution_id: int, job_id: str) -> None: ...


class RunState(Protocol):
    """What a stop needs to know of an execution."""

    @property
    def status(self) -> RunStatus: ...

    @property
    def job_id(self) -> str | None: ...


async def submit_execution(
    db: Database,
    jobs: JobSubmitter,
    queries: ExecutionQueries,
    execution_id: int,
    *,
    kind: JobKind,
    dedupe_prefix: str,
    max_attempts: int,
    say_why: bool = True,
) -> None:
    """Hand a created execution to the job queue and record its job (``Pending``). When the queue
    refuses, the execution is ``Failed`` with the reason (its message too when ``say_why``: a
    replication's may name a remote registry's address) and the error goes on."""
    try:
        job = await jobs.submit(
            kind,
            {"execution_id": execution_id},
            dedupe_key=f"{dedupe_prefix}:{execution_id}",
            max_attempts=max_attempts,
        )
    except Exception as exc:
        reason = f"the job queue refused the execution: {type(exc).__name__}" + (f": {exc}" if say_why else "")
        await db.write(lambda conn: queries.set_execution_status(conn, execution_id, RunStatus.FAILED, reason))
        raise
    await db.write(lambda conn: queries.set_execution_job(conn, execution_id, job.id))


async def stop_requested(jobs: JobSubmitter, execution_id: int, execution: RunState) -> bool:
    """Ask an execution's job to stop; True when nothing runs it any more, so the caller marks it
    stopped now (otherwise the run sees the request and marks what it had not done).
    ``Conflict`` for an execution that has finished."""
    if execution.status.finished:
        raise Conflict(
            f"execution {execution_id} has already finished ({execution.status.value})", reason="execution_finished"
        )
    if execution.job_id is not None:
        job = await jobs.stop(execution.job_id)
        if not job.status.finished:
            return False
    return True


def require_task(
    get_task: Callable[[Connection, int, int], Any], conn: Connection, execution_id: int, task_id: int
) -> None:
    """``NotFound`` unless ``task_id`` is a task of the execution."""
    if get_task(conn, execution_id, task_id) is None:
        raise NotFound(f"task {task_id} of execution {execution_id} not found", reason="task_not_found")


def must_stop(conn: Connection, job_id: str, still_there: Callable[[Connection], object | None]) -> bool:
    """Whether a running execution must stop: its job was asked to (the API's stop), or what it runs
    is gone (``still_there`` answers None: the execution, or its policy, was deleted)."""
    return jobs_q.stop_requested(conn, job_id) or still_there(conn) is None


class StopPoll:
    """When a run asks the database again whether it must stop: at most every ``interval`` seconds
    (the job's own stop flag, in memory, is looked at every time)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last = float("-inf")

    def due(self) -> bool:
        """True, and the clock restarts, when ``interval`` has passed since the last look."""
        now = time.monotonic()
        if now - self._last < self.interval:
            return False
        self._last = now
        return True
