"""Webhook policies, deliveries and their attempts (the rows behind SWR's webhook operations and the
trigger histories)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from moorage.domain.bounded_json import load_document
from moorage.domain.enterprise import Page, RunStatus, ScopeRule, Selector
from moorage.domain.webhooks import Delivery, DeliveryAttempt, WebhookPolicy, WebhookTarget
from moorage.metadata.database import now_ms
from moorage.metadata.queries.policy_json import selector_json
from moorage.metadata.tables import namespaces, webhook_attempts, webhook_deliveries, webhook_policies
from moorage.metadata.upsert import insert_ignore

_POLICY = (
    webhook_policies.c.id,
    webhook_policies.c.instance_id,
    webhook_policies.c.namespace_id,
    namespaces.c.name,
    webhook_policies.c.name,
    webhook_policies.c.description,
    webhook_policies.c.event_types,
    webhook_policies.c.targets,
    webhook_policies.c.scope_rules,
    webhook_policies.c.enabled,
    webhook_policies.c.creator,
    webhook_policies.c.created_at,
    webhook_policies.c.updated_at,
)
_POLICY_SOURCE = webhook_policies.join(namespaces, namespaces.c.id == webhook_policies.c.namespace_id)
ORDER_COLUMNS = {
    "created_at": webhook_policies.c.created_at,
    "updated_at": webhook_policies.c.updated_at,
    "name": webhook_policies.c.name,
}


def targets_json(targets: Sequence[WebhookTarget]) -> str:
    """Targets as stored (their auth headers already sealed by the caller)."""
    return json.dumps(
        [
            {
                "type": t.type,
                "address": t.address,
                "auth_header": t.auth_header,
                "skip_cert_verify": t.skip_cert_verify,
                "address_type": t.address_type,
            }
            for t in targets
        ]
    )


def rules_json(rules: Sequence[ScopeRule]) -> str:
    """Scope rules as stored."""
    return json.dumps(
        [
            {
                "tag_selectors": [selector_json(s) for s in r.tag_selectors],
                "repository": [selector_json(s) for s in r.repository_selectors],
                "repo_scope_mode": r.repo_scope_mode,
            }
            for r in rules
        ]
    )


def _targets(text: str) -> tuple[WebhookTarget, ...]:
    raw = load_document(text)
    return tuple(
        WebhookTarget(
            address=str(t["address"]),
            auth_header=str(t.get("auth_header", "")),
            skip_cert_verify=bool(t.get("skip_cert_verify")),
            address_type=str(t.get("address_type", "internet")),
            type=str(t.get("type", "http")),
        )
        for t in (raw if isinstance(raw, list) else [])
    )


def _rules(text: str) -> tuple[ScopeRule, ...]:
    raw = load_document(text or "[]")

    def selectors(items: Any) -> tuple[Selector, ...]:
        return tuple(
            Selector(str(s["kind"]), str(s["decoration"]), str(s["pattern"]), str(s.get("extras", "")))
            for s in (items or [])
        )

    return tuple(
        ScopeRule(
            selectors(r.get("tag_selectors")), selectors(r.get("repository")), str(r.get("repo_scope_mode", "regular"))
        )
        for r in (raw if isinstance(raw, list) else [])
    )


def _policy(r: Sequence[Any]) -> WebhookPolicy:
    types = load_document(r[6])
    return WebhookPolicy(
        id=int(r[0]),
        instance_id=str(r[1]),
        namespace_id=int(r[2]),
        namespace_name=str(r[3]),
        name=str(r[4]),
        description=str(r[5]),
        event_types=tuple(str(t) for t in (types if isinstance(types, list) else [])),
        targets=_targets(r[7]),
        scope_rules=_rules(r[8]),
        enabled=bool(r[9]),
        creator=str(r[10]),
        created_at=int(r[11]),
        updated_at=int(r[12]),
    )


def create_policy(
    conn: Connection,
    *,
    instance_id: str,
    namespace_id: int,
    name: str,
    description: str,
    event_types: Sequence[str],
    targets: str,
    scope_rules: str,
    enabled: bool,
    creator: str,
    secret: str,
) -> int | None:
    """A new policy's id, or None when the namespace has one of that name."""
    now = now_ms()
    if not insert_ignore(
        conn,
        webhook_policies,
        {
            "instance_id": instance_id,
            "namespace_id": namespace_id,
            "name": name,
            "description": description,
            "event_types": json.dumps(list(event_types)),
            "targets": targets,
            "scope_rules": scope_rules,
            "enabled": enabled,
            "creator": creator,
            "secret": secret,
            "created_at": now,
            "updated_at": now,
        },
        conflict=["namespace_id", "name"],
    ):
        return None
    return int(
        conn.execute(
            select(webhook_policies.c.id).where(
                webhook_policies.c.namespace_id == namespace_id, webhook_policies.c.name == name
            )
        ).scalar_one()
    )


def get_policy(conn: Connection, namespace_id: int, policy_id: int) -> WebhookPolicy | None:
    """A policy of a namespace."""
    row = conn.execute(
        select(*_POLICY)
        .select_from(_POLICY_SOURCE)
        .where(webhook_policies.c.namespace_id == namespace_id, webhook_policies.c.id == policy_id)
    ).first()
    return _policy(row) if row else None


