"""Resource tags of Enterprise Edition instances and namespaces, and the tag queries."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Table, and_, delete, exists, func, select
from sqlalchemy.engine import Connection

from moorage.domain.enterprise import Page
from moorage.domain.resource_tags import ResourceTag, TagFilter, TaggedResource
from moorage.metadata.tables import ee_instance_tags, ee_instances, ee_namespace_tags, namespaces
from moorage.metadata.upsert import upsert


def instance_tags(conn: Connection, instance_id: str) -> list[ResourceTag]:
    """An instance's tags, by key."""
    rows = conn.execute(
        select(ee_instance_tags.c.key, ee_instance_tags.c.value)
        .where(ee_instance_tags.c.instance_id == instance_id)
        .order_by(ee_instance_tags.c.key)
    )
    return [ResourceTag(str(r[0]), str(r[1])) for r in rows]


def namespace_tags(conn: Connection, namespace_id: int) -> list[ResourceTag]:
    """A namespace's tags, by key."""
    rows = conn.execute(
        select(ee_namespace_tags.c.key, ee_namespace_tags.c.value)
        .where(ee_namespace_tags.c.namespace_id == namespace_id)
        .order_by(ee_namespace_tags.c.key)
    )
    return [ResourceTag(str(r[0]), str(r[1])) for r in rows]


def put_instance_tags(conn: Connection, instance_id: str, tags: Sequence[ResourceTag]) -> None:
    """Add tags to an instance, replacing the values of keys it has."""
    for tag in tags:
        upsert(
            conn,
            ee_instance_tags,
            {"instance_id": instance_id, "key": tag.key, "value": tag.value},
            conflict=("instance_id", "key"),
            update=("value",),
        )


def put_namespace_tags(conn: Connection, instance_id: str, namespace_id: int, tags: Sequence[ResourceTag]) -> None:
    """Add tags to a namespace, replacing the values of keys it has."""
    for tag in tags:
        upsert(
            conn,
            ee_namespace_tags,
            {"namespace_id": namespace_id, "instance_id": instance_id, "key": tag.key, "value": tag.value},
            conflict=("namespace_id", "key"),
            update=("value",),
        )


def delete_instance_tags(conn: Connection, instance_id: str, keys: Sequence[str]) -> None:
    """Remove tags from an instance by key."""
    conn.execute(
        delete(ee_instance_tags).where(ee_instance_tags.c.instance_id == instance_id, ee_instance_tags.c.key.in_(keys))
    )


def delete_namespace_tags(conn: Connection, namespace_id: int, keys: Sequence[str]) -> None:
    """Remove tags from a namespace by key."""
    conn.execute(
        delete(ee_namespace_tags).where(
            ee_namespace_tags.c.namespace_id == namespace_id, ee_namespace_tags.c.key.in_(keys)
        )
    )


def _summary(rows: Sequence[Sequence[object]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key, value in rows:
        values = found.setdefault(str(key), [])
        if str(value) not in values:
            values.append(str(value))
    return found


def domain_tag_summary(conn: Connection, domain_id: str) -> dict[str, list[str]]:
    """Key -> values of the tags on every instance of a domain."""
    rows = conn.execute(
        select(ee_instance_tags.c.key, ee_instance_tags.c.value)
        .join(ee_instances, ee_instances.c.instance_id == ee_instance_tags.c.instance_id)
        .where(ee_instances.c.domain_id == domain_id)
        .order_by(ee_instance_tags.c.key, ee_instance_tags.c.value)
    ).all()
    return _summary(rows)


def namespace_tag_summary(conn: Connection, instance_id: str, namespace_ids: set[int] | None) -> dict[str, list[str]]:
    """Key -> values of the tags on the namespaces of an instance (of these namespaces when given)."""
    query = select(ee_namespace_tags.c.key, ee_namespace_tags.c.value).where(
        ee_namespace_tags.c.instance_id == instance_id
    )
    if namespace_ids is not None:
        query = query.where(ee_namespace_tags.c.namespace_id.in_(sorted(namespace_ids)))
    return _summary(conn.execute(query.order_by(ee_namespace_tags.c.key, ee_namespace_tags.c.value)).all())


def _matching(table: Table, owner: ColumnElement[bool], filters: Sequence[TagFilter]) -> list[ColumnElement[bool]]:
    """One EXISTS per filter: keys are and-ed, a key's values or-ed (no values: any value)."""
    conditions: list[ColumnElement[bool]] = []
    for tag_filter in filters:
        match = and_(table.c.key == tag_filter.key, owner)
        if tag_filter.values:
            match = and_(match, table.c.value.in_(tag_filter.values))
        conditions.append(exists(select(table.c.key).where(match)))
    return conditions


def find_instances(
    conn: Connection, domain_id: str, filters: Sequence[TagFilter], *, offset: int, limit: int
) -> Page[TaggedResource]:
    """The domain's instances carrying every filter's tag, oldest first, with their tags."""
    where = [
        ee_instances.c.domain_id == domain_id,
        *_matching(ee_instance_tags, ee_instance_tags.c.instance_id == ee_instances.c.instance_id, filters),
    ]
    total = int(conn.execute(select(func.count()).select_from(ee_instances).where(*where)).scalar_one())
    rows = conn.execute(
        select(ee_instances.c.instance_id, ee_instances.c.name)
        .where(*where)
        .order_by(ee_instances.c.created_at, ee_instances.c.instance_id)
        .offset(offset)
        .limit(limit)
    ).all()
    return Page([TaggedResource(str(r[0]), str(r[1]), tuple(instance_tags(conn, str(r[0])))) for r in rows], total)


def find_namespaces(
    conn: Connection,
    instance_id: str,
    namespace_ids: set[int] | None,
    filters: Sequence[TagFilter],
    *,
    offset: int,
    limit: int,
) -> Page[TaggedResource]:
    """The instance's namespaces (among ``namespace_ids`` when given) carrying every filter's tag."""
    where = [
        namespaces.c.instance_id == instance_id,
        *_matching(ee_namespace_tags, ee_namespace_tags.c.namespace_id == namespaces.c.id, filters),
    ]
    if namespace_ids is not None:
        where.append(namespaces.c.id.in_(sorted(namespace_ids)))
    total = int(conn.execute(select(func.count()).select_from(namespaces).where(*where)).scalar_one())
    rows = conn.execute(
        select(namespaces.c.id, namespaces.c.name).where(*where).order_by(namespaces.c.id).offset(offset).limit(limit)
    ).all()
    return Page([TaggedResource(str(r[0]), str(r[1]), tuple(namespace_tags(conn, int(r[0])))) for r in rows], total)


def namespace_id_of(conn: Connection, instance_id: str, reference: str) -> int | None:
    """The id of an instance's namespace named by its id (digits) or its name."""
    column = namespaces.c.id if reference.isdigit() and len(reference) < 19 else namespaces.c.name
    value: object = int(reference) if column is namespaces.c.id else reference
    row = conn.execute(select(namespaces.c.id).where(namespaces.c.instance_id == instance_id, column == value)).first()
    return None if row is None else int(row[0])
