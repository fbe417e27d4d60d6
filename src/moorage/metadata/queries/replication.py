"""Enterprise Edition replication: registries, policies, and the executions, tasks and subtasks of
their runs. An execution's counts come from its tasks (never kept as counters); a task's status is
set by the run as each artifact is copied."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from moorage.domain.bounded_json import load_document
from moorage.domain.enterprise import UNFINISHED, Page, RunStatus, Trigger
from moorage.domain.replication import (
    FilterType,
    RegistryKind,
    ReplicationExecution,
    ReplicationFilter,
    ReplicationPolicy,
    ReplicationRegistry,
    ReplicationSubtask,
    ReplicationTask,
)
from moorage.metadata.database import now_ms
from moorage.metadata.queries import runs
from moorage.metadata.queries.enterprise_signing import trigger_json
from moorage.metadata.queries.pages import ordered, page_rows
from moorage.metadata.replication_tables import (
    replication_executions,
    replication_policies,
    replication_registries,
    replication_subtasks,
    replication_tasks,
)

_UNFINISHED = [s.value for s in UNFINISHED]

# Registries ----------------------------------------------------------------------------------------
_R = replication_registries
_REGISTRY = (
    _R.c.id,
    _R.c.instance_id,
    _R.c.name,
    _R.c.description,
    _R.c.type,
    _R.c.url,
    _R.c.username,
    _R.c.password,
    _R.c.insecure,
    _R.c.status,
    _R.c.created_at,
    _R.c.updated_at,
)


def _registry(r: Sequence[Any]) -> ReplicationRegistry:
    return ReplicationRegistry(
        int(r[0]),
        str(r[1]),
        str(r[2]),
        str(r[3]),
        RegistryKind(r[4]),
        str(r[5]),
        str(r[6]),
        bool(r[7]),
        bool(r[8]),
        str(r[9]),
        int(r[10]),
        int(r[11]),
    )


def registry_name_taken(conn: Connection, instance_id: str, name: str, *, other_than: int | None) -> bool:
    """Whether another registry of the instance has this name."""
    query = select(_R.c.id).where(_R.c.instance_id == instance_id, _R.c.name == name)
    if other_than is not None:
        query = query.where(_R.c.id != other_than)
    return conn.execute(query).first() is not None


def create_registry(conn: Connection, *, instance_id: str, values: dict[str, Any]) -> int:
    """A new registry (its password sealed afterwards, bound to the id: see ``set_password``)."""
    now = now_ms()
    return int(
        conn.execute(
            insert(_R).values(instance_id=instance_id, created_at=now, updated_at=now, **values).returning(_R.c.id)
        ).scalar_one()
    )


def set_password(conn: Connection, registry_id: int, sealed: str) -> None:
    """Store a registry's sealed password."""
    conn.execute(update(_R).where(_R.c.id == registry_id).values(password=sealed))


def sealed_password(conn: Connection, registry_id: int) -> str:
    """A registry's sealed password ("" without one)."""
    return str(conn.execute(select(_R.c.password).where(_R.c.id == registry_id)).scalar_one_or_none() or "")


def get_registry(conn: Connection, instance_id: str, registry_id: int) -> ReplicationRegistry | None:
    """A registry of an instance."""
    row = conn.execute(select(*_REGISTRY).where(_R.c.instance_id == instance_id, _R.c.id == registry_id)).first()
    return _registry(row) if row else None


def registry_by_id(conn: Connection, registry_id: int) -> ReplicationRegistry | None:
    """A registry by id alone (runs)."""
    row = conn.execute(select(*_REGISTRY).where(_R.c.id == registry_id)).first()
    return _registry(row) if row else None


