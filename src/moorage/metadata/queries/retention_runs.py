"""The executions, tasks (one per repository) and subtasks (one per artifact) of Enterprise Edition
retention policies' runs (the shared bookkeeping is ``metadata/queries/runs.py``). An execution's
counts come from its subtasks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from moorage.domain.enterprise import UNFINISHED, Page, RunStatus
from moorage.domain.retention import (
    RetentionExecution,
    RetentionSubtask,
    RetentionTask,
)
from moorage.metadata.database import now_ms
from moorage.metadata.queries import runs
from moorage.metadata.queries.pages import page_rows
from moorage.metadata.tables import (
    ee_retention_executions,
    ee_retention_subtasks,
    ee_retention_tasks,
)

_UNFINISHED = [s.value for s in UNFINISHED]


# Executions ----------------------------------------------------------------------------------------
_EXECUTION = (
    ee_retention_executions.c.id,
    ee_retention_executions.c.policy_id,
    ee_retention_executions.c.dry_run,
    ee_retention_executions.c.status,
    ee_retention_executions.c.status_text,
    ee_retention_executions.c.trigger,
    ee_retention_executions.c.job_id,
    ee_retention_executions.c.created_at,
    ee_retention_executions.c.finished_at,
)


def _execution(r: Sequence[Any]) -> RetentionExecution:
    return RetentionExecution(
        int(r[0]),
        int(r[1]),
        bool(r[2]),
        RunStatus(r[3]),
        str(r[4]),
        str(r[5]),
        r[6],
        int(r[7]),
        None if r[8] is None else int(r[8]),
    )


def create_execution(
    conn: Connection, *, policy_id: int, trigger: str, dry_run: bool, dedupe_key: str | None = None
) -> int | None:
    """A new execution in ``Initialized``; None when ``dedupe_key`` was used already."""
    return runs.create_execution(
        conn, ee_retention_executions, dedupe_key=dedupe_key, policy_id=policy_id, dry_run=dry_run, trigger=trigger
    )


def set_execution_job(conn: Connection, execution_id: int, job_id: str) -> None:
    """Record the job that runs an execution (``Initialized`` becomes ``Pending``)."""
    runs.set_execution_job(conn, ee_retention_executions, execution_id, job_id)


def get_execution(conn: Connection, policy_id: int, execution_id: int) -> RetentionExecution | None:
    """An execution of a policy."""
    row = conn.execute(
        select(*_EXECUTION).where(
            ee_retention_executions.c.policy_id == policy_id, ee_retention_executions.c.id == execution_id
        )
    ).first()
    return _execution(row) if row else None


def execution_by_id(conn: Connection, execution_id: int) -> RetentionExecution | None:
    """An execution by id alone (jobs)."""
    row = conn.execute(select(*_EXECUTION).where(ee_retention_executions.c.id == execution_id)).first()
    return _execution(row) if row else None


def list_executions(conn: Connection, policy_id: int, *, offset: int, limit: int) -> Page[RetentionExecution]:
    """Executions of a policy, newest first."""
    rows, total = page_rows(
        conn,
        _EXECUTION,
        source=ee_retention_executions,
        where=[ee_retention_executions.c.policy_id == policy_id],
        order_by=[ee_retention_executions.c.id.desc()],
        offset=offset,
        limit=limit,
    )
    return Page([_execution(r) for r in rows], total)


def task_counts(conn: Connection, execution_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Execution id -> task status -> number of tasks, for a page of executions in one query."""
    if not execution_ids:
        return {}
    rows = conn.execute(
        select(ee_retention_tasks.c.execution_id, ee_retention_tasks.c.status, func.count())
        .where(ee_retention_tasks.c.execution_id.in_(list(execution_ids)))
        .group_by(ee_retention_tasks.c.execution_id, ee_retention_tasks.c.status)
    ).all()
    found: dict[int, dict[str, int]] = {}
    for execution_id, status, count in rows:
        found.setdefault(int(execution_id), {})[str(status)] = int(count)
    return found


def set_execution_status(conn: Connection, execution_id: int, status: RunStatus, text: str = "") -> bool:
    """Move an unfinished execution to ``status`` (its end time set when that one is final)."""
    return runs.set_execution_status(conn, ee_retention_executions, execution_id, status, text)


