"""Scan and sync tasks with their items, the scheduled-scan and organization policies, and the
small shared state of the security workers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Connection

from moorage.domain.bounded_json import load_document
from moorage.domain.security import (
    ENDED_TASK_STATUSES,
    OPEN_ITEM_STATUSES,
    NamespacePolicy,
    ScanPolicy,
    SecurityTask,
    TaskItem,
    TaskItemStatus,
    TaskStatus,
)
from moorage.domain.security_tasks import NewItem, TaskQuery
from moorage.metadata.database import now_ms
from moorage.metadata.tables import namespaces, security_state, security_task_items, security_tasks
from moorage.metadata.tables import security_namespace_policies as ns_policies
from moorage.metadata.tables import security_scan_policies as scan_policies
from moorage.metadata.upsert import insert_ignore, upsert

t, items = security_tasks, security_task_items
_TASK = (
    t.c.id,
    t.c.domain_id,
    t.c.type,
    t.c.task_type,
    t.c.name,
    t.c.job_id,
    t.c.policy_id,
    t.c.scan_scope,
    t.c.rate_limit,
    t.c.is_all,
    t.c.status,
    t.c.total,
    t.c.succeeded,
    t.c.failed,
    t.c.risky,
    t.c.failed_reason,
    t.c.created_at,
    t.c.begin_time,
    t.c.end_time,
)
_ITEM = (
    items.c.task_id,
    items.c.position,
    items.c.image_row_id,
    items.c.registry_id,
    items.c.manifest_digest,
    items.c.label,
    items.c.status,
    items.c.failed_reason,
)


def _task(r: Sequence[Any]) -> SecurityTask:
    return SecurityTask(
        str(r[0]),
        str(r[1]),
        str(r[2]),
        str(r[3]),
        str(r[4]),
        str(r[5]),
        str(r[6]),
        int(r[7]),
        int(r[8]),
        bool(r[9]),
        TaskStatus(r[10]),
        int(r[11]),
        int(r[12]),
        int(r[13]),
        int(r[14]),
        str(r[15]),
        int(r[16]),
        int(r[17]),
        int(r[18]),
    )


def _item(r: Sequence[Any]) -> TaskItem:
    return TaskItem(
        str(r[0]),
        int(r[1]),
        None if r[2] is None else int(r[2]),
        str(r[3]),
        str(r[4]),
        str(r[5]),
        TaskItemStatus(r[6]),
        str(r[7]),
    )


def create(
    conn: Connection,
    *,
    task_id: str,
    domain_id: str,
    type: str,
    task_type: str,
    name: str,
    scan_scope: int,
    rate_limit: int,
    is_all: bool,
    policy_id: str,
    new_items: Sequence[NewItem],
) -> None:
    """A new waiting task and its items."""
    conn.execute(
        t.insert().values(
            id=task_id,
            domain_id=domain_id,
            type=type,
            task_type=task_type,
            name=name[:255],
            policy_id=policy_id,
            scan_scope=scan_scope,
            rate_limit=rate_limit,
            is_all=is_all,
            status=TaskStatus.WAITING,
            total=len(new_items),
            created_at=now_ms(),
        )
    )
    rows = [
        {
            "task_id": task_id,
            "position": i,
            "image_row_id": item.image_row_id,
            "registry_id": item.registry_id,
            "manifest_digest": item.manifest_digest,
            "label": item.label,
            "status": TaskItemStatus.WAITING,
        }
        for i, item in enumerate(new_items)
    ]
    for start in range(0, len(rows), 500):
        conn.execute(items.insert(), rows[start : start + 500])


def set_job(conn: Connection, task_id: str, job_id: str) -> None:
    """Remember the job that runs a task."""
    conn.execute(update(t).where(t.c.id == task_id).values(job_id=job_id))


def get(conn: Connection, task_id: str, domain_id: str | None = None) -> SecurityTask | None:
    """A task (of the account, when given)."""
    conditions = [t.c.id == task_id]
    if domain_id is not None:
        conditions.append(t.c.domain_id == domain_id)
    row = conn.execute(select(*_TASK).where(*conditions)).first()
    return _task(row) if row else None


def page(
    conn: Connection, domain_id: str, query: TaskQuery, *, offset: int, limit: int
) -> tuple[list[SecurityTask], int]:
    """One page of the account's tasks, newest first, and how many match."""
    conditions = [t.c.domain_id == domain_id]
    if query.type:
        conditions.append(t.c.type == query.type)
    if query.task_type:
        conditions.append(t.c.task_type == query.task_type)
    if query.task_name:
        conditions.append(t.c.name.contains(query.task_name, autoescape=True))
    if query.task_id:
        conditions.append(t.c.id == query.task_id)
    if query.created_after is not None:
        conditions.append(t.c.created_at >= query.created_after)
    if query.ended_before is not None:
        conditions.append(t.c.end_time > 0)
        conditions.append(t.c.end_time <= query.ended_before)
    if query.finished is not None:
        done = t.c.status.in_(ENDED_TASK_STATUSES)
        conditions.append(done if query.finished else ~done)
    if query.scan_scope is not None:
        conditions.append(t.c.scan_scope == query.scan_scope)
    total = int(conn.execute(select(func.count()).select_from(t).where(*conditions)).scalar_one())
    rows = conn.execute(
        select(*_TASK).where(*conditions).order_by(t.c.created_at.desc(), t.c.id).offset(offset).limit(limit)
    )
    return [_task(r) for r in rows], total


