"""Namespaces and repositories: lookup, creation on first push, the catalog."""

from __future__ import annotations

from sqlalchemy import ColumnElement, bindparam, false, func, or_, select, true
from sqlalchemy.engine import Connection

from moorage.domain.names import RepositoryName
from moorage.domain.registry import Repository, Visibility
from moorage.metadata import direct
from moorage.metadata.database import now_ms
from moorage.metadata.queries.gc import FENCE_KEY, writer_fence
from moorage.metadata.tables import instances, namespaces, repositories
from moorage.metadata.upsert import bytewise, insert_ignore

_COLUMNS = (
    repositories.c.id,
    repositories.c.instance_id,
    repositories.c.namespace_id,
    namespaces.c.name.label("namespace"),
    repositories.c.name,
    repositories.c.is_public,
    namespaces.c.domain_id,
)
_FROM = repositories.join(namespaces, repositories.c.namespace_id == namespaces.c.id)
_BY_NAME = (
    select(*_COLUMNS)
    .select_from(_FROM)
    .where(repositories.c.instance_id == bindparam("by_instance"), repositories.c.full_name == bindparam("by_name"))
)


def get(conn: Connection, instance_id: str, name: RepositoryName) -> Repository | None:
    """The repository called ``name`` in an instance, or None."""
    row = direct.run(conn, _BY_NAME, {"by_instance": instance_id, "by_name": str(name)}).first()
    return Repository(*row) if row else None


_FENCE = select(func.pg_advisory_xact_lock_shared(bindparam("fence")).label("held")).subquery()
_FENCED_BY_NAME = (lambda found: select(*found.c).select_from(_FENCE.outerjoin(found, true())))(_BY_NAME.subquery())
"""PostgreSQL: ``gc.writer_fence`` and ``get`` in one statement (one round trip where there were two).
The row comes from the statement's snapshot, taken before the lock was granted; the collector never
deletes repositories, so that is the row a lookup after the fence would read. Reads of what the
collector deletes (blob links, manifests) must come in later statements, as they do."""


def fenced_get(conn: Connection, instance_id: str, name: RepositoryName) -> Repository | None:
    """Take the collector's writer fence (``gc.writer_fence``: first in the transaction), then
    ``get``."""
    if conn.dialect.name != "postgresql":
        writer_fence(conn)
        return get(conn, instance_id, name)
    row = conn.execute(_FENCED_BY_NAME, {"fence": FENCE_KEY, "by_instance": instance_id, "by_name": str(name)}).one()
    return Repository(*row) if row[0] is not None else None


def by_id(conn: Connection, repository_id: int) -> Repository | None:
    """A repository by id (jobs that were given one), or None once it is gone."""
    row = conn.execute(select(*_COLUMNS).select_from(_FROM).where(repositories.c.id == repository_id)).first()
    return Repository(*row) if row else None


def ensure_instance(conn: Connection, instance_id: str, name: str) -> None:
    """Create the instance row when missing (the default instance exists from the first start)."""
    insert_ignore(conn, instances, {"id": instance_id, "name": name, "created_at": now_ms()}, conflict=["id"])


def ensure(conn: Connection, instance_id: str, name: RepositoryName, *, domain_id: str | None = None) -> Repository:
    """The repository, created (with its namespace) if missing. Safe under concurrent pushes."""
    existing = get(conn, instance_id, name)
    if existing is not None:
        return existing
    now = now_ms()
    insert_ignore(
        conn,
        namespaces,
        {"instance_id": instance_id, "name": name.namespace, "domain_id": domain_id, "created_at": now},
        conflict=["instance_id", "name"],
    )
    namespace_id = (
        conn.execute(
            select(namespaces.c.id).where(namespaces.c.instance_id == instance_id, namespaces.c.name == name.namespace)
        )
    ).scalar_one()
    insert_ignore(
        conn,
        repositories,
        {
            "instance_id": instance_id,
            "namespace_id": namespace_id,
            "name": name.repository,
            "full_name": str(name),
            "created_at": now,
            "updated_at": now,
        },
        conflict=["instance_id", "full_name"],
    )
    created = get(conn, instance_id, name)
    assert created is not None  # inserted or already there, inside this transaction
    return created


def catalog(
    conn: Connection, instance_id: str, *, limit: int, last: str | None, visible: Visibility | None = None
) -> list[str]:
    """Repository full names in lexical order after ``last`` (keyset pagination), limited to what
    ``visible`` allows (None: everything)."""
    full_name = bytewise(conn, repositories.c.full_name)
    query = select(repositories.c.full_name).where(repositories.c.instance_id == instance_id)
    if visible is not None:
        query = query.where(visibility_filter(visible))
    if last:
        query = query.where(full_name > last)
    rows = conn.execute(query.order_by(full_name).limit(limit))
    return [r[0] for r in rows]


def visibility_filter(visible: Visibility) -> ColumnElement[bool]:
    """The SQL condition "this repository is visible" (joins nothing: uses ids and a subquery)."""
    conditions: list[ColumnElement[bool]] = []
    if visible.all_of_domain:
        conditions.append(
            repositories.c.namespace_id.in_(
                select(namespaces.c.id).where(namespaces.c.domain_id == visible.all_of_domain).scalar_subquery()
            )
        )
    if visible.namespace_ids:
        conditions.append(repositories.c.namespace_id.in_(sorted(visible.namespace_ids)))
    if visible.repository_ids:
        conditions.append(repositories.c.id.in_(sorted(visible.repository_ids)))
    if visible.public:
        conditions.append(repositories.c.is_public.is_(True))
    return or_(*conditions) if conditions else false()


def namespace_ids_of(conn: Connection, repository_ids: list[int]) -> set[int]:
    """The namespaces holding these repositories."""
    rows = conn.execute(select(repositories.c.namespace_id).where(repositories.c.id.in_(repository_ids)))
    return {int(r[0]) for r in rows}