def list_registries(
    conn: Connection,
    instance_id: str,
    *,
    name: str | None,
    kind: str | None,
    order_column: str,
    descending: bool,
    offset: int,
    limit: int,
) -> Page[ReplicationRegistry]:
    """Registries of an instance (of a name, of a type)."""
    where: list[ColumnElement[bool]] = [_R.c.instance_id == instance_id]
    if name:
        where.append(_R.c.name == name)
    if kind:
        where.append(_R.c.type == kind)
    order = ordered(_R.c[order_column], descending=descending, tiebreak=_R.c.id)
    rows, total = page_rows(conn, _REGISTRY, source=_R, where=where, order_by=order, offset=offset, limit=limit)
    return Page([_registry(r) for r in rows], total)


def update_registry(conn: Connection, registry_id: int, values: dict[str, Any]) -> None:
    """Change a registry's columns."""
    conn.execute(update(_R).where(_R.c.id == registry_id).values(updated_at=now_ms(), **values))


def registry_in_use(conn: Connection, registry_id: int) -> bool:
    """Whether a policy copies to or from the registry."""
    P = replication_policies
    query = select(P.c.id).where(or_(P.c.src_registry_id == registry_id, P.c.dest_registry_id == registry_id))
    return conn.execute(query.limit(1)).first() is not None


def delete_registry(conn: Connection, registry_id: int) -> None:
    """Remove a registry."""
    conn.execute(delete(_R).where(_R.c.id == registry_id))


# Policies ------------------------------------------------------------------------------------------
_P = replication_policies
_POLICY = (
    _P.c.id,
    _P.c.instance_id,
    _P.c.name,
    _P.c.description,
    _P.c.src_registry_id,
    _P.c.dest_registry_id,
    _P.c.dest_namespace,
    _P.c.dest_namespace_replace_count,
    _P.c.filters,
    _P.c.repo_scope_mode,
    _P.c.trigger,
    _P.c.override,
    _P.c.enabled,
    _P.c.replicate_deletion,
    _P.c.speed_kb,
    _P.c.copy_by_chunk,
    _P.c.created_at,
    _P.c.updated_at,
)


def filters_json(filters: Sequence[ReplicationFilter]) -> str:
    """Filters as stored (the API's shape)."""
    return json.dumps([{"type": f.type.value, "value": f.value} for f in filters])


def _filters(text: str) -> tuple[ReplicationFilter, ...]:
    return tuple(
        ReplicationFilter(FilterType(str(raw["type"])), str(raw.get("value", "")))
        for raw in load_document(text)
        if isinstance(raw, dict)
    )


def _trigger(text: str) -> Trigger:
    raw = load_document(text)
    return Trigger(str(raw.get("type", "manual")), str((raw.get("trigger_settings") or {}).get("cron", "")))


def _policy(r: Sequence[Any]) -> ReplicationPolicy:
    return ReplicationPolicy(
        int(r[0]),
        str(r[1]),
        str(r[2]),
        str(r[3]),
        None if r[4] is None else int(r[4]),
        None if r[5] is None else int(r[5]),
        str(r[6]),
        int(r[7]),
        _filters(r[8]),
        str(r[9]),
        _trigger(r[10]),
        bool(r[11]),
        bool(r[12]),
        bool(r[13]),
        int(r[14]),
        bool(r[15]),
        int(r[16]),
        int(r[17]),
    )


def policy_values(policy: ReplicationPolicy) -> dict[str, Any]:
    """A policy's stored columns (all but id, instance and times)."""
    return {
        "name": policy.name,
        "description": policy.description,
        "src_registry_id": policy.src_registry_id,
        "dest_registry_id": policy.dest_registry_id,
        "dest_namespace": policy.dest_namespace,
        "dest_namespace_replace_count": policy.dest_namespace_replace_count,
        "filters": filters_json(policy.filters),
        "repo_scope_mode": policy.repo_scope_mode,
        "trigger": trigger_json(policy.trigger),
        "override": policy.override,
        "enabled": policy.enabled,
        "replicate_deletion": policy.replicate_deletion,
        "speed_kb": policy.speed_kb,
        "copy_by_chunk": policy.copy_by_chunk,
    }


