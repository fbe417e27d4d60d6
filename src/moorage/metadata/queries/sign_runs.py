"""The executions, tasks and subtasks of signature policies' runs (the shared bookkeeping is
``metadata/queries/runs.py``): created by a start, planned and advanced by the signing job, listed by
ListInstanceSignatureExecutions, ...Tasks and ...Subtasks. An execution's counts come from its subtasks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, case, func, insert, select
from sqlalchemy.engine import Connection

from moorage.domain.enterprise import (
    Execution,
    Page,
    RunStatus,
    SignSubtask,
    SignTask,
)
from moorage.metadata.database import now_ms
from moorage.metadata.queries import runs
from moorage.metadata.queries.pages import page_rows
from moorage.metadata.tables import (
    ee_sign_executions,
    ee_sign_subtasks,
    ee_sign_tasks,
)


# Executions ----------------------------------------------------------------------------------------
def _count(status: RunStatus) -> Any:
    return func.coalesce(func.sum(case((ee_sign_subtasks.c.status == status.value, 1), else_=0)), 0)


_COUNTS = select(
    ee_sign_subtasks.c.execution_id.label("execution_id"),
    func.count().label("total"),
    _count(RunStatus.SUCCEED).label("succeed"),
    _count(RunStatus.FAILED).label("failed"),
    _count(RunStatus.IN_PROGRESS).label("in_progress"),
    _count(RunStatus.STOPPED).label("stopped"),
).group_by(ee_sign_subtasks.c.execution_id)


def _executions(conn: Connection, where: list[ColumnElement[bool]], *, offset: int, limit: int) -> list[Execution]:
    counts = _COUNTS.where(
        ee_sign_subtasks.c.execution_id.in_(
            select(ee_sign_executions.c.id)
            .where(*where)
            .order_by(ee_sign_executions.c.id.desc())
            .offset(offset)
            .limit(limit)
            .scalar_subquery()
        )
    ).subquery()
    e = ee_sign_executions.c
    rows = conn.execute(
        select(
            e.id,
            e.policy_id,
            e.status,
            e.status_text,
            e.trigger,
            e.job_id,
            func.coalesce(counts.c.total, 0),
            func.coalesce(counts.c.succeed, 0),
            func.coalesce(counts.c.failed, 0),
            func.coalesce(counts.c.in_progress, 0),
            func.coalesce(counts.c.stopped, 0),
            e.created_at,
            e.updated_at,
        )
        .select_from(ee_sign_executions.outerjoin(counts, counts.c.execution_id == e.id))
        .where(*where)
        .order_by(e.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return [
        Execution(
            int(r[0]),
            int(r[1]),
            RunStatus(r[2]),
            str(r[3]),
            str(r[4]),
            r[5],
            int(r[6]),
            int(r[7]),
            int(r[8]),
            int(r[9]),
            int(r[10]),
            int(r[11]),
            int(r[12]),
        )
        for r in rows
    ]


def create_execution(
    conn: Connection,
    *,
    policy_id: int,
    trigger: str,
    dedupe_key: str | None = None,
    only_repository: str | None = None,
    only_tag: str | None = None,
) -> int | None:
    """A new execution in ``Initialized``; None when ``dedupe_key`` was used already."""
    return runs.create_execution(
        conn,
        ee_sign_executions,
        dedupe_key=dedupe_key,
        policy_id=policy_id,
        trigger=trigger,
        only_repository=only_repository,
        only_tag=only_tag,
    )


def set_execution_job(conn: Connection, execution_id: int, job_id: str) -> None:
    """Record the job that runs an execution (``Initialized`` becomes ``Pending``)."""
    runs.set_execution_job(conn, ee_sign_executions, execution_id, job_id)


def get_execution(conn: Connection, policy_id: int, execution_id: int) -> Execution | None:
    """An execution of a policy."""
    found = _executions(
        conn, [ee_sign_executions.c.policy_id == policy_id, ee_sign_executions.c.id == execution_id], offset=0, limit=1
    )
    return found[0] if found else None


def execution_scope(conn: Connection, execution_id: int) -> tuple[int, str | None, str | None] | None:
    """(policy id, only repository, only tag) of an execution."""
    row = conn.execute(
        select(
            ee_sign_executions.c.policy_id, ee_sign_executions.c.only_repository, ee_sign_executions.c.only_tag
        ).where(ee_sign_executions.c.id == execution_id)
    ).first()
    return (int(row[0]), row[1], row[2]) if row else None


def execution_status(conn: Connection, execution_id: int) -> RunStatus | None:
    """The status column of an execution."""
    found = conn.execute(select(ee_sign_executions.c.status).where(ee_sign_executions.c.id == execution_id)).scalar()
    return None if found is None else RunStatus(found)


def list_executions(conn: Connection, policy_id: int, *, offset: int, limit: int) -> Page[Execution]:
    """Executions of a policy, newest first."""
    where = [ee_sign_executions.c.policy_id == policy_id]
    total = int(conn.execute(select(func.count()).select_from(ee_sign_executions).where(*where)).scalar_one())
    return Page(_executions(conn, where, offset=offset, limit=limit), total)


def set_execution_status(
    conn: Connection, execution_id: int, status: RunStatus, text: str = "", *, unless_finished: bool = True
) -> bool:
    """Move an execution to ``status`` (not out of a finished status unless told)."""
    return runs.set_execution_status(
        conn, ee_sign_executions, execution_id, status, text, unless_finished=unless_finished
    )


# Tasks and subtasks --------------------------------------------------------------------------------
def has_tasks(conn: Connection, execution_id: int) -> bool:
    """Whether an execution has been planned (its tasks exist)."""
    return runs.has_tasks(conn, ee_sign_tasks, execution_id)


def create_task(
    conn: Connection,
    *,
    execution_id: int,
    job_id: str,
    namespace: str,
    repository: str,
    subtasks: Sequence[tuple[str, str]],
) -> int:
    """A ``Pending`` task for one repository with a ``Pending`` subtask per (tag, digest)."""
    now = now_ms()
    task_id = int(
        conn.execute(
            insert(ee_sign_tasks)
            .values(
                execution_id=execution_id,
                job_id=job_id,
                status=RunStatus.PENDING.value,
                namespace=namespace,
                repository=repository,
                created_at=now,
                updated_at=now,
            )
            .returning(ee_sign_tasks.c.id)
        ).scalar_one()
    )
    if subtasks:
        conn.execute(
            insert(ee_sign_subtasks),
            [
                {
                    "task_id": task_id,
                    "execution_id": execution_id,
                    "job_id": job_id,
                    "namespace": namespace,
                    "repository": repository,
                    "tag": tag,
                    "digest": digest,
                    "status": RunStatus.PENDING.value,
                    "created_at": now,
                    "updated_at": now,
                }
                for tag, digest in subtasks
            ],
        )
    return task_id


_TASK = (
    ee_sign_tasks.c.id,
    ee_sign_tasks.c.execution_id,
    ee_sign_tasks.c.job_id,
    ee_sign_tasks.c.status,
    ee_sign_tasks.c.status_text,
    ee_sign_tasks.c.namespace,
    ee_sign_tasks.c.repository,
    ee_sign_tasks.c.created_at,
    ee_sign_tasks.c.updated_at,
)


def _task(r: Sequence[Any]) -> SignTask:
    return SignTask(
        int(r[0]), int(r[1]), str(r[2]), RunStatus(r[3]), str(r[4]), str(r[5]), str(r[6]), int(r[7]), int(r[8])
    )


def list_tasks(conn: Connection, execution_id: int, *, offset: int, limit: int) -> Page[SignTask]:
    """Tasks of an execution, in creation order."""
    where = ee_sign_tasks.c.execution_id == execution_id
    rows, total = page_rows(
        conn, _TASK, source=ee_sign_tasks, where=[where], order_by=[ee_sign_tasks.c.id], offset=offset, limit=limit
    )
    return Page([_task(r) for r in rows], total)


def get_task(conn: Connection, execution_id: int, task_id: int) -> SignTask | None:
    """A task of an execution."""
    row = conn.execute(
        select(*_TASK).where(ee_sign_tasks.c.execution_id == execution_id, ee_sign_tasks.c.id == task_id)
    ).first()
    return _task(row) if row else None


_SUBTASK = (
    ee_sign_subtasks.c.id,
    ee_sign_subtasks.c.task_id,
    ee_sign_subtasks.c.execution_id,
    ee_sign_subtasks.c.job_id,
    ee_sign_subtasks.c.namespace,
    ee_sign_subtasks.c.repository,
    ee_sign_subtasks.c.tag,
    ee_sign_subtasks.c.digest,
    ee_sign_subtasks.c.status,
    ee_sign_subtasks.c.status_text,
    ee_sign_subtasks.c.created_at,
    ee_sign_subtasks.c.updated_at,
)


def _subtask(r: Sequence[Any]) -> SignSubtask:
    return SignSubtask(
        int(r[0]),
        int(r[1]),
        int(r[2]),
        str(r[3]),
        str(r[4]),
        str(r[5]),
        str(r[6]),
        str(r[7]),
        RunStatus(r[8]),
        str(r[9]),
        int(r[10]),
        int(r[11]),
    )


def list_subtasks(
    conn: Connection, task_id: int, *, status: RunStatus | None, offset: int, limit: int
) -> Page[SignSubtask]:
    """Subtasks of a task (of one status), in creation order."""
    rows, total = runs.subtask_page(
        conn, ee_sign_subtasks, _SUBTASK, task_id, status=status, offset=offset, limit=limit
    )
    return Page([_subtask(r) for r in rows], total)


def unfinished_subtasks(conn: Connection, execution_id: int) -> list[SignSubtask]:
    """Subtasks of an execution still to do (Pending, or InProgress when a worker died), in order."""
    rows = conn.execute(
        select(*_SUBTASK)
        .where(
            ee_sign_subtasks.c.execution_id == execution_id,
            ee_sign_subtasks.c.status.in_([RunStatus.PENDING.value, RunStatus.IN_PROGRESS.value]),
        )
        .order_by(ee_sign_subtasks.c.id)
    )
    return [_subtask(r) for r in rows]


def set_subtask_status(conn: Connection, subtask_id: int, status: RunStatus, text: str = "") -> None:
    """Move a subtask to ``status``."""
    runs.set_subtask_status(conn, ee_sign_subtasks, subtask_id, status, text)


def stop_unfinished(conn: Connection, execution_id: int) -> None:
    """Mark every subtask and task of an execution that has not finished as ``Stopped``."""
    runs.stop_unfinished(conn, ee_sign_tasks, ee_sign_subtasks, execution_id, "stopped on request")


def settle_tasks(conn: Connection, execution_id: int, *, task_id: int | None = None) -> None:
    """Give every task of an execution (or just ``task_id``) the status its subtasks add up to."""
    runs.settle_tasks(conn, ee_sign_tasks, ee_sign_subtasks, execution_id, task_id=task_id)


def set_task_status(conn: Connection, task_id: int, status: RunStatus) -> None:
    """Move a task to ``status`` (a no-op when it is there already)."""
    runs.set_task_status(conn, ee_sign_tasks, task_id, status)


def task_has_unfinished(conn: Connection, task_id: int) -> bool:
    """Whether some subtask of a task still waits or runs."""
    return runs.task_has_unfinished(conn, ee_sign_subtasks, task_id)


def execution_counts(conn: Connection, execution_id: int) -> dict[str, int]:
    """Status -> number of subtasks of an execution."""
    return runs.status_counts(conn, ee_sign_subtasks, execution_id)
