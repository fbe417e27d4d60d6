"""Enterprise Edition retention policies (the executions, tasks and subtasks of their runs are in
``retention_runs.py``: statuses are the signature executions' (``RunStatus``, settled with the same
``summarize``); a task's and an execution's status follow from their subtasks' in the transaction
that changes one)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from moorage.domain.bounded_json import load_document
from moorage.domain.enterprise import Page, Trigger
from moorage.domain.retention import (
    PolicyRule,
    PolicyTemplate,
    RetentionPolicy,
)
from moorage.metadata.database import now_ms
from moorage.metadata.queries.pages import page_rows
from moorage.metadata.queries.policy_json import selector_json, selectors_from_json, trigger_from_json, trigger_json
from moorage.metadata.tables import (
    ee_retention_policies,
    namespaces,
)


# Policies ------------------------------------------------------------------------------------------
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
                "tag_selectors": [selector_json(s) for s in r.tag_selectors],
                "scope_selectors": {"repository": [selector_json(s) for s in r.repository_selectors]},
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
                selectors_from_json(raw.get("tag_selectors")),
                selectors_from_json((raw.get("scope_selectors") or {}).get("repository")),
                int(raw.get("priority", 0)),
                bool(raw.get("disabled", False)),
                str(raw.get("action", "retain")),
                str(raw.get("repo_scope_mode") or "regular"),
                position,
            )
        )
    return tuple(found)


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
        trigger_from_json(r[7]),
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