# Tasks and subtasks --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PlannedDeletion:
    """A subtask to write: the artifact's tags (comma-separated), digest and the decision JSON."""

    tags: str
    digest: str
    decision: str


def has_tasks(conn: Connection, execution_id: int) -> bool:
    """Whether an execution has been planned."""
    return runs.has_tasks(conn, ee_retention_tasks, execution_id)


def create_task(
    conn: Connection,
    *,
    execution_id: int,
    job_id: str,
    repository_id: int,
    namespace: str,
    repository: str,
    total: int,
    retained: int,
    deletions: Sequence[PlannedDeletion],
    dry_run: bool,
) -> int:
    """A task for one repository with a subtask per deletion: ``Pending`` (a dry run's are ``Succeed``
    at once, nothing being deleted); a task without deletions is ``Succeed`` at once."""
    now = now_ms()
    done = dry_run or not deletions
    task_id = int(
        conn.execute(
            insert(ee_retention_tasks)
            .values(
                execution_id=execution_id,
                job_id=job_id,
                repository_id=repository_id,
                namespace=namespace,
                repository=repository,
                status=(RunStatus.SUCCEED if done else RunStatus.PENDING).value,
                total=total,
                retained=retained,
                created_at=now,
                updated_at=now,
                finished_at=now if done else None,
            )
            .returning(ee_retention_tasks.c.id)
        ).scalar_one()
    )
    if deletions:
        status, text = (RunStatus.SUCCEED, "dry run: would be deleted") if dry_run else (RunStatus.PENDING, "")
        conn.execute(
            insert(ee_retention_subtasks),
            [
                {
                    "task_id": task_id,
                    "execution_id": execution_id,
                    "namespace": namespace,
                    "repository": repository,
                    "tags": d.tags,
                    "digest": d.digest,
                    "decision": d.decision,
                    "status": status.value,
                    "status_text": text,
                    "created_at": now,
                    "updated_at": now,
                }
                for d in deletions
            ],
        )
    return task_id


_TASK = (
    ee_retention_tasks.c.id,
    ee_retention_tasks.c.execution_id,
    ee_retention_tasks.c.repository,
    ee_retention_tasks.c.job_id,
    ee_retention_tasks.c.status,
    ee_retention_tasks.c.status_text,
    ee_retention_tasks.c.total,
    ee_retention_tasks.c.retained,
    ee_retention_tasks.c.created_at,
    ee_retention_tasks.c.updated_at,
    ee_retention_tasks.c.finished_at,
)


def _task(r: Sequence[Any]) -> RetentionTask:
    return RetentionTask(
        int(r[0]),
        int(r[1]),
        str(r[2]),
        str(r[3]),
        RunStatus(r[4]),
        str(r[5]),
        int(r[6]),
        int(r[7]),
        int(r[8]),
        int(r[9]),
        None if r[10] is None else int(r[10]),
    )


def list_tasks(
    conn: Connection, execution_id: int, *, status: RunStatus | None, offset: int, limit: int
) -> Page[RetentionTask]:
    """Tasks of an execution (of one status), in creation order."""
    where = [ee_retention_tasks.c.execution_id == execution_id]
    if status is not None:
        where.append(ee_retention_tasks.c.status == status.value)
    rows, total = page_rows(
        conn,
        _TASK,
        source=ee_retention_tasks,
        where=where,
        order_by=[ee_retention_tasks.c.id],
        offset=offset,
        limit=limit,
    )
    return Page([_task(r) for r in rows], total)


def get_task(conn: Connection, execution_id: int, task_id: int) -> RetentionTask | None:
    """A task of an execution."""
    row = conn.execute(
        select(*_TASK).where(ee_retention_tasks.c.execution_id == execution_id, ee_retention_tasks.c.id == task_id)
    ).first()
    return _task(row) if row else None


def task_repository(conn: Connection, task_id: int) -> int | None:
    """The id of the repository a task looked at."""
    found = conn.execute(select(ee_retention_tasks.c.repository_id).where(ee_retention_tasks.c.id == task_id)).scalar()
    return None if found is None else int(found)