def policy_by_id(conn: Connection, policy_id: int) -> WebhookPolicy | None:
    """A policy by id alone (deliveries)."""
    row = conn.execute(select(*_POLICY).select_from(_POLICY_SOURCE).where(webhook_policies.c.id == policy_id)).first()
    return _policy(row) if row else None


def secret_of(conn: Connection, policy_id: int) -> str | None:
    """A policy's sealed signing secret."""
    found = conn.execute(select(webhook_policies.c.secret).where(webhook_policies.c.id == policy_id)).scalar()
    return None if found is None else str(found)


def name_taken(conn: Connection, namespace_id: int, name: str, *, other_than: int) -> bool:
    """Whether another policy of the namespace has ``name``."""
    return (
        conn.execute(
            select(webhook_policies.c.id).where(
                webhook_policies.c.namespace_id == namespace_id,
                webhook_policies.c.name == name,
                webhook_policies.c.id != other_than,
            )
        ).first()
        is not None
    )


def update_policy(conn: Connection, policy_id: int, values: dict[str, Any]) -> None:
    """Change a policy's columns (``updated_at`` too)."""
    conn.execute(
        update(webhook_policies).where(webhook_policies.c.id == policy_id).values(**values, updated_at=now_ms())
    )


def delete_policy(conn: Connection, policy_id: int) -> None:
    """Delete a policy (its deliveries go with it)."""
    conn.execute(
        delete(webhook_attempts).where(
            webhook_attempts.c.delivery_id.in_(
                select(webhook_deliveries.c.id).where(webhook_deliveries.c.policy_id == policy_id)
            )
        )
    )
    conn.execute(delete(webhook_deliveries).where(webhook_deliveries.c.policy_id == policy_id))
    conn.execute(delete(webhook_policies).where(webhook_policies.c.id == policy_id))


def list_policies(
    conn: Connection,
    instance_id: str,
    *,
    namespace_ids: set[int] | None,
    name: str | None,
    order_column: str,
    descending: bool,
    offset: int,
    limit: int,
) -> Page[WebhookPolicy]:
    """Policies of an instance (of ``namespace_ids`` when not None), optionally by name part."""
    condition = webhook_policies.c.instance_id == instance_id
    if namespace_ids is not None:
        condition = and_(condition, webhook_policies.c.namespace_id.in_(sorted(namespace_ids)))
    if name:
        escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        condition = and_(condition, webhook_policies.c.name.like(f"%{escaped}%", escape="\\"))
    column = ORDER_COLUMNS[order_column]
    order = (column.desc(), webhook_policies.c.id.desc()) if descending else (column.asc(), webhook_policies.c.id)
    rows = conn.execute(
        select(*_POLICY).select_from(_POLICY_SOURCE).where(condition).order_by(*order).offset(offset).limit(limit)
    )
    total = conn.execute(select(func.count()).select_from(webhook_policies).where(condition)).scalar_one()
    return Page([_policy(r) for r in rows], int(total))


def enabled_policies(conn: Connection, instance_id: str, namespace: str) -> list[WebhookPolicy]:
    """The enabled policies of a namespace (by name) of an instance: what the dispatcher matches."""
    rows = conn.execute(
        select(*_POLICY)
        .select_from(_POLICY_SOURCE)
        .where(
            webhook_policies.c.instance_id == instance_id,
            namespaces.c.name == namespace,
            webhook_policies.c.enabled.is_(True),
        )
        .order_by(webhook_policies.c.id)
    )
    return [_policy(r) for r in rows]


# Deliveries ---------------------------------------------------------------------------------------

_DELIVERY = (
    webhook_deliveries.c.id,
    webhook_deliveries.c.instance_id,
    webhook_deliveries.c.consumer,
    webhook_deliveries.c.policy_id,
    webhook_deliveries.c.trigger_id,
    webhook_deliveries.c.event_id,
    webhook_deliveries.c.target_index,
    webhook_deliveries.c.event_type,
    webhook_deliveries.c.notify_type,
    webhook_deliveries.c.address,
    webhook_deliveries.c.status,
    webhook_deliveries.c.status_text,
    webhook_deliveries.c.payload,
    webhook_deliveries.c.attempts,
    webhook_deliveries.c.tag,
    webhook_deliveries.c.created_at,
    webhook_deliveries.c.updated_at,
)


def _delivery(r: Sequence[Any]) -> Delivery:
    return Delivery(
        id=int(r[0]),
        instance_id=str(r[1]),
        consumer=str(r[2]),
        policy_id=None if r[3] is None else int(r[3]),
        trigger_id=None if r[4] is None else int(r[4]),
        event_id=int(r[5]),
        target_index=int(r[6]),
        event_type=str(r[7]),
        notify_type=str(r[8]),
        address=str(r[9]),
        status=RunStatus(r[10]),
        status_text=str(r[11]),
        payload=str(r[12]),
        attempts=int(r[13]),
        tag=str(r[14]),
        created_at=int(r[15]),
        updated_at=int(r[16]),
    )