def task_items(conn: Connection, task_id: str, *, statuses: Sequence[TaskItemStatus] = ()) -> list[TaskItem]:
    """A task's items in order (optionally only some statuses)."""
    conditions = [items.c.task_id == task_id]
    if statuses:
        conditions.append(items.c.status.in_(list(statuses)))
    return [_item(r) for r in conn.execute(select(*_ITEM).where(*conditions).order_by(items.c.position))]


def set_item(
    conn: Connection,
    task_id: str,
    position: int,
    *,
    status: TaskItemStatus,
    failed_reason: str = "",
    digest: str | None = None,
) -> None:
    """Record an item's state."""
    values: dict[str, Any] = {"status": status, "failed_reason": failed_reason[:255]}
    if status.done:
        values["finished_at"] = now_ms()
    if digest is not None:
        values["manifest_digest"] = digest
    conn.execute(update(items).where(items.c.task_id == task_id, items.c.position == position).values(**values))


def start(conn: Connection, task_id: str) -> None:
    """A task's job began (again, after a retry: the begin time stays the first one)."""
    conn.execute(update(t).where(t.c.id == task_id, t.c.begin_time == 0).values(begin_time=now_ms()))
    conn.execute(update(t).where(t.c.id == task_id, t.c.status == TaskStatus.WAITING).values(status=TaskStatus.RUNNING))


def recount(conn: Connection, task_id: str, *, risky: int | None = None) -> None:
    """Bring a task's counters in line with its items."""
    counts = {
        str(r[0]): int(r[1])
        for r in conn.execute(
            select(items.c.status, func.count()).where(items.c.task_id == task_id).group_by(items.c.status)
        )
    }
    values: dict[str, Any] = {
        "succeeded": counts.get(TaskItemStatus.SUCCESS, 0),
        "failed": counts.get(TaskItemStatus.FAILED, 0),
    }
    if risky is not None:
        values["risky"] = risky
    conn.execute(update(t).where(t.c.id == task_id).values(**values))


def finish(conn: Connection, task_id: str, *, status: TaskStatus, failed_reason: str = "") -> None:
    """A task ended (finished, stopped or failed); items still waiting are stopped."""
    conn.execute(
        update(items)
        .where(items.c.task_id == task_id, items.c.status.in_(OPEN_ITEM_STATUSES))
        .values(status=TaskItemStatus.STOPPED, finished_at=now_ms())
    )
    conn.execute(
        update(t)
        .where(t.c.id == task_id, t.c.end_time == 0)
        .values(status=status, failed_reason=failed_reason[:255], end_time=now_ms())
    )


# Policies ----------------------------------------------------------------------------------------


def scan_policy(conn: Connection, domain_id: str) -> ScanPolicy:
    """The account's scheduled-scan policy (defaults when never set)."""
    row = conn.execute(
        select(
            scan_policies.c.enabled,
            scan_policies.c.scan_cycle,
            scan_policies.c.scan_scope,
            scan_policies.c.rate_limit,
            scan_policies.c.time_scope,
            scan_policies.c.registry_ids,
            scan_policies.c.last_run_at,
        ).where(scan_policies.c.domain_id == domain_id)
    ).first()
    if row is None:
        return ScanPolicy(domain_id, False, 7, 0x7FFFFFFF, 0, 0, (), 0)
    return ScanPolicy(
        domain_id,
        bool(row[0]),
        int(row[1]),
        int(row[2]),
        int(row[3]),
        int(row[4]),
        tuple(str(x) for x in load_document(row[5] or "[]")),
        int(row[6]),
    )


def set_scan_policy(conn: Connection, policy: ScanPolicy) -> None:
    """Create or replace an account's scheduled-scan policy."""
    upsert(
        conn,
        scan_policies,
        {
            "domain_id": policy.domain_id,
            "enabled": policy.enabled,
            "scan_cycle": policy.scan_cycle,
            "scan_scope": policy.scan_scope,
            "rate_limit": policy.rate_limit,
            "time_scope": policy.time_scope,
            "registry_ids": json.dumps(list(policy.registry_ids)),
            "last_run_at": policy.last_run_at,
            "updated_at": now_ms(),
        },
        conflict=["domain_id"],
        update=["enabled", "scan_cycle", "scan_scope", "rate_limit", "time_scope", "registry_ids", "updated_at"],
    )


