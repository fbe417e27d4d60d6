"""The events outbox: insert (in the caller's transaction), hand pending events to the dispatcher,
list them as audit records, prune them past their retention."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from moorage.domain.bounded_json import load_document
from moorage.domain.enterprise import Page
from moorage.domain.events import Actor, Event, EventContext, NewEvent, Operation, ResourceType, Result
from moorage.metadata import direct
from moorage.metadata.database import now_ms
from moorage.metadata.tables import event_dispatch, events, manifests, namespaces, repositories, tags

_COLUMNS = (
    events.c.id,
    events.c.occurred_at,
    events.c.instance_id,
    events.c.domain_id,
    events.c.operation,
    events.c.resource_type,
    events.c.resource,
    events.c.result,
    events.c.namespace,
    events.c.repository,
    events.c.tag,
    events.c.digest,
    events.c.actor_id,
    events.c.actor_name,
    events.c.actor_domain_id,
    events.c.actor_domain_name,
    events.c.actor_via,
    events.c.client_address,
    events.c.detail,
)


def _event(r: Sequence[Any]) -> Event:
    detail = load_document(r[18]) if r[18] else {}
    return Event(
        id=int(r[0]),
        occurred_at=int(r[1]),
        instance_id=str(r[2]),
        domain_id=str(r[3]),
        operation=Operation(r[4]),
        resource_type=ResourceType(r[5]),
        resource=str(r[6]),
        result=Result(r[7]),
        namespace=str(r[8]),
        repository=str(r[9]),
        tag=str(r[10]),
        digest=str(r[11]),
        actor=Actor(str(r[12]), str(r[13]), str(r[14]), str(r[15]), str(r[16])),
        client_address=str(r[17]),
        detail=detail if isinstance(detail, dict) else {},
    )


def _namespace_owner(conn: Connection, instance_id: str, namespace: str) -> str:
    owner = conn.execute(
        select(namespaces.c.domain_id).where(namespaces.c.instance_id == instance_id, namespaces.c.name == namespace)
    ).scalar()
    return str(owner or "")


def row_of(
    conn: Connection, new: NewEvent, context: EventContext, at: int, owners: dict[tuple[str, str], str] | None = None
) -> dict[str, Any]:
    """The row an event becomes (its account, when not given, looked up from its namespace, or the
    acting user's for a change of no namespace: an IAM user, an HSS setting, an instance's GC;
    ``owners`` remembers the lookups of one batch)."""
    actor = context.actor
    domain_id = new.domain_id
    if domain_id is None and new.namespace:
        key = (new.instance_id, new.namespace)
        cache = owners if owners is not None else {}
        if key not in cache:
            cache[key] = _namespace_owner(conn, new.instance_id, new.namespace)
        domain_id = cache[key]
    elif domain_id is None:
        domain_id = actor.domain_id
    return {
        "occurred_at": at,
        "instance_id": new.instance_id,
        "domain_id": domain_id or "",
        "operation": str(new.operation),
        "resource_type": str(new.resource_type),
        "resource": new.resource[:512],
        "result": str(new.result),
        "namespace": new.namespace[:64],
        "repository": new.repository[:200],
        "tag": new.tag[:128],
        "digest": new.digest[:140],
        "actor_id": actor.user_id[:64],
        "actor_name": actor.user_name[:255],
        "actor_domain_id": actor.domain_id[:64],
        "actor_domain_name": actor.domain_name[:255],
        "actor_via": actor.via[:16],
        "client_address": context.client_address[:64],
        "detail": json.dumps(dict(new.detail), sort_keys=True, default=str) if new.detail else "",
        "dispatched": False,
    }


_INSERT = insert(events)
"""Built once: every change writes its event with this statement (its construction and cache key cost
more than the insert of one row)."""


def insert_rows(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert event rows (one statement for many; a single row without the driver's executemany)."""
    if len(rows) == 1:
        direct.run(conn, _INSERT, rows[0])
    elif rows:
        direct.run_many(conn, _INSERT, rows)


def has_pending(conn: Connection) -> bool:
    """Whether any event waits for the dispatcher (one index probe)."""
    return conn.execute(select(events.c.id).where(events.c.dispatched.is_(False)).limit(1)).first() is not None


def lock_dispatcher(conn: Connection) -> bool:
    """Take the dispatcher's lock row for this transaction: False when another node's dispatcher holds
    it (PostgreSQL; on SQLite the write transaction is already the only one)."""
    query = select(event_dispatch.c.id).where(event_dispatch.c.id == 1)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    if conn.execute(query).first() is None:
        return False
    conn.execute(update(event_dispatch).where(event_dispatch.c.id == 1).values(dispatched_at=now_ms()))
    return True