def policy_name_taken(conn: Connection, instance_id: str, name: str, *, other_than: int | None) -> bool:
    """Whether another policy of the instance has this name."""
    query = select(_P.c.id).where(_P.c.instance_id == instance_id, _P.c.name == name)
    if other_than is not None:
        query = query.where(_P.c.id != other_than)
    return conn.execute(query).first() is not None


def count_policies(conn: Connection, instance_id: str) -> int:
    """How many policies an instance has."""
    return int(conn.execute(select(func.count()).select_from(_P).where(_P.c.instance_id == instance_id)).scalar_one())


def create_policy(conn: Connection, *, instance_id: str, values: dict[str, Any]) -> int:
    """A new policy."""
    now = now_ms()
    return int(
        conn.execute(
            insert(_P)
            .values(instance_id=instance_id, created_at=now, updated_at=now, last_scheduled_at=now, **values)
            .returning(_P.c.id)
        ).scalar_one()
    )


def get_policy(conn: Connection, instance_id: str, policy_id: int) -> ReplicationPolicy | None:
    """A policy of an instance."""
    row = conn.execute(select(*_POLICY).where(_P.c.instance_id == instance_id, _P.c.id == policy_id)).first()
    return _policy(row) if row else None


def policy_by_id(conn: Connection, policy_id: int) -> ReplicationPolicy | None:
    """A policy by id alone (jobs)."""
    row = conn.execute(select(*_POLICY).where(_P.c.id == policy_id)).first()
    return _policy(row) if row else None


def list_policies(
    conn: Connection,
    instance_id: str,
    *,
    name: str | None,
    registry_id: int | None,
    order_column: str,
    descending: bool,
    offset: int,
    limit: int,
) -> Page[ReplicationPolicy]:
    """Policies of an instance (of a name, of a registry as source or destination)."""
    where: list[ColumnElement[bool]] = [_P.c.instance_id == instance_id]
    if name:
        where.append(_P.c.name == name)
    if registry_id is not None:
        where.append(or_(_P.c.src_registry_id == registry_id, _P.c.dest_registry_id == registry_id))
    order = ordered(_P.c[order_column], descending=descending, tiebreak=_P.c.id)
    rows, total = page_rows(conn, _POLICY, source=_P, where=where, order_by=order, offset=offset, limit=limit)
    return Page([_policy(r) for r in rows], total)


def update_policy(conn: Connection, policy_id: int, values: dict[str, Any]) -> None:
    """Replace a policy's columns."""
    conn.execute(update(_P).where(_P.c.id == policy_id).values(updated_at=now_ms(), **values))


def delete_policy(conn: Connection, policy_id: int) -> None:
    """Remove a policy with its executions."""
    conn.execute(delete(_P).where(_P.c.id == policy_id))


def event_policies(conn: Connection, instance_id: str) -> list[ReplicationPolicy]:
    """The enabled push-based, event-triggered policies of an instance."""
    rows = conn.execute(
        select(*_POLICY).where(
            _P.c.instance_id == instance_id,
            _P.c.enabled.is_(True),
            _P.c.src_registry_id.is_(None),
            _P.c.trigger.contains('"event_based"'),
        )
    )
    return [p for r in rows if (p := _policy(r)).trigger.type == "event_based"]


def scheduled_policies(conn: Connection) -> list[tuple[ReplicationPolicy, int]]:
    """Every enabled scheduled policy with the time the scheduler last considered it."""
    rows = conn.execute(
        select(*_POLICY, _P.c.last_scheduled_at).where(_P.c.enabled.is_(True), _P.c.trigger.contains('"scheduled"'))
    )
    return [(p, int(r[18])) for r in rows if (p := _policy(r)).trigger.type == "scheduled"]


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
    where: list[ColumnElement[bool]] = [_S.c.task_id == task_id]
    if status is not None:
        where.append(_S.c.status == status.value)
    rows, total = page_rows(conn, _SUBTASK, source=_S, where=where, order_by=[_S.c.id], offset=offset, limit=limit)
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
