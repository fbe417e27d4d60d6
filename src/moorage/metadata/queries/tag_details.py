"""Tags with their manifests, as the management API lists and shows them.

Listings are ordered by update time, creation time or name, always with the tag id as the last
key so the order is total: an offset page (v2) walks the ``(repository_id, updated_at, id)`` index
or the ``(repository_id, name)`` unique index, and a keyset page (v3) starts right after the last
row of the previous one, so every tag is seen once however many there are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, desc, func, or_, select
from sqlalchemy.engine import Connection

from moorage.domain.management import ArtifactRecord, TagDetail, TagKey
from moorage.metadata.tables import manifests, repositories, tags
from moorage.metadata.upsert import bytewise

ORDER_COLUMNS = ("updated_at", "created_at", "tag")


def _columns(with_payload: bool) -> tuple[Any, ...]:
    return (
        tags.c.id,
        tags.c.repository_id,
        tags.c.name,
        manifests.c.id,
        manifests.c.digest,
        manifests.c.media_type,
        manifests.c.config_digest,
        manifests.c.payload if with_payload else func.length(manifests.c.payload),
        func.length(manifests.c.payload),
        manifests.c.total_size,
        tags.c.created_at,
        tags.c.updated_at,
    )


def _detail(row: Sequence[Any], with_payload: bool) -> TagDetail:
    payload = bytes(row[7]) if with_payload else b""
    return TagDetail(
        int(row[0]),
        int(row[1]),
        str(row[2]),
        int(row[3]),
        str(row[4]),
        str(row[5]),
        row[6],
        payload,
        int(row[8]),
        int(row[9]),
        int(row[10]),
        int(row[11]),
    )


_FROM = tags.join(manifests, tags.c.manifest_id == manifests.c.id)


def _sort_column(conn: Connection, order: str) -> Any:
    return {"updated_at": tags.c.updated_at, "created_at": tags.c.created_at, "tag": bytewise(conn, tags.c.name)}[order]


def _where(repository_id: int, name_contains: str | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [tags.c.repository_id == repository_id]
    if name_contains:
        conditions.append(tags.c.name.icontains(name_contains, autoescape=True))
    return conditions


def get(conn: Connection, repository_id: int, name: str, *, with_payload: bool = True) -> TagDetail | None:
    """One tag by name."""
    row = conn.execute(
        select(*_columns(with_payload))
        .select_from(_FROM)
        .where(tags.c.repository_id == repository_id, tags.c.name == name)
    ).first()
    return _detail(row, with_payload) if row else None


def count(conn: Connection, repository_id: int, *, name_contains: str | None) -> int:
    """How many tags match: the repository's counter when nothing filters, else a count."""
    if not name_contains:
        found = conn.execute(select(repositories.c.tag_count).where(repositories.c.id == repository_id)).scalar()
        return int(found or 0)
    return int(
        conn.execute(
            select(func.count()).select_from(tags).where(and_(*_where(repository_id, name_contains)))
        ).scalar_one()
    )


def page(
    conn: Connection,
    repository_id: int,
    *,
    order: str,
    descending: bool,
    offset: int,
    limit: int,
    name_contains: str | None,
    with_payload: bool,
) -> list[TagDetail]:
    """One offset page in the given order (``ORDER_COLUMNS``), ties broken by id."""
    column = _sort_column(conn, order)
    keys = (desc(column), desc(tags.c.id)) if descending else (column, tags.c.id)
    rows = conn.execute(
        select(*_columns(with_payload))
        .select_from(_FROM)
        .where(and_(*_where(repository_id, name_contains)))
        .order_by(*keys)
        .offset(offset)
        .limit(limit)
    )
    return [_detail(r, with_payload) for r in rows]


def after(
    conn: Connection,
    repository_id: int,
    *,
    order: str,
    descending: bool,
    start: TagKey | None,
    limit: int,
    name_contains: str | None,
    with_payload: bool,
) -> list[TagDetail]:
    """One keyset page: the tags that come after ``start`` in the given order."""
    column = _sort_column(conn, order)
    conditions = _where(repository_id, name_contains)
    if start is not None:
        if descending:
            conditions.append(or_(column < start.value, and_(column == start.value, tags.c.id < start.id)))
        else:
            conditions.append(or_(column > start.value, and_(column == start.value, tags.c.id > start.id)))
    keys = (desc(column), desc(tags.c.id)) if descending else (column, tags.c.id)
    rows = conn.execute(
        select(*_columns(with_payload)).select_from(_FROM).where(and_(*conditions)).order_by(*keys).limit(limit)
    )
    return [_detail(r, with_payload) for r in rows]


def names_of_digest(
    conn: Connection, repository_id: int, digest: str, *, after_name: str | None, limit: int
) -> list[str]:
    """Tags of the repository that point at the manifest ``digest``, by name, after ``after_name``."""
    name = bytewise(conn, tags.c.name)
    query = (
        select(tags.c.name)
        .select_from(_FROM)
        .where(tags.c.repository_id == repository_id, manifests.c.digest == digest)
    )
    if after_name is not None:
        query = query.where(name > after_name)
    return [str(r[0]) for r in conn.execute(query.order_by(name).limit(limit))]


def _artifacts(conn: Connection, repository_id: int, condition: ColumnElement[bool]) -> list[ArtifactRecord]:
    rows = conn.execute(
        select(
            manifests.c.id,
            manifests.c.digest,
            manifests.c.artifact_type,
            manifests.c.total_size,
            manifests.c.subject_digest,
            manifests.c.created_at,
        )
        .where(manifests.c.repository_id == repository_id, condition)
        .order_by(manifests.c.created_at, manifests.c.id)
    )
    found = [(int(r[0]), str(r[1]), str(r[2]), int(r[3]), r[4], int(r[5])) for r in rows]
    names: dict[int, list[str]] = {r[0]: [] for r in found}
    if names:
        for manifest_id, name in conn.execute(
            select(tags.c.manifest_id, tags.c.name)
            .where(tags.c.manifest_id.in_(list(names)))
            .order_by(bytewise(conn, tags.c.name))
        ):
            names[int(manifest_id)].append(str(name))
    return [ArtifactRecord(r[0], r[1], r[2], r[3], r[4], r[5], tuple(names[r[0]])) for r in found]


def referrers(conn: Connection, repository_id: int, subject_digest: str) -> list[ArtifactRecord]:
    """Manifests whose OCI ``subject`` is ``subject_digest`` (the referrers index), oldest first."""
    return _artifacts(conn, repository_id, manifests.c.subject_digest == subject_digest)


def by_tag_names(conn: Connection, repository_id: int, names: Sequence[str]) -> list[ArtifactRecord]:
    """The manifests these tags point at (cosign's ``sha256-<hex>.sig``-style tags)."""
    if not names:
        return []
    ids = select(tags.c.manifest_id).where(tags.c.repository_id == repository_id, tags.c.name.in_(list(names)))
    return _artifacts(conn, repository_id, manifests.c.id.in_(ids.scalar_subquery()))
