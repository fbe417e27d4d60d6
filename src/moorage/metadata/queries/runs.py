"""The bookkeeping of runs made of executions, tasks and subtasks (signature, retention and replication
executions), one implementation for the three, given their tables: an execution is created
``Initialized`` (once per idempotency key), becomes ``Pending`` when its job is known and moves
through the statuses of ``RunStatus`` until a final one; a task's status is what its subtasks add up
to (``domain.enterprise.summarize``), counts come from the subtasks (never kept as counters), and a
stop marks what has not finished. The tables need ``id``, ``status``, ``status_text`` and
``updated_at`` (tasks and subtasks also ``execution_id``, subtasks ``task_id``); optional columns are
kept when a table has them: ``finished_at`` is set when a row reaches a final status,
``status_revision`` counts a task's changes. Each dialect's query module binds its tables and keeps
its own names (``metadata/queries/sign_runs.py``, ``retention_runs.py``, ``replication_runs.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, func, insert, select, update
from sqlalchemy.engine import Connection

from moorage.domain.enterprise import UNFINISHED, RunStatus, summarize
from moorage.metadata.database import now_ms
from moorage.metadata.queries.pages import page_rows

_UNFINISHED = [s.value for s in UNFINISHED]
_FINISHED = [RunStatus.SUCCEED.value, RunStatus.FAILED.value, RunStatus.STOPPED.value]


def create_execution(conn: Connection, executions: Table, *, dedupe_key: str | None, **values: object) -> int | None:
    """A new execution in ``Initialized`` with ``values``; None when ``dedupe_key`` was used already."""
    if (
        dedupe_key is not None
        and conn.execute(select(executions.c.id).where(executions.c.dedupe_key == dedupe_key)).first()
    ):
        return None
    now = now_ms()
    return int(
        conn.execute(
            insert(executions)
            .values(status=RunStatus.INITIALIZED.value, dedupe_key=dedupe_key, created_at=now, updated_at=now, **values)
            .returning(executions.c.id)
        ).scalar_one()
    )


def set_execution_job(conn: Connection, executions: Table, execution_id: int, job_id: str) -> None:
    """Record the job that runs an execution; one still ``Initialized`` is now ``Pending`` (the job
    may have started already)."""
    conn.execute(update(executions).where(executions.c.id == execution_id).values(job_id=job_id, updated_at=now_ms()))
    conn.execute(
        update(executions)
        .where(executions.c.id == execution_id, executions.c.status == RunStatus.INITIALIZED.value)
        .values(status=RunStatus.PENDING.value)
    )


def set_execution_status(
    conn: Connection,
    executions: Table,
    execution_id: int,
    status: RunStatus,
    text: str = "",
    *,
    unless_finished: bool = True,
) -> bool:
    """Move an execution to ``status`` (not out of a final status unless told); False when it did not move."""
    now = now_ms()
    query = update(executions).where(executions.c.id == execution_id)
    if unless_finished:
        query = query.where(executions.c.status.not_in(_FINISHED))
    values: dict[str, object] = {"status": status.value, "status_text": text[:1024], "updated_at": now}
    if "finished_at" in executions.c:
        values["finished_at"] = now if status.finished else None
    return bool(conn.execute(query.values(**values)).rowcount)


def has_tasks(conn: Connection, tasks: Table, execution_id: int) -> bool:
    """Whether an execution has been planned (its tasks exist)."""
    return conn.execute(select(tasks.c.id).where(tasks.c.execution_id == execution_id).limit(1)).first() is not None


def set_subtask_status(conn: Connection, subtasks: Table, subtask_id: int, status: RunStatus, text: str = "") -> None:
    """Move a subtask to ``status``."""
    conn.execute(
        update(subtasks)
        .where(subtasks.c.id == subtask_id)
        .values(status=status.value, status_text=text[:1024], updated_at=now_ms())
    )


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


def subtask_page(
    conn: Connection,
    subtasks: Table,
    columns: Sequence[ColumnElement[Any]],
    task_id: int,
    *,
    status: RunStatus | None,
    offset: int,
    limit: int,
) -> tuple[list[Sequence[Any]], int]:
    """A page of ``columns`` of a task's subtasks (of one status), in creation order, and how many there
    are; the index (task, status, id) serves it."""
    where: list[ColumnElement[bool]] = [subtasks.c.task_id == task_id]
    if status is not None:
        where.append(subtasks.c.status == status.value)
    return page_rows(conn, columns, source=subtasks, where=where, order_by=[subtasks.c.id], offset=offset, limit=limit)


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
    for table in (subtasks, tasks):
        values: dict[str, object] = {"status": RunStatus.STOPPED.value, "status_text": text, "updated_at": now}
        if "finished_at" in table.c:
            values["finished_at"] = now
        if "status_revision" in table.c:
            values["status_revision"] = table.c.status_revision + 1
        conn.execute(
            update(table).where(table.c.execution_id == execution_id, table.c.status.in_(_UNFINISHED)).values(**values)
        )
