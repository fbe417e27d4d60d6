"""Enterprise Edition replication: registries and policies (the executions, tasks and subtasks of
their runs are in ``replication_runs.py``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from moorage.domain.bounded_json import load_document
from moorage.domain.enterprise import Page
from moorage.domain.replication import (
    FilterType,
    RegistryKind,
    ReplicationFilter,
    ReplicationPolicy,
    ReplicationRegistry,
)
from moorage.metadata.database import now_ms
from moorage.metadata.queries.pages import ordered, page_rows
from moorage.metadata.queries.policy_json import trigger_from_json, trigger_json
from moorage.metadata.replication_tables import (
    replication_policies,
    replication_registries,
)

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
        trigger_from_json(r[10]),
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
