"""Immutable tag rules of Enterprise Edition namespaces, and the tags a removal would take away
(what the immutability guard checks before a tag, a manifest or a repository goes)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from moorage.domain.bounded_json import load_document
from moorage.domain.enterprise import Page, Selector
from moorage.domain.immutable_rules import ImmutableRule
from moorage.metadata.database import now_ms
from moorage.metadata.queries.policy_json import selector_json, selectors_from_json
from moorage.metadata.tables import ee_immutable_rules, manifest_references, manifests, namespaces, tags

_RULE = (
    ee_immutable_rules.c.id,
    ee_immutable_rules.c.instance_id,
    ee_immutable_rules.c.namespace_id,
    namespaces.c.name,
    ee_immutable_rules.c.priority,
    ee_immutable_rules.c.disabled,
    ee_immutable_rules.c.action,
    ee_immutable_rules.c.template,
    ee_immutable_rules.c.tag_selectors,
    ee_immutable_rules.c.scope_selectors,
    ee_immutable_rules.c.created_at,
    ee_immutable_rules.c.updated_at,
)
_RULE_FROM = ee_immutable_rules.join(namespaces, namespaces.c.id == ee_immutable_rules.c.namespace_id)


def tag_selectors_json(selectors: Sequence[Selector]) -> str:
    """Tag selectors as stored (the API's list)."""
    return json.dumps([selector_json(s) for s in selectors])


def scope_selectors_json(selectors: Sequence[Selector]) -> str:
    """Repository selectors as stored (the API's ``{"repository": [...]}``)."""
    return json.dumps({"repository": [selector_json(s) for s in selectors]})


def _rule(r: Sequence[Any]) -> ImmutableRule:
    scope = load_document(r[9])
    return ImmutableRule(
        int(r[0]),
        str(r[1]),
        int(r[2]),
        str(r[3]),
        int(r[4]),
        bool(r[5]),
        str(r[6]),
        str(r[7]),
        selectors_from_json(load_document(r[8])),
        selectors_from_json(scope.get("repository") if isinstance(scope, dict) else None),
        int(r[10]),
        int(r[11]),
    )


def create(
    conn: Connection,
    *,
    instance_id: str,
    namespace_id: int,
    priority: int,
    disabled: bool,
    action: str,
    template: str,
    tag_selectors: Sequence[Selector],
    repository_selectors: Sequence[Selector],
) -> ImmutableRule:
    """A new rule of a namespace."""
    now = now_ms()
    rule_id = conn.execute(
        insert(ee_immutable_rules)
        .values(
            instance_id=instance_id,
            namespace_id=namespace_id,
            priority=priority,
            disabled=disabled,
            action=action,
            template=template,
            tag_selectors=tag_selectors_json(tag_selectors),
            scope_selectors=scope_selectors_json(repository_selectors),
            created_at=now,
            updated_at=now,
        )
        .returning(ee_immutable_rules.c.id)
    ).scalar_one()
    found = get(conn, namespace_id, int(rule_id))
    assert found is not None  # inserted in this transaction
    return found


def get(conn: Connection, namespace_id: int, rule_id: int) -> ImmutableRule | None:
    """A rule of a namespace."""
    row = conn.execute(
        select(*_RULE)
        .select_from(_RULE_FROM)
        .where(ee_immutable_rules.c.namespace_id == namespace_id, ee_immutable_rules.c.id == rule_id)
    ).first()
    return _rule(row) if row else None


def of_namespace(conn: Connection, namespace_id: int, *, enabled_only: bool) -> list[ImmutableRule]:
    """The rules of a namespace, oldest first (only the enabled ones when ``enabled_only``)."""
    where: list[ColumnElement[bool]] = [ee_immutable_rules.c.namespace_id == namespace_id]
    if enabled_only:
        where.append(ee_immutable_rules.c.disabled.is_(False))
    rows = conn.execute(select(*_RULE).select_from(_RULE_FROM).where(*where).order_by(ee_immutable_rules.c.id))
    return [_rule(r) for r in rows]


def list_rules(
    conn: Connection, instance_id: str, *, namespace_ids: set[int] | None, offset: int, limit: int
) -> Page[ImmutableRule]:
    """Rules of an instance (of some namespaces: None for all), oldest first."""
    where: list[ColumnElement[bool]] = [ee_immutable_rules.c.instance_id == instance_id]
    if namespace_ids is not None:
        where.append(
            ee_immutable_rules.c.namespace_id.in_(sorted(namespace_ids))
            if namespace_ids
            else ee_immutable_rules.c.id.is_(None)
        )
    total = int(conn.execute(select(func.count()).select_from(ee_immutable_rules).where(*where)).scalar_one())
    rows = conn.execute(
        select(*_RULE)
        .select_from(_RULE_FROM)
        .where(*where)
        .order_by(ee_immutable_rules.c.id)
        .offset(offset)
        .limit(limit)
    )
    return Page([_rule(r) for r in rows], total)


def update_rule(
    conn: Connection,
    rule_id: int,
    *,
    priority: int,
    disabled: bool,
    action: str,
    template: str,
    tag_selectors: Sequence[Selector],
    repository_selectors: Sequence[Selector],
) -> None:
    """Replace a rule's fields."""
    conn.execute(
        update(ee_immutable_rules)
        .where(ee_immutable_rules.c.id == rule_id)
        .values(
            priority=priority,
            disabled=disabled,
            action=action,
            template=template,
            tag_selectors=tag_selectors_json(tag_selectors),
            scope_selectors=scope_selectors_json(repository_selectors),
            updated_at=now_ms(),
        )
    )


def delete_rule(conn: Connection, rule_id: int) -> None:
    """Delete a rule."""
    conn.execute(delete(ee_immutable_rules).where(ee_immutable_rules.c.id == rule_id))


# What a removal would take away -------------------------------------------------------------------
def tag_target(conn: Connection, repository_id: int, name: str, *, lock: bool) -> int | None:
    """The manifest id a tag points at (None: no such tag); ``lock`` takes the tag's row lock on
    PostgreSQL (``FOR UPDATE``), so a concurrent push of the same tag waits for this transaction."""
    query = select(tags.c.manifest_id).where(tags.c.repository_id == repository_id, tags.c.name == name)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    return int(row[0]) if row else None


def tags_holding(conn: Connection, repository_id: int, digest: str) -> list[str]:
    """Tags of the repository whose image needs the manifest ``digest``: the tags pointing at it, and
    those pointing at an index of the repository that lists it (one level, as images are built)."""
    parents = select(manifest_references.c.manifest_id).where(
        manifest_references.c.kind == "manifest", manifest_references.c.digest == digest
    )
    rows = conn.execute(
        select(tags.c.name)
        .select_from(tags.join(manifests, manifests.c.id == tags.c.manifest_id))
        .where(tags.c.repository_id == repository_id, or_(manifests.c.digest == digest, manifests.c.id.in_(parents)))
        .order_by(tags.c.name)
    )
    return [str(r[0]) for r in rows]


def tag_names(conn: Connection, repository_id: int) -> list[str]:
    """Every tag of a repository."""
    return [str(r[0]) for r in conn.execute(select(tags.c.name).where(tags.c.repository_id == repository_id))]
