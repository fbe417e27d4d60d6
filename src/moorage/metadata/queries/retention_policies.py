"""Enterprise Edition retention policies and the executions, tasks and subtasks of their runs.

Statuses are the signature executions' (``RunStatus``, settled with the same ``summarize``); a
task's and an execution's status follow from their subtasks' in the transaction that changes one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from moorage.domain.bounded_json import load_document
from moorage.domain.enterprise import UNFINISHED, Page, RunStatus, Selector, Trigger
from moorage.domain.retention import (
    PolicyRule,
    PolicyTemplate,
    RetentionExecution,
    RetentionPolicy,
    RetentionSubtask,
    RetentionTask,
)
from moorage.metadata.database import now_ms
from moorage.metadata.queries import runs
from moorage.metadata.queries.enterprise_signing import trigger_json
from moorage.metadata.queries.pages import page_rows
from moorage.metadata.tables import (
    ee_retention_executions,
    ee_retention_policies,
    ee_retention_subtasks,
    ee_retention_tasks,
    namespaces,
)

_UNFINISHED = [s.value for s in UNFINISHED]


# Policies ------------------------------------------------------------------------------------------
def _selector_json(s: Selector) -> dict[str, str]:
    return {"kind": s.kind, "decoration": s.decoration, "pattern": s.pattern, "extras": s.extras}


def _selectors(raw: Any) -> tuple[Selector, ...]:
    return tuple(
        Selector(
            str(s.get("kind", "")), str(s.get("decoration", "")), str(s.get("pattern", "")), str(s.get("extras") or "")
        )
        for s in raw or []
        if isinstance(s, dict)
    )


def rules_json(rules: Sequence[PolicyRule]) -> str:
    """Rules as stored (the API's shape)."""
    return json.dumps(
        [
            {
                "priority": r.priority,
                "disabled": r.disabled,
                "action": r.action,
                "template": r.template.value,
                "params": {r.template.value: r.count} if r.template.takes_number else {},
                "tag_selectors": [_selector_json(s) for s in r.tag_selectors],
                "scope_selectors": {"repository": [_selector_json(s) for s in r.repository_selectors]},
                "repo_scope_mode": r.repo_scope_mode,
            }
            for r in rules
        ]
    )


def _rules(text: str) -> tuple[PolicyRule, ...]:
    found = []
    for position, raw in enumerate(load_document(text), start=1):
        template = PolicyTemplate(raw["template"])
        count = int((raw.get("params") or {}).get(template.value, 0)) if template.takes_number else 0
        found.append(
            PolicyRule(
                template,
                count,
                _selectors(raw.get("tag_selectors")),
                _selectors((raw.get("scope_selectors") or {}).get("repository")),
                int(raw.get("priority", 0)),
                bool(raw.get("disabled", False)),
                str(raw.get("action", "retain")),
                str(raw.get("repo_scope_mode") or "regular"),
                position,
            )
        )
    return tuple(found)


def _trigger(text: str) -> Trigger:
    raw = load_document(text)
    return Trigger(str(raw.get("type", "manual")), str((raw.get("trigger_settings") or {}).get("cron", "")))


_POLICY = (
    ee_retention_policies.c.id,
    ee_retention_policies.c.instance_id,
    ee_retention_policies.c.namespace_id,
    namespaces.c.name,
    ee_retention_policies.c.name,
    ee_retention_policies.c.algorithm,
    ee_retention_policies.c.enabled,
    ee_retention_policies.c.trigger,
    ee_retention_policies.c.rules,
    ee_retention_policies.c.created_at,
    ee_retention_policies.c.updated_at,
)
_POLICY_FROM = ee_retention_policies.join(namespaces, namespaces.c.id == ee_retention_policies.c.namespace_id)


def _policy(r: Sequence[Any]) -> RetentionPolicy:
    return RetentionPolicy(
        int(r[0]),
        str(r[1]),
        int(r[2]),
        str(r[3]),
        str(r[4]),
        str(r[5]),
        bool(r[6]),
        _trigger(r[7]),
        _rules(r[8]),
        int(r[9]),
        int(r[10]),
    )


def create_policy(
    conn: Connection,
    *,
    instance_id: str,
    namespace_id: int,
    name: str,
    algorithm: str,
    enabled: bool,
    trigger: Trigger,
    rules: Sequence[PolicyRule],
) -> int | None:
    """A new policy; None when the namespace has one of that name."""
    if policy_name_taken(conn, namespace_id, name, other_than=None):
        return None
    now = now_ms()
    return int(
        conn.execute(
            insert(ee_retention_policies)
            .values(
                instance_id=instance_id,
                namespace_id=namespace_id,
                name=name,
                algorithm=algorithm,
                enabled=enabled,
                trigger=trigger_json(trigger),
                rules=rules_json(rules),
                last_scheduled_at=now,
                created_at=now,
                updated_at=now,
            )
            .returning(ee_retention_policies.c.id)
        ).scalar_one()
    )


def get_policy(conn: Connection, namespace_id: int, policy_id: int) -> RetentionPolicy | None:
    """A policy of a namespace."""
    row = conn.execute(
        select(*_POLICY)
        .select_from(_POLICY_FROM)
        .where(ee_retention_policies.c.namespace_id == namespace_id, ee_retention_policies.c.id == policy_id)
    ).first()
    return _policy(row) if row else None


def policy_by_id(conn: Connection, policy_id: int) -> RetentionPolicy | None:
    """A policy by id alone (jobs)."""
    row = conn.execute(
        select(*_POLICY).select_from(_POLICY_FROM).where(ee_retention_policies.c.id == policy_id)
    ).first()
    return _policy(row) if row else None


def list_policies(
    conn: Connection, instance_id: str, *, namespace_ids: set[int] | None, name: str | None, offset: int, limit: int
) -> Page[RetentionPolicy]:
    """Policies of an instance (of some namespaces, of one name), oldest first."""
    where: list[ColumnElement[bool]] = [ee_retention_policies.c.instance_id == instance_id]
    if namespace_ids is not None:
        where.append(
            ee_retention_policies.c.namespace_id.in_(sorted(namespace_ids))
            if namespace_ids
            else ee_retention_policies.c.id.is_(None)
        )
    if name:
        where.append(ee_retention_policies.c.name == name)
    rows, total = page_rows(
        conn,
        _POLICY,
        source=_POLICY_FROM,
        count_from=ee_retention_policies,
        where=where,
        order_by=[ee_retention_policies.c.id],
        offset=offset,
        limit=limit,
    )
    return Page([_policy(r) for r in rows], total)


def policies_of_namespace(conn: Connection, namespace_id: int) -> int:
    """How many policies a namespace has."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(ee_retention_policies)
            .where(ee_retention_policies.c.namespace_id == namespace_id)
        ).scalar_one()
    )


def policy_name_taken(conn: Connection, namespace_id: int, name: str, *, other_than: int | None) -> bool:
    """Whether another policy of the namespace has this name."""
    query = select(ee_retention_policies.c.id).where(
        ee_retention_policies.c.namespace_id == namespace_id, ee_retention_policies.c.name == name
    )
    if other_than is not None:
        query = query.where(ee_retention_policies.c.id != other_than)
    return conn.execute(query).first() is not None


def update_policy(
    conn: Connection,
    policy_id: int,
    *,
    name: str,
    algorithm: str,
    enabled: bool,
    trigger: Trigger,
    rules: Sequence[PolicyRule],
) -> None:
    """Replace a policy's fields."""
    conn.execute(
        update(ee_retention_policies)
        .where(ee_retention_policies.c.id == policy_id)
        .values(
            name=name,
            algorithm=algorithm,
            enabled=enabled,
            trigger=trigger_json(trigger),
            rules=rules_json(rules),
            updated_at=now_ms(),
        )
    )


def delete_policy(conn: Connection, policy_id: int) -> bool:
    """Remove a policy with its executions."""
    return bool(conn.execute(delete(ee_retention_policies).where(ee_retention_policies.c.id == policy_id)).rowcount)


def scheduled_policies(conn: Connection) -> list[tuple[RetentionPolicy, int]]:
    """Every enabled scheduled policy with the time the scheduler last considered it."""
    rows = conn.execute(
        select(*_POLICY, ee_retention_policies.c.last_scheduled_at)
        .select_from(_POLICY_FROM)
        .where(
            ee_retention_policies.c.enabled.is_(True), ee_retention_policies.c.trigger.contains('"type": "scheduled"')
        )
    )
    return [(p, int(r[11])) for r in rows if (p := _policy(r)).trigger.type == "scheduled"]


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
    """Subtasks of a task (of one status), in creation order; the index (task, status, id) serves it."""
    where = [ee_retention_subtasks.c.task_id == task_id]
    if status is not None:
        where.append(ee_retention_subtasks.c.status == status.value)
    rows, total = page_rows(
        conn,
        _SUBTASK,
        source=ee_retention_subtasks,
        where=where,
        order_by=[ee_retention_subtasks.c.id],
        offset=offset,
        limit=limit,
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
