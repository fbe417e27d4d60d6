"""Signing keys, signature policies, and the executions, tasks and subtasks of policy runs.

Execution counts are computed from the subtasks (one grouped query), never kept as counters, so
they can never disagree with the subtask listing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from moorage.domain.bounded_json import load_document
from moorage.domain.enterprise import (
    Page,
    ScopeRule,
    SigningKey,
    SignPolicy,
    Trigger,
)
from moorage.metadata.database import now_ms
from moorage.metadata.queries.pages import page_rows
from moorage.metadata.queries.policy_json import selector_json, selectors_from_json, trigger_from_json, trigger_json
from moorage.metadata.tables import (
    ee_sign_policies,
    ee_signing_keys,
    namespaces,
)

# Keys ----------------------------------------------------------------------------------------------
_KEY = (
    ee_signing_keys.c.id,
    ee_signing_keys.c.instance_id,
    ee_signing_keys.c.name,
    ee_signing_keys.c.description,
    ee_signing_keys.c.algorithm,
    ee_signing_keys.c.public_key,
    ee_signing_keys.c.creator,
    ee_signing_keys.c.created_at,
)


def _key(r: Sequence[Any]) -> SigningKey:
    return SigningKey(str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]), str(r[6]), int(r[7]))


def create_key(
    conn: Connection,
    *,
    key_id: str,
    instance_id: str,
    name: str,
    description: str,
    algorithm: str,
    public_key_pem: str,
    private_key_encrypted: str,
    creator: str,
) -> SigningKey | None:
    """A new key; None when the instance already has a key of that name."""
    if conn.execute(
        select(ee_signing_keys.c.id).where(ee_signing_keys.c.instance_id == instance_id, ee_signing_keys.c.name == name)
    ).first():
        return None
    conn.execute(
        insert(ee_signing_keys).values(
            id=key_id,
            instance_id=instance_id,
            name=name,
            description=description,
            algorithm=algorithm,
            public_key=public_key_pem,
            private_key_encrypted=private_key_encrypted,
            creator=creator,
            created_at=now_ms(),
        )
    )
    return get_key(conn, instance_id, key_id)


def get_key(conn: Connection, instance_id: str, key_id: str) -> SigningKey | None:
    """A key of an instance by id."""
    row = conn.execute(
        select(*_KEY).where(ee_signing_keys.c.instance_id == instance_id, ee_signing_keys.c.id == key_id)
    ).first()
    return _key(row) if row else None


def private_key(conn: Connection, key_id: str) -> tuple[str, str] | None:
    """(instance id, sealed private key) of a key, for the signing job."""
    row = conn.execute(
        select(ee_signing_keys.c.instance_id, ee_signing_keys.c.private_key_encrypted).where(
            ee_signing_keys.c.id == key_id
        )
    ).first()
    return (str(row[0]), str(row[1])) if row else None


def list_keys(conn: Connection, instance_id: str, *, offset: int, limit: int) -> Page[SigningKey]:
    """An instance's keys, oldest first."""
    rows, total = page_rows(
        conn,
        _KEY,
        source=ee_signing_keys,
        where=[ee_signing_keys.c.instance_id == instance_id],
        order_by=[ee_signing_keys.c.created_at, ee_signing_keys.c.id],
        offset=offset,
        limit=limit,
    )
    return Page([_key(r) for r in rows], total)


def policies_using_key(conn: Connection, key_id: str) -> int:
    """How many policies sign with a key."""
    return int(
        conn.execute(
            select(func.count()).select_from(ee_sign_policies).where(ee_sign_policies.c.signature_key == key_id)
        ).scalar_one()
    )


def delete_key(conn: Connection, instance_id: str, key_id: str) -> bool:
    """Remove a key."""
    return bool(
        conn.execute(
            delete(ee_signing_keys).where(ee_signing_keys.c.instance_id == instance_id, ee_signing_keys.c.id == key_id)
        ).rowcount
    )


# Policies ------------------------------------------------------------------------------------------
def rules_json(rules: Sequence[ScopeRule]) -> str:
    """Scope rules as the API's JSON."""
    return json.dumps(
        [
            {
                "tag_selectors": [selector_json(s) for s in r.tag_selectors],
                "scope_selectors": {"repository": [selector_json(s) for s in r.repository_selectors]},
                "repo_scope_mode": r.repo_scope_mode,
            }
            for r in rules
        ]
    )


def _rules(text: str) -> tuple[ScopeRule, ...]:
    return tuple(
        ScopeRule(
            selectors_from_json(r.get("tag_selectors")),
            selectors_from_json((r.get("scope_selectors") or {}).get("repository")),
            str(r.get("repo_scope_mode") or "regular"),
        )
        for r in load_document(text)
    )


_POLICY = (
    ee_sign_policies.c.id,
    ee_sign_policies.c.instance_id,
    ee_sign_policies.c.namespace_id,
    namespaces.c.name,
    ee_sign_policies.c.name,
    ee_sign_policies.c.description,
    ee_sign_policies.c.enabled,
    ee_sign_policies.c.signature_method,
    ee_sign_policies.c.signature_algorithm,
    ee_sign_policies.c.signature_key,
    ee_sign_policies.c.trigger,
    ee_sign_policies.c.scope_rules,
    ee_sign_policies.c.creator,
    ee_sign_policies.c.created_at,
    ee_sign_policies.c.updated_at,
)
_POLICY_FROM = ee_sign_policies.join(namespaces, namespaces.c.id == ee_sign_policies.c.namespace_id)