def pending(conn: Connection, *, limit: int) -> list[Event]:
    """The oldest undispatched events."""
    rows = conn.execute(select(*_COLUMNS).where(events.c.dispatched.is_(False)).order_by(events.c.id).limit(limit))
    return [_event(r) for r in rows]


def mark_dispatched(conn: Connection, ids: Sequence[int]) -> None:
    """Record that every consumer has these events."""
    if ids:
        conn.execute(update(events).where(events.c.id.in_(list(ids))).values(dispatched=True))


def get(conn: Connection, event_id: int) -> Event | None:
    """One event by id."""
    row = conn.execute(select(*_COLUMNS).where(events.c.id == event_id)).first()
    return _event(row) if row else None


def audit_page(
    conn: Connection,
    instance_id: str,
    *,
    operation: str | None,
    offset: int,
    limit: int,
    resource_type: str | None = None,
    actor_name: str | None = None,
    since: int | None = None,
    until: int | None = None,
) -> Page[Event]:
    """An instance's events, newest first, optionally of one operation, resource type and user
    name, from ``since`` and before ``until`` (epoch milliseconds), and how many match."""
    condition = events.c.instance_id == instance_id
    if operation:
        condition = and_(condition, events.c.operation == operation)
    if resource_type:
        condition = and_(condition, events.c.resource_type == resource_type)
    if actor_name:
        condition = and_(condition, events.c.actor_name == actor_name)
    if since is not None:
        condition = and_(condition, events.c.occurred_at >= since)
    if until is not None:
        condition = and_(condition, events.c.occurred_at < until)
    rows = conn.execute(select(*_COLUMNS).where(condition).order_by(events.c.id.desc()).offset(offset).limit(limit))
    total = conn.execute(select(func.count()).select_from(events).where(condition)).scalar_one()
    return Page([_event(r) for r in rows], int(total))


def search(
    conn: Connection,
    *,
    instance_id: str | None,
    operation: str | None,
    resource_type: str | None,
    actor_name: str | None,
    domain_id: str | None,
    since: int | None,
    limit: int,
) -> list[Event]:
    """Events newest first, of whatever the filters given name (None: any), at most ``limit``."""
    conditions = []
    if instance_id is not None:
        conditions.append(events.c.instance_id == instance_id)
    if operation is not None:
        conditions.append(events.c.operation == operation)
    if resource_type is not None:
        conditions.append(events.c.resource_type == resource_type)
    if actor_name is not None:
        conditions.append(events.c.actor_name == actor_name)
    if domain_id is not None:
        conditions.append(events.c.domain_id == domain_id)
    if since is not None:
        conditions.append(events.c.occurred_at >= since)
    rows = conn.execute(select(*_COLUMNS).where(*conditions).order_by(events.c.id.desc()).limit(limit))
    return [_event(r) for r in rows]


def prune(conn: Connection, *, before: int, limit: int) -> int:
    """Delete at most ``limit`` dispatched events that occurred before ``before``; how many went."""
    ids = [
        r[0]
        for r in conn.execute(
            select(events.c.id)
            .where(events.c.occurred_at < before, events.c.dispatched.is_(True))
            .order_by(events.c.id)
            .limit(limit)
        )
    ]
    if ids:
        conn.execute(delete(events).where(events.c.id.in_(ids)))
    return len(ids)


def artifact_holders(conn: Connection, digest: str, *, limit: int = 100) -> list[tuple[str, str, str, str, str]]:
    """(instance id, namespace, repository full name, owning account, one tag or "") of each repository
    holding the manifest ``digest``: where a scan result of the digest is an event."""
    first_tag = (
        select(func.min(tags.c.name)).where(tags.c.manifest_id == manifests.c.id).correlate(manifests).scalar_subquery()
    )
    rows = conn.execute(
        select(
            repositories.c.instance_id, namespaces.c.name, repositories.c.full_name, namespaces.c.domain_id, first_tag
        )
        .select_from(
            manifests.join(repositories, repositories.c.id == manifests.c.repository_id).join(
                namespaces, namespaces.c.id == repositories.c.namespace_id
            )
        )
        .where(manifests.c.digest == digest)
        .order_by(repositories.c.id)
        .limit(limit)
    )
    return [(str(r[0]), str(r[1]), str(r[2]), str(r[3] or ""), str(r[4] or "")) for r in rows]


def repository_facts(conn: Connection, instance_id: str, full_name: str) -> tuple[int, bool, int] | None:
    """(id, public, created at) of a repository by full name; None once it is gone."""
    row = conn.execute(
        select(repositories.c.id, repositories.c.is_public, repositories.c.created_at).where(
            repositories.c.instance_id == instance_id, repositories.c.full_name == full_name
        )
    ).first()
    return (int(row[0]), bool(row[1]), int(row[2])) if row else None