def enabled_scan_policies(conn: Connection) -> list[ScanPolicy]:
    """Every account's enabled scheduled-scan policy."""
    rows = conn.execute(select(scan_policies.c.domain_id).where(scan_policies.c.enabled.is_(True)))
    return [scan_policy(conn, str(r[0])) for r in rows]


def mark_policy_run(conn: Connection, domain_id: str, *, due_since: int, now: int) -> bool:
    """Claim one scheduled run: True for the one caller that moved ``last_run_at`` past ``due_since``."""
    result = conn.execute(
        update(scan_policies)
        .where(scan_policies.c.domain_id == domain_id, scan_policies.c.last_run_at == due_since)
        .values(last_run_at=now)
    )
    return bool(result.rowcount)


# Prebuilt: every tagged push and every pull reads it (see moorage.metadata.upsert on why).
_NAMESPACE_POLICY = select(
    ns_policies.c.namespace_id,
    ns_policies.c.scan_on_push,
    ns_policies.c.block_severity,
    ns_policies.c.block_unscanned,
    ns_policies.c.allowlist,
    ns_policies.c.version,
    ns_policies.c.allowlist_expires_at,
).where(ns_policies.c.namespace_id == bindparam("of"))


def namespace_policy(conn: Connection, namespace_id: int) -> NamespacePolicy | None:
    """An organization's policy, if it has one."""
    row = conn.execute(_NAMESPACE_POLICY, {"of": namespace_id}).first()
    if row is None:
        return None
    return NamespacePolicy(
        int(row[0]),
        None if row[1] is None else bool(row[1]),
        str(row[2]),
        bool(row[3]),
        tuple(str(x) for x in load_document(row[4] or "[]")),
        int(row[5]),
        int(row[6] or 0),
    )


def set_namespace_policy(
    conn: Connection,
    *,
    namespace_id: int,
    scan_on_push: bool | None,
    block_severity: str,
    block_unscanned: bool,
    allowlist: Sequence[str],
    allowlist_expires_at: int = 0,
) -> NamespacePolicy:
    """Create or replace an organization's policy; every change bumps its version."""
    values = {
        "scan_on_push": scan_on_push,
        "block_severity": block_severity,
        "block_unscanned": block_unscanned,
        "allowlist": json.dumps(sorted(set(allowlist))),
        "allowlist_expires_at": allowlist_expires_at,
        "updated_at": now_ms(),
    }
    if not insert_ignore(
        conn, ns_policies, {"namespace_id": namespace_id, "version": 1, **values}, conflict=["namespace_id"]
    ):
        conn.execute(
            update(ns_policies)
            .where(ns_policies.c.namespace_id == namespace_id)
            .values(**values, version=ns_policies.c.version + 1)
        )
    found = namespace_policy(conn, namespace_id)
    assert found is not None
    return found


def namespace_policies_of_domain(
    conn: Connection, domain_id: str, instance_id: str
) -> list[tuple[str, NamespacePolicy]]:
    """(organization name, policy) of every organization of an account that has one."""
    rows = conn.execute(
        select(namespaces.c.name, ns_policies.c.namespace_id)
        .select_from(ns_policies.join(namespaces, namespaces.c.id == ns_policies.c.namespace_id))
        .where(namespaces.c.domain_id == domain_id, namespaces.c.instance_id == instance_id)
        .order_by(namespaces.c.name)
    )
    found = []
    for name, namespace_id in rows:
        policy = namespace_policy(conn, int(namespace_id))
        if policy is not None:
            found.append((str(name), policy))
    return found


def state(conn: Connection, key: str) -> str | None:
    """A shared fact of the security workers."""
    value = conn.execute(select(security_state.c.value).where(security_state.c.key == key)).scalar()
    return None if value is None else str(value)


def set_state(conn: Connection, key: str, value: str) -> None:
    """Record a shared fact."""
    upsert(
        conn,
        security_state,
        {"key": key, "value": value, "updated_at": now_ms()},
        conflict=["key"],
        update=["value", "updated_at"],
    )


def compare_and_set_state(conn: Connection, key: str, expected: str | None, value: str) -> bool:
    """Record a shared fact only if it still reads ``expected`` (None: not recorded yet); False when
    another worker changed it first. The conditional update is what lets one worker of many act."""
    if expected is None:
        return (
            insert_ignore(conn, security_state, {"key": key, "value": value, "updated_at": now_ms()}, conflict=["key"])
            > 0
        )
    result = conn.execute(
        update(security_state)
        .where(security_state.c.key == key, security_state.c.value == expected)
        .values(value=value, updated_at=now_ms())
    )
    return bool(result.rowcount)