def _policy(r: Sequence[Any]) -> SignPolicy:
    return SignPolicy(
        int(r[0]),
        str(r[1]),
        int(r[2]),
        str(r[3]),
        str(r[4]),
        str(r[5]),
        bool(r[6]),
        str(r[7]),
        str(r[8]),
        str(r[9]),
        trigger_from_json(r[10]),
        _rules(r[11]),
        str(r[12]),
        int(r[13]),
        int(r[14]),
    )


def create_policy(
    conn: Connection,
    *,
    instance_id: str,
    namespace_id: int,
    name: str,
    description: str,
    enabled: bool,
    method: str,
    algorithm: str,
    key_id: str,
    trigger: Trigger,
    rules: Sequence[ScopeRule],
    creator: str,
) -> SignPolicy | None:
    """A new policy; None when the namespace already has one of that name."""
    if conn.execute(
        select(ee_sign_policies.c.id).where(
            ee_sign_policies.c.namespace_id == namespace_id, ee_sign_policies.c.name == name
        )
    ).first():
        return None
    now = now_ms()
    policy_id = conn.execute(
        insert(ee_sign_policies)
        .values(
            instance_id=instance_id,
            namespace_id=namespace_id,
            name=name,
            description=description,
            enabled=enabled,
            signature_method=method,
            signature_algorithm=algorithm,
            signature_key=key_id,
            trigger=trigger_json(trigger),
            scope_rules=rules_json(rules),
            creator=creator,
            last_scheduled_at=now,
            created_at=now,
            updated_at=now,
        )
        .returning(ee_sign_policies.c.id)
    ).scalar_one()
    return get_policy(conn, namespace_id, int(policy_id))


def get_policy(conn: Connection, namespace_id: int, policy_id: int) -> SignPolicy | None:
    """A policy of a namespace."""
    row = conn.execute(
        select(*_POLICY)
        .select_from(_POLICY_FROM)
        .where(ee_sign_policies.c.namespace_id == namespace_id, ee_sign_policies.c.id == policy_id)
    ).first()
    return _policy(row) if row else None


def policy_by_id(conn: Connection, policy_id: int) -> SignPolicy | None:
    """A policy by id alone (jobs)."""
    row = conn.execute(select(*_POLICY).select_from(_POLICY_FROM).where(ee_sign_policies.c.id == policy_id)).first()
    return _policy(row) if row else None


def list_policies(
    conn: Connection, instance_id: str, *, namespace_ids: set[int] | None, offset: int, limit: int
) -> Page[SignPolicy]:
    """Policies of an instance (of some namespaces), oldest first."""
    where: list[ColumnElement[bool]] = [ee_sign_policies.c.instance_id == instance_id]
    if namespace_ids is not None:
        where.append(
            ee_sign_policies.c.namespace_id.in_(sorted(namespace_ids))
            if namespace_ids
            else ee_sign_policies.c.id.is_(None)
        )
    rows, total = page_rows(
        conn,
        _POLICY,
        source=_POLICY_FROM,
        count_from=ee_sign_policies,
        where=where,
        order_by=[ee_sign_policies.c.id],
        offset=offset,
        limit=limit,
    )
    return Page([_policy(r) for r in rows], total)


def policy_name_taken(conn: Connection, namespace_id: int, name: str, *, other_than: int) -> bool:
    """Whether another policy of the namespace has this name."""
    return (
        conn.execute(
            select(ee_sign_policies.c.id).where(
                ee_sign_policies.c.namespace_id == namespace_id,
                ee_sign_policies.c.name == name,
                ee_sign_policies.c.id != other_than,
            )
        ).first()
        is not None
    )


def update_policy(conn: Connection, policy_id: int, values: dict[str, Any]) -> None:
    """Change some columns of a policy (``trigger`` and ``scope_rules`` given as their JSON)."""
    conn.execute(
        update(ee_sign_policies).where(ee_sign_policies.c.id == policy_id).values(**values, updated_at=now_ms())
    )


def delete_policy(conn: Connection, policy_id: int) -> bool:
    """Remove a policy with its executions."""
    return bool(conn.execute(delete(ee_sign_policies).where(ee_sign_policies.c.id == policy_id)).rowcount)


def policies_triggered(conn: Connection, instance_id: str, namespace_id: int, trigger_type: str) -> list[SignPolicy]:
    """Enabled policies of a namespace with this trigger type (``event_based`` on a push)."""
    rows = conn.execute(
        select(*_POLICY)
        .select_from(_POLICY_FROM)
        .where(
            ee_sign_policies.c.instance_id == instance_id,
            ee_sign_policies.c.namespace_id == namespace_id,
            ee_sign_policies.c.enabled.is_(True),
            ee_sign_policies.c.trigger.contains(f'"type": "{trigger_type}"'),
        )
    )
    return [p for p in (_policy(r) for r in rows) if p.trigger.type == trigger_type]


def scheduled_policies(conn: Connection) -> list[tuple[SignPolicy, int]]:
    """Every enabled scheduled policy with the time it was last considered by the scheduler."""
    rows = conn.execute(
        select(*_POLICY, ee_sign_policies.c.last_scheduled_at)
        .select_from(_POLICY_FROM)
        .where(ee_sign_policies.c.enabled.is_(True), ee_sign_policies.c.trigger.contains('"type": "scheduled"'))
    )
    return [(p, int(r[15])) for r in rows if (p := _policy(r)).trigger.type == "scheduled"]
