"""The executions, tasks (one per artifact) and subtasks (one per manifest or blob) of replication
policies' runs (the shared bookkeeping is ``metadata/queries/runs.py``). An execution's counts come
from its tasks (never kept as counters); a task's status is set by the run as each artifact is
copied."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, insert, select, update
from sqlalchemy.engine import Connection

from moorage.domain.bounded_json import load_document
from moorage.domain.enterprise import UNFINISHED, Page, RunStatus
from moorage.domain.replication import (
    ReplicationExecution,
    ReplicationSubtask,
    ReplicationTask,
)
from moorage.metadata.database import now_ms
from moorage.metadata.queries import runs
from moorage.metadata.queries.pages import page_rows
from moorage.metadata.replication_tables import (
    replication_executions,
    replication_subtasks,
    replication_tasks,
)

_UNFINISHED = [s.value for s in UNFINISHED]


# Executions ----------------------------------------------------------------------------------------
_E = replication_executions
_T = replication_tasks
_S = replication_subtasks
_EXECUTION = (
    _E.c.id,
    _E.c.policy_id,
    _E.c.status,
    _E.c.status_text,
    _E.c.trigger,
    _E.c.job_id,
    _E.c.created_at,
    _E.c.updated_at,
)


def _counts(conn: Connection, execution_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    found: dict[int, dict[str, int]] = {}
    if not execution_ids:
        return found
    rows = conn.execute(
        select(_T.c.execution_id, _T.c.status, func.count())
        .where(_T.c.execution_id.in_(list(execution_ids)))
        .group_by(_T.c.execution_id, _T.c.status)
    )
    for execution, status, count in rows:
        found.setdefault(int(execution), {})[str(status)] = int(count)
    return found


def _executions(conn: Connection, rows: Sequence[Sequence[Any]]) -> list[ReplicationExecution]:
    counts = _counts(conn, [int(r[0]) for r in rows])
    found = []
    for r in rows:
        c = counts.get(int(r[0]), {})
        found.append(
            ReplicationExecution(
                int(r[0]),
                int(r[1]),
                RunStatus(r[2]),
                str(r[3]),
                str(r[4]),
                r[5],
                sum(c.values()),
                c.get(RunStatus.FAILED.value, 0),
                c.get(RunStatus.SUCCEED.value, 0),
                c.get(RunStatus.IN_PROGRESS.value, 0)
                + c.get(RunStatus.PENDING.value, 0)
                + c.get(RunStatus.INITIALIZED.value, 0),
                c.get(RunStatus.STOPPED.value, 0),
                int(r[6]),
                int(r[7]),
            )
        )
    return found


def create_execution(
    conn: Connection,
    *,
    policy_id: int,
    instance_id: str,
    trigger: str,
    scope: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
) -> int | None:
    """A new execution in ``Initialized``; None when ``dedupe_key`` was used already."""
    return runs.create_execution(
        conn,
        _E,
        dedupe_key=dedupe_key,
        policy_id=policy_id,
        instance_id=instance_id,
        trigger=trigger,
        scope=json.dumps(scope or {}),
    )


def set_execution_job(conn: Connection, execution_id: int, job_id: str) -> None:
    """Record the job that runs an execution (``Initialized`` becomes ``Pending``)."""
    runs.set_execution_job(conn, _E, execution_id, job_id)


def get_execution(conn: Connection, instance_id: str, execution_id: int) -> ReplicationExecution | None:
    """An execution of an instance's policy."""
    row = conn.execute(select(*_EXECUTION).where(_E.c.instance_id == instance_id, _E.c.id == execution_id)).first()
    return _executions(conn, [row])[0] if row else None


def execution_by_id(conn: Connection, execution_id: int) -> tuple[ReplicationExecution, dict[str, Any]] | None:
    """An execution and its scope, by id alone (jobs)."""
    row = conn.execute(select(*_EXECUTION, _E.c.scope).where(_E.c.id == execution_id)).first()
    if row is None:
        return None
    scope = load_document(row[8])
    return _executions(conn, [row])[0], scope if isinstance(scope, dict) else {}


def list_executions(
    conn: Connection, instance_id: str, *, policy_id: int | None, offset: int, limit: int
) -> Page[ReplicationExecution]:
    """Executions of an instance (of one policy), newest first."""
    where: list[ColumnElement[bool]] = [_E.c.instance_id == instance_id]
    if policy_id is not None:
        where.append(_E.c.policy_id == policy_id)
    rows, total = page_rows(
        conn, _EXECUTION, source=_E, where=where, order_by=[_E.c.id.desc()], offset=offset, limit=limit
    )
    return Page(_executions(conn, rows), total)


def set_execution_status(conn: Connection, execution_id: int, status: RunStatus, text: str = "") -> bool:
    """Move an unfinished execution to ``status`` (its end time set when that one is final)."""
    return runs.set_execution_status(conn, _E, execution_id, status, text)


def stop_unfinished(conn: Connection, execution_id: int, text: str) -> None:
    """Mark every task and subtask of an execution that has not finished as ``Stopped``."""
    runs.stop_unfinished(conn, _T, _S, execution_id, text)


# Tasks and subtasks --------------------------------------------------------------------------------
_TASK = (
    _T.c.id,
    _T.c.execution_id,
    _T.c.resource_type,
    _T.c.src_resource,
    _T.c.dst_resource,
    _T.c.operation,
    _T.c.job_id,
    _T.c.status,
    _T.c.status_text,
    _T.c.status_revision,
    _T.c.started_at,
    _T.c.finished_at,
)