def create_delivery(
    conn: Connection,
    *,
    instance_id: str,
    consumer: str,
    policy_id: int | None,
    trigger_id: int | None,
    event_id: int,
    target_index: int,
    event_type: str,
    address: str,
    tag: str,
    status: RunStatus,
    status_text: str,
    payload: str,
    job_id: str,
) -> int | None:
    """A new delivery's id; None when this event already has it (a dispatch run twice)."""
    now = now_ms()
    if not insert_ignore(
        conn,
        webhook_deliveries,
        {
            "instance_id": instance_id,
            "consumer": consumer,
            "policy_id": policy_id,
            "trigger_id": trigger_id,
            "event_id": event_id,
            "target_index": target_index,
            "event_type": event_type,
            "notify_type": "http",
            "address": address[:2048],
            "tag": tag[:128],
            "status": str(status),
            "status_text": status_text[:1024],
            "payload": payload,
            "attempts": 0,
            "job_id": job_id,
            "created_at": now,
            "updated_at": now,
        },
        conflict=["event_id", "consumer", "target_index"],
    ):
        return None
    return int(
        conn.execute(
            select(webhook_deliveries.c.id).where(
                webhook_deliveries.c.event_id == event_id,
                webhook_deliveries.c.consumer == consumer,
                webhook_deliveries.c.target_index == target_index,
            )
        ).scalar_one()
    )


def get_delivery(conn: Connection, delivery_id: int) -> Delivery | None:
    """A delivery by id."""
    row = conn.execute(select(*_DELIVERY).where(webhook_deliveries.c.id == delivery_id)).first()
    return _delivery(row) if row else None


def set_delivery(
    conn: Connection, delivery_id: int, *, status: RunStatus, status_text: str, attempts: int | None = None
) -> None:
    """Record where a delivery is."""
    values: dict[str, Any] = {"status": str(status), "status_text": status_text[:1024], "updated_at": now_ms()}
    if attempts is not None:
        values["attempts"] = attempts
    conn.execute(update(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id).values(**values))


def add_attempt(conn: Connection, attempt: DeliveryAttempt) -> None:
    """Record one HTTP attempt."""
    conn.execute(
        insert(webhook_attempts).values(
            delivery_id=attempt.delivery_id,
            attempt=attempt.attempt,
            started_at=attempt.started_at,
            duration_ms=attempt.duration_ms,
            status_code=attempt.status_code,
            error=attempt.error[:1024],
            succeeded=attempt.succeeded,
        )
    )


def attempts_of(conn: Connection, delivery_id: int) -> list[DeliveryAttempt]:
    """A delivery's attempts, first first."""
    rows = conn.execute(
        select(
            webhook_attempts.c.delivery_id,
            webhook_attempts.c.attempt,
            webhook_attempts.c.started_at,
            webhook_attempts.c.duration_ms,
            webhook_attempts.c.status_code,
            webhook_attempts.c.error,
            webhook_attempts.c.succeeded,
        )
        .where(webhook_attempts.c.delivery_id == delivery_id)
        .order_by(webhook_attempts.c.attempt)
    )
    return [
        DeliveryAttempt(
            int(r[0]), int(r[1]), int(r[2]), int(r[3]), None if r[4] is None else int(r[4]), str(r[5]), bool(r[6])
        )
        for r in rows
    ]


def deliveries_page(
    conn: Connection,
    *,
    policy_id: int | None = None,
    trigger_id: int | None = None,
    status: str | None,
    offset: int,
    limit: int,
) -> Page[Delivery]:
    """A policy's (or trigger's) deliveries, newest first, optionally of one status."""
    condition = (
        (webhook_deliveries.c.policy_id == policy_id)
        if policy_id is not None
        else (webhook_deliveries.c.trigger_id == trigger_id)
    )
    if status:
        condition = and_(condition, webhook_deliveries.c.status == status)
    rows = conn.execute(
        select(*_DELIVERY).where(condition).order_by(webhook_deliveries.c.id.desc()).offset(offset).limit(limit)
    )
    total = conn.execute(select(func.count()).select_from(webhook_deliveries).where(condition)).scalar_one()
    return Page([_delivery(r) for r in rows], int(total))


def prune_deliveries(conn: Connection, *, before: int, limit: int) -> int:
    """Delete at most ``limit`` finished deliveries (with their attempts) last changed before ``before``."""
    finished = [str(s) for s in RunStatus if s.finished]
    ids = [
        r[0]
        for r in conn.execute(
            select(webhook_deliveries.c.id)
            .where(
                webhook_deliveries.c.created_at < before,
                webhook_deliveries.c.updated_at < before,
                webhook_deliveries.c.status.in_(finished),
            )
            .order_by(webhook_deliveries.c.id)
            .limit(limit)
        )
    ]
    if ids:
        conn.execute(delete(webhook_attempts).where(webhook_attempts.c.delivery_id.in_(ids)))
        conn.execute(delete(webhook_deliveries).where(webhook_deliveries.c.id.in_(ids)))
    return len(ids)
