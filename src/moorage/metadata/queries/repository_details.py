"""Repositories as the management API shows them: with their attributes and counters, filtered,
ordered and paged (offset pages for the v2 listings, keyset pages on the id for v3)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, desc, false, func, or_, select, true, update
from sqlalchemy.engine import Connection

from moorage.domain.management import RepositoryDetail, RepositoryFilter
from moorage.metadata.database import now_ms
from moorage.metadata.queries import namespace_usage
from moorage.metadata.tables import domains, namespaces, repositories, tags
from moorage.metadata.upsert import bytewise, insert_ignore

ORDER_COLUMNS = ("name", "updated_at", "tag_count", "created_at")

_COLUMNS = (
    repositories.c.id,
    repositories.c.namespace_id,
    namespaces.c.name,
    repositories.c.name,
    namespaces.c.domain_id,
    func.coalesce(domains.c.name, ""),
    repositories.c.is_public,
    repositories.c.category,
    repositories.c.description,
    repositories.c.size,
    repositories.c.tag_count,
    repositories.c.download_count,
    repositories.c.download_bytes,
    repositories.c.creator_id,
    repositories.c.creator_name,
    repositories.c.created_at,
    repositories.c.updated_at,
)
_FROM = repositories.join(namespaces, repositories.c.namespace_id == namespaces.c.id).outerjoin(
    domains, namespaces.c.domain_id == domains.c.id
)


def _detail(row: Sequence[Any]) -> RepositoryDetail:
    return RepositoryDetail(
        int(row[0]),
        int(row[1]),
        str(row[2]),
        str(row[3]),
        row[4],
        str(row[5]),
        bool(row[6]),
        str(row[7]),
        str(row[8]),
        int(row[9]),
        int(row[10]),
        int(row[11]),
        int(row[12]),
        str(row[13]),
        str(row[14]),
        int(row[15]),
        int(row[16]),
    )


def get(conn: Connection, instance_id: str, full_name: str) -> RepositoryDetail | None:
    """A repository by ``namespace/name``."""
    row = conn.execute(
        select(*_COLUMNS)
        .select_from(_FROM)
        .where(repositories.c.instance_id == instance_id, repositories.c.full_name == full_name)
    ).first()
    return _detail(row) if row else None


def by_id(conn: Connection, repository_id: int) -> RepositoryDetail | None:
    """A repository by id."""
    row = conn.execute(select(*_COLUMNS).select_from(_FROM).where(repositories.c.id == repository_id)).first()
    return _detail(row) if row else None


def create(
    conn: Connection,
    *,
    instance_id: str,
    namespace_id: int,
    namespace: str,
    name: str,
    is_public: bool,
    category: str,
    description: str,
    creator_id: str,
    creator_name: str,
) -> bool:
    """A new repository in an existing namespace; False when the name is taken."""
    now = now_ms()
    return (
        insert_ignore(
            conn,
            repositories,
            {
                "instance_id": instance_id,
                "namespace_id": namespace_id,
                "name": name,
                "full_name": f"{namespace}/{name}",
                "is_public": is_public,
                "category": category,
                "description": description,
                "creator_id": creator_id,
                "creator_name": creator_name,
                "created_at": now,
                "updated_at": now,
            },
            conflict=["instance_id", "full_name"],
        )
        > 0
    )


def update_attributes(
    conn: Connection, repository_id: int, *, is_public: bool | None, category: str | None, description: str | None
) -> None:
    """Change the attributes that are given."""
    values: dict[str, Any] = {"updated_at": now_ms()}
    if is_public is not None:
        values["is_public"] = is_public
    if category is not None:
        values["category"] = category
    if description is not None:
        values["description"] = description
    conn.execute(update(repositories).where(repositories.c.id == repository_id).values(**values))


def remove(conn: Connection, repository_id: int) -> bool:
    """Delete a repository: its tags, manifests, blob links, grants and shares go with it (foreign keys
    cascade); blob bytes stay for garbage collection. Its organization's usage loses its blobs first."""
    namespace_usage.repository_removed(conn, repository_id)
    return bool(conn.execute(delete(repositories).where(repositories.c.id == repository_id)).rowcount)


def _conditions(instance_id: str, flt: RepositoryFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [repositories.c.instance_id == instance_id]
    if not flt.any_domain:
        conditions.append(namespaces.c.domain_id == flt.domain_id)
    if flt.namespace_ids is not None or flt.repository_ids is not None:
        granted: list[ColumnElement[bool]] = []
        if flt.namespace_ids:
            granted.append(repositories.c.namespace_id.in_(sorted(flt.namespace_ids)))
        if flt.repository_ids:
            granted.append(repositories.c.id.in_(sorted(flt.repository_ids)))
        conditions.append(or_(*granted) if granted else false())
    if flt.namespace_contains:
        conditions.append(namespaces.c.name.icontains(flt.namespace_contains, autoescape=True))
    if flt.namespace_is is not None:
        conditions.append(namespaces.c.name == flt.namespace_is)
    if flt.name_contains:
        conditions.append(repositories.c.name.icontains(flt.name_contains, autoescape=True))
    if flt.category:
        conditions.append(repositories.c.category == flt.category)
    if flt.is_public is not None:
        conditions.append(repositories.c.is_public.is_(flt.is_public))
    if flt.only_ids is not None:
        conditions.append(repositories.c.id.in_(sorted(flt.only_ids)) if flt.only_ids else false())
    return conditions


def _filtered(instance_id: str, flt: RepositoryFilter, *columns: Any) -> Select[Any]:
    return select(*columns).select_from(_FROM).where(and_(true(), *_conditions(instance_id, flt)))


def count(conn: Connection, instance_id: str, flt: RepositoryFilter) -> int:
    """How many repositories the filter matches."""
    return int(conn.execute(_filtered(instance_id, flt, func.count())).scalar_one())


def page(
    conn: Connection, instance_id: str, flt: RepositoryFilter, *, order: str, descending: bool, offset: int, limit: int
) -> list[RepositoryDetail]:
    """One offset page, ordered by ``order`` (one of ``ORDER_COLUMNS``) and then by id."""
    column = {
        "name": bytewise(conn, repositories.c.full_name),
        "updated_at": repositories.c.updated_at,
        "tag_count": repositories.c.tag_count,
        "created_at": repositories.c.created_at,
    }[order]
    keys = (desc(column), desc(repositories.c.id)) if descending else (column, repositories.c.id)
    rows = conn.execute(_filtered(instance_id, flt, *_COLUMNS).order_by(*keys).offset(offset).limit(limit))
    return [_detail(r) for r in rows]


def after(
    conn: Connection, instance_id: str, flt: RepositoryFilter, *, marker: int, limit: int
) -> list[RepositoryDetail]:
    """One keyset page: repositories with an id above ``marker``, by id."""
    query = _filtered(instance_id, flt, *_COLUMNS).where(repositories.c.id > marker)
    return [_detail(r) for r in conn.execute(query.order_by(repositories.c.id).limit(limit))]


def tag_names(conn: Connection, repository_ids: Sequence[int]) -> dict[int, list[str]]:
    """Repository id -> its tag names in lexical order."""
    found: dict[int, list[str]] = {i: [] for i in repository_ids}
    if not repository_ids:
        return found
    rows = conn.execute(
        select(tags.c.repository_id, tags.c.name)
        .where(tags.c.repository_id.in_(list(found)))
        .order_by(tags.c.repository_id, bytewise(conn, tags.c.name))
    )
    for repository_id, name in rows:
        found[int(repository_id)].append(str(name))
    return found