def _task(r: Sequence[Any]) -> ReplicationTask:
    return ReplicationTask(
        int(r[0]),
        int(r[1]),
        str(r[2]),
        str(r[3]),
        str(r[4]),
        str(r[5]),
        str(r[6]),
        RunStatus(r[7]),
        str(r[8]),
        int(r[9]),
        None if r[10] is None else int(r[10]),
        None if r[11] is None else int(r[11]),
    )


def has_tasks(conn: Connection, execution_id: int) -> bool:
    """Whether an execution has been planned."""
    return runs.has_tasks(conn, _T, execution_id)


def create_tasks(conn: Connection, *, execution_id: int, job_id: str, tasks: Sequence[tuple[str, str, str]]) -> None:
    """A ``Pending`` task per (src_resource, dst_resource, operation)."""
    if not tasks:
        return
    now = now_ms()
    conn.execute(
        insert(_T),
        [
            {
                "execution_id": execution_id,
                "src_resource": src[:512],
                "dst_resource": dst[:512],
                "operation": operation,
                "job_id": job_id,
                "status": RunStatus.PENDING.value,
                "created_at": now,
                "updated_at": now,
            }
            for src, dst, operation in tasks
        ],
    )


def unfinished_tasks(conn: Connection, execution_id: int) -> list[ReplicationTask]:
    """The tasks of an execution still to do, in id order."""
    rows = conn.execute(
        select(*_TASK).where(_T.c.execution_id == execution_id, _T.c.status.in_(_UNFINISHED)).order_by(_T.c.id)
    )
    return [_task(r) for r in rows]


def set_task_status(conn: Connection, task_id: int, status: RunStatus, text: str = "") -> bool:
    """Move an unfinished task to ``status`` (times set as it starts and ends); False if it had finished."""
    now = now_ms()
    values: dict[str, Any] = {
        "status": status.value,
        "status_text": text[:1024],
        "updated_at": now,
        "status_revision": _T.c.status_revision + 1,
    }
    if status is RunStatus.IN_PROGRESS:
        values["started_at"] = now
    if status.finished:
        values["finished_at"] = now
    return bool(
        conn.execute(update(_T).where(_T.c.id == task_id, _T.c.status.in_(_UNFINISHED)).values(**values)).rowcount
    )


def first_failure(conn: Connection, execution_id: int) -> str:
    """What the first failed task of an execution says ("" without one)."""
    row = conn.execute(
        select(_T.c.src_resource, _T.c.status_text)
        .where(_T.c.execution_id == execution_id, _T.c.status == RunStatus.FAILED.value)
        .order_by(_T.c.id)
        .limit(1)
    ).first()
    return f"{row[0]}: {row[1]}" if row else ""


def task_counts(conn: Connection, execution_id: int) -> dict[str, int]:
    """Status -> number of tasks of an execution."""
    return _counts(conn, [execution_id]).get(execution_id, {})


def get_task(conn: Connection, execution_id: int, task_id: int) -> ReplicationTask | None:
    """A task of an execution."""
    row = conn.execute(select(*_TASK).where(_T.c.execution_id == execution_id, _T.c.id == task_id)).first()
    return _task(row) if row else None


def list_tasks(conn: Connection, execution_id: int, *, offset: int, limit: int) -> Page[ReplicationTask]:
    """Tasks of an execution, in id order."""
    where = [_T.c.execution_id == execution_id]
    rows, total = page_rows(conn, _TASK, source=_T, where=where, order_by=[_T.c.id], offset=offset, limit=limit)
    return Page([_task(r) for r in rows], total)


def add_subtask(
    conn: Connection,
    *,
    task_id: int,
    execution_id: int,
    job_id: str,
    namespace: str,
    repository: str,
    tag: str,
    digest: str,
    status: RunStatus,
    text: str = "",
    started_at: int | None = None,
) -> int:
    """Record one manifest or blob of a task."""
    now = now_ms()
    return int(
        conn.execute(
            insert(_S)
            .values(
                task_id=task_id,
                execution_id=execution_id,
                job_id=job_id,
                namespace=namespace[:255],
                repository=repository[:255],
                tag=tag[:128],
                digest=digest[:140],
                status=status.value,
                status_text=text[:1024],
                started_at=started_at if started_at is not None else now,
                finished_at=now if status.finished else None,
                created_at=now,
                updated_at=now,
            )
            .returning(_S.c.id)
        ).scalar_one()
    )


_SUBTASK = (
    _S.c.id,
    _S.c.task_id,
    _S.c.job_id,
    _S.c.namespace,
    _S.c.repository,
    _S.c.tag,
    _S.c.digest,
    _S.c.status,
    _S.c.status_text,
    _S.c.started_at,
    _S.c.finished_at,
)


def list_subtasks(
    conn: Connection, task_id: int, *, status: RunStatus | None, offset: int, limit: int
) -> Page[ReplicationSubtask]:
    """Subtasks of a task (of one status), in id order."""
    rows, total = runs.subtask_page(conn, _S, _SUBTASK, task_id, status=status, offset=offset, limit=limit)
    return Page(
        [
            ReplicationSubtask(
                int(r[0]),
                int(r[1]),
                str(r[2]),
                str(r[3]),
                str(r[4]),
                str(r[5]),
                str(r[6]),
                RunStatus(r[7]),
                str(r[8]),
                None if r[9] is None else int(r[9]),
                None if r[10] is None else int(r[10]),
            )
            for r in rows
        ],
        total,
    )
