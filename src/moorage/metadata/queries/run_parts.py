"""The statuses of runs made of tasks and subtasks (signature executions, retention executions), one
implementation for both, given their tables: a task's status is what its subtasks add up to
(``domain.enterprise.summarize``), counts come from the subtasks (never kept as counters), and a stop
marks what has not finished. The tables need ``id``, ``execution_id``, ``status``, ``status_text``
and ``updated_at`` (subtasks also ``task_id``); a tasks table with ``finished_at`` gets it set when
a task finishes."""

from __future__ import annotations

from sqlalchemy import Table, func, select, update
from sqlalchemy.engine import Connection

from moorage.domain.enterprise import UNFINISHED, RunStatus, summarize
from moorage.metadata.database import now_ms

_UNFINISHED = [s.value for s in UNFINISHED]


def settle_tasks(
    conn: Connection, tasks: Table, subtasks: Table, execution_id: int, *, task_id: int | None = None
) -> None:
    """Give every task of an execution (or just ``task_id``) the status its subtasks add up to."""
    counts_query = (
        select(subtasks.c.task_id, subtasks.c.status, func.count())
        .where(subtasks.c.execution_id == execution_id)
        .group_by(subtasks.c.task_id, subtasks.c.status)
    )
    tasks_query = select(tasks.c.id, tasks.c.status).where(tasks.c.execution_id == execution_id)
    if task_id is not None:
        counts_query = counts_query.where(subtasks.c.task_id == task_id)
        tasks_query = tasks_query.where(tasks.c.id == task_id)
    by_task: dict[int, dict[str, int]] = {}
    for task, status, count in conn.execute(counts_query):
        by_task.setdefault(int(task), {})[str(status)] = int(count)
    now = now_ms()
    for task, current in conn.execute(tasks_query).all():
        status, text = summarize(by_task.get(int(task), {}))
        if status.value != current:
            values: dict[str, object] = {"status": status.value, "status_text": text, "updated_at": now}
            if "finished_at" in tasks.c:
                values["finished_at"] = now if status.finished else None
            conn.execute(update(tasks).where(tasks.c.id == task).values(**values))


def set_task_status(conn: Connection, tasks: Table, task_id: int, status: RunStatus) -> None:
    """Move a task to ``status`` (a no-op when it is there already)."""
    conn.execute(
        update(tasks)
        .where(tasks.c.id == task_id, tasks.c.status != status.value)
        .values(status=status.value, updated_at=now_ms())
    )


def task_has_unfinished(conn: Connection, subtasks: Table, task_id: int) -> bool:
    """Whether some subtask of a task still waits or runs (one index probe)."""
    return (
        conn.execute(
            select(subtasks.c.id).where(subtasks.c.task_id == task_id, subtasks.c.status.in_(_UNFINISHED)).limit(1)
        ).first()
        is not None
    )


def status_counts(conn: Connection, subtasks: Table, execution_id: int) -> dict[str, int]:
    """Status -> number of subtasks of an execution."""
    rows = conn.execute(
        select(subtasks.c.status, func.count())
        .where(subtasks.c.execution_id == execution_id)
        .group_by(subtasks.c.status)
    )
    return {str(r[0]): int(r[1]) for r in rows}


def stop_unfinished(conn: Connection, tasks: Table, subtasks: Table, execution_id: int, text: str) -> None:
    """Mark every subtask and task of an execution that has not finished as ``Stopped``."""
    now = now_ms()
    conn.execute(
        update(subtasks)
        .where(subtasks.c.execution_id == execution_id, subtasks.c.status.in_(_UNFINISHED))
        .values(status=RunStatus.STOPPED.value, status_text=text, updated_at=now)
    )
    values: dict[str, object] = {"status": RunStatus.STOPPED.value, "status_text": text, "updated_at": now}
    if "finished_at" in tasks.c:
        values["finished_at"] = now
    conn.execute(
        update(tasks).where(tasks.c.execution_id == execution_id, tasks.c.status.in_(_UNFINISHED)).values(**values)
    )