_SUBTASK = (
    ee_retention_subtasks.c.id,
    ee_retention_subtasks.c.task_id,
    ee_retention_subtasks.c.execution_id,
    ee_retention_subtasks.c.namespace,
    ee_retention_subtasks.c.repository,
    ee_retention_subtasks.c.tags,
    ee_retention_subtasks.c.digest,
    ee_retention_subtasks.c.status,
    ee_retention_subtasks.c.status_text,
    ee_retention_subtasks.c.updated_at,
)


def _subtask(r: Sequence[Any]) -> RetentionSubtask:
    return RetentionSubtask(
        int(r[0]),
        int(r[1]),
        int(r[2]),
        str(r[3]),
        str(r[4]),
        str(r[5]),
        str(r[6]),
        RunStatus(r[7]),
        str(r[8]),
        int(r[9]),
    )


def list_subtasks(
    conn: Connection, task_id: int, *, status: RunStatus | None, offset: int, limit: int
) -> Page[RetentionSubtask]:
    """Subtasks of a task (of one status), in creation order."""
    rows, total = runs.subtask_page(
        conn, ee_retention_subtasks, _SUBTASK, task_id, status=status, offset=offset, limit=limit
    )
    return Page([_subtask(r) for r in rows], total)


def unfinished_subtasks(conn: Connection, execution_id: int) -> list[tuple[RetentionSubtask, str]]:
    """Subtasks of an execution still to do (Pending, or InProgress when a worker died) with their
    decision JSON, in order."""
    rows = conn.execute(
        select(*_SUBTASK, ee_retention_subtasks.c.decision)
        .where(
            ee_retention_subtasks.c.execution_id == execution_id,
            ee_retention_subtasks.c.status.in_(_UNFINISHED),
        )
        .order_by(ee_retention_subtasks.c.id)
    )
    return [(_subtask(r), str(r[10])) for r in rows]


def set_subtask_status(conn: Connection, subtask_id: int, status: RunStatus, text: str = "") -> None:
    """Move a subtask to ``status``."""
    runs.set_subtask_status(conn, ee_retention_subtasks, subtask_id, status, text)


def add_retained(conn: Connection, task_id: int, count: int = 1) -> None:
    """Count artifacts a task kept after all (a deletion's re-check kept them)."""
    conn.execute(
        update(ee_retention_tasks)
        .where(ee_retention_tasks.c.id == task_id)
        .values(retained=ee_retention_tasks.c.retained + count)
    )


def settle_tasks(conn: Connection, execution_id: int, *, task_id: int | None = None) -> None:
    """Give every task of an execution (or just ``task_id``) the status its subtasks add up to."""
    runs.settle_tasks(conn, ee_retention_tasks, ee_retention_subtasks, execution_id, task_id=task_id)


def execution_counts(conn: Connection, execution_id: int) -> dict[str, int]:
    """Status -> number of subtasks of an execution."""
    return runs.status_counts(conn, ee_retention_subtasks, execution_id)


def execution_totals(conn: Connection, execution_id: int) -> tuple[int, int]:
    """(artifacts looked at, artifacts kept) over every task of an execution."""
    row = conn.execute(
        select(
            func.coalesce(func.sum(ee_retention_tasks.c.total), 0),
            func.coalesce(func.sum(ee_retention_tasks.c.retained), 0),
        ).where(ee_retention_tasks.c.execution_id == execution_id)
    ).one()
    return int(row[0]), int(row[1])


def deleted_subtasks(conn: Connection, execution_id: int, *, limit: int) -> list[RetentionSubtask]:
    """The first ``limit`` subtasks of an execution that deleted their artifact (``Succeed``, and not
    kept on re-check, whose text says ``kept:``), in order."""
    rows = conn.execute(
        select(*_SUBTASK)
        .where(
            ee_retention_subtasks.c.execution_id == execution_id,
            ee_retention_subtasks.c.status == RunStatus.SUCCEED.value,
            ee_retention_subtasks.c.status_text.not_like("kept:%"),
        )
        .order_by(ee_retention_subtasks.c.id)
        .limit(limit)
    )
    return [_subtask(r) for r in rows]


def stop_unfinished(conn: Connection, execution_id: int) -> None:
    """Mark every unfinished subtask and task of an execution ``Stopped``."""
    runs.stop_unfinished(conn, ee_retention_tasks, ee_retention_subtasks, execution_id, "stopped")
