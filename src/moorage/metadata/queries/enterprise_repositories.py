"""Repositories of Enterprise Edition instances, as the instance APIs list them (with their artifact
counts: ``enterprise_artifacts`` says what an artifact is), and the repository lists the signing and
retention runs plan over."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.engine import Connection

from moorage.domain.enterprise import InstanceRepository, Page
from moorage.metadata.database import now_ms
from moorage.metadata.queries import namespace_usage
from moorage.metadata.queries.enterprise_artifacts import is_artifact
from moorage.metadata.tables import ee_instances, manifests, namespaces, repositories
from moorage.metadata.upsert import bytewise


# Repositories --------------------------------------------------------------------------------------
def _artifact_count() -> Any:
    m = manifests.alias("counted_manifest")
    return (
        select(func.count())
        .select_from(m)
        .where(m.c.repository_id == repositories.c.id, is_artifact(m))
        .correlate(repositories)
        .scalar_subquery()
    )


_REPOSITORY = (
    repositories.c.id,
    repositories.c.name,
    repositories.c.namespace_id,
    namespaces.c.name,
    repositories.c.tag_count,
    repositories.c.download_count,
    repositories.c.description,
    repositories.c.created_at,
    repositories.c.updated_at,
)
_REPOSITORY_FROM = repositories.join(namespaces, namespaces.c.id == repositories.c.namespace_id)


def _repository(r: Sequence[Any]) -> InstanceRepository:
    return InstanceRepository(
        int(r[0]), str(r[1]), int(r[2]), str(r[3]), int(r[4]), int(r[5]), int(r[9]), str(r[6]), int(r[7]), int(r[8])
    )


def _of_namespaces(namespace_ids: set[int] | None) -> list[ColumnElement[bool]]:
    """The condition that keeps repositories of ``namespace_ids`` (None: no condition; empty: none)."""
    if namespace_ids is None:
        return []
    return [repositories.c.namespace_id.in_(sorted(namespace_ids)) if namespace_ids else repositories.c.id.is_(None)]


def list_repositories(
    conn: Connection,
    instance_id: str,
    *,
    namespace_ids: set[int] | None,
    offset: int,
    limit: int,
    order_column: str,
    descending: bool,
) -> Page[InstanceRepository]:
    """Repositories of an instance, of the given namespaces (None: every namespace)."""
    where = [repositories.c.instance_id == instance_id]
    where.extend(_of_namespaces(namespace_ids))
    total = int(conn.execute(select(func.count()).select_from(repositories).where(*where)).scalar_one())
    column = {
        "name": bytewise(conn, repositories.c.full_name),
        "created_at": repositories.c.created_at,
        "updated_at": repositories.c.updated_at,
        "pull_count": repositories.c.download_count,
    }[order_column]
    rows = conn.execute(
        select(*_REPOSITORY, _artifact_count())
        .select_from(_REPOSITORY_FROM)
        .where(*where)
        .order_by(column.desc() if descending else column.asc(), repositories.c.id)
        .offset(offset)
        .limit(limit)
    )
    return Page([_repository(r) for r in rows], total)


def get_repository(conn: Connection, namespace_id: int, name: str) -> InstanceRepository | None:
    """One repository of a namespace."""
    row = conn.execute(
        select(*_REPOSITORY, _artifact_count())
        .select_from(_REPOSITORY_FROM)
        .where(repositories.c.namespace_id == namespace_id, repositories.c.name == name)
    ).first()
    return _repository(row) if row else None


def update_repository(conn: Connection, repository_id: int, *, description: str) -> None:
    """Change a repository's description."""
    conn.execute(
        update(repositories)
        .where(repositories.c.id == repository_id)
        .values(description=description, updated_at=now_ms())
    )


def delete_repository(conn: Connection, repository_id: int) -> bool:
    """Remove a repository with its manifests, tags, blob links and grants (blob bytes stay for GC); its
    namespace's usage loses its blobs first."""
    namespace_usage.repository_removed(conn, repository_id)
    return bool(conn.execute(delete(repositories).where(repositories.c.id == repository_id)).rowcount)


def repositories_of_namespace(conn: Connection, namespace_id: int) -> list[tuple[int, str]]:
    """(id, name) of every repository of a namespace, by name."""
    rows = conn.execute(
        select(repositories.c.id, repositories.c.name)
        .where(repositories.c.namespace_id == namespace_id)
        .order_by(bytewise(conn, repositories.c.name))
    )
    return [(int(r[0]), str(r[1])) for r in rows]


def repositories_across_instances(
    conn: Connection, domain_id: str, *, namespace_ids: set[int] | None, name: str | None, after_id: int, limit: int
) -> list[tuple[InstanceRepository, str, str]]:
    """Repositories of every instance of a domain (of some namespaces; None: all), by id after
    ``after_id``: (repository, instance id, instance name)."""
    where: list[ColumnElement[bool]] = [ee_instances.c.domain_id == domain_id, repositories.c.id > after_id]
    where.extend(_of_namespaces(namespace_ids))
    if name:
        where.append(repositories.c.name.contains(name, autoescape=True))
    rows = conn.execute(
        select(*_REPOSITORY, _artifact_count(), ee_instances.c.instance_id, ee_instances.c.name)
        .select_from(_REPOSITORY_FROM.join(ee_instances, ee_instances.c.instance_id == repositories.c.instance_id))
        .where(*where)
        .order_by(repositories.c.id)
        .limit(limit)
    )
    return [(_repository(r), str(r[10]), str(r[11])) for r in rows]
