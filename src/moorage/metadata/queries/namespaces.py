"""Namespaces (organizations): lookup, creation, listing, deletion."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection

from moorage.domain.registry import NamespaceRecord
from moorage.metadata.database import now_ms
from moorage.metadata.tables import namespaces, repositories
from moorage.metadata.upsert import bytewise, insert_ignore

_COLUMNS = (
    namespaces.c.id,
    namespaces.c.instance_id,
    namespaces.c.name,
    namespaces.c.domain_id,
    namespaces.c.creator_name,
    namespaces.c.is_public,
    namespaces.c.created_at,
)


def _record(r: Sequence[Any]) -> NamespaceRecord:
    return NamespaceRecord(int(r[0]), str(r[1]), str(r[2]), r[3], str(r[4]), bool(r[5]), int(r[6]))


def get(conn: Connection, instance_id: str, name: str) -> NamespaceRecord | None:
    """A namespace by name."""
    row = conn.execute(
        select(*_COLUMNS).where(namespaces.c.instance_id == instance_id, namespaces.c.name == name)
    ).first()
    return _record(row) if row else None


def create(
    conn: Connection, *, instance_id: str, name: str, domain_id: str, creator_name: str, is_public: bool = False
) -> NamespaceRecord | None:
    """A new namespace, or None when the name is taken."""
    if not insert_ignore(
        conn,
        namespaces,
        {
            "instance_id": instance_id,
            "name": name,
            "domain_id": domain_id,
            "creator_name": creator_name,
            "is_public": is_public,
            "created_at": now_ms(),
        },
        conflict=["instance_id", "name"],
    ):
        return None
    return get(conn, instance_id, name)


def list_for_domain(
    conn: Connection, instance_id: str, domain_id: str, *, name: str | None = None
) -> list[NamespaceRecord]:
    """Namespaces of a domain in an instance, by name."""
    query = select(*_COLUMNS).where(namespaces.c.instance_id == instance_id, namespaces.c.domain_id == domain_id)
    if name:
        query = query.where(namespaces.c.name == name)
    return [_record(r) for r in conn.execute(query.order_by(bytewise(conn, namespaces.c.name)))]


def count_for_domain(conn: Connection, instance_id: str, domain_id: str) -> int:
    """How many namespaces a domain has in an instance."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(namespaces)
            .where(namespaces.c.instance_id == instance_id, namespaces.c.domain_id == domain_id)
        ).scalar_one()
    )


def repository_count(conn: Connection, namespace_id: int) -> int:
    """Repositories in a namespace."""
    return int(
        conn.execute(
            select(func.count()).select_from(repositories).where(repositories.c.namespace_id == namespace_id)
        ).scalar_one()
    )


def remove(conn: Connection, namespace_id: int) -> bool:
    """Delete a namespace (its grants go with it)."""
    return bool(conn.execute(delete(namespaces).where(namespaces.c.id == namespace_id)).rowcount)
