"""The shared edition's retentions (one per repository, rules as the API's JSON) and the log of the
tags they deleted."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection

from moorage.domain.bounded_json import load_document
from moorage.domain.enterprise import Page
from moorage.domain.retention import (
    RetentionLog,
    SelectorKind,
    SharedRetention,
    SharedRule,
    SharedTemplate,
    TagSelector,
)
from moorage.metadata.database import now_ms
from moorage.metadata.tables import namespaces, repositories, retention_logs, retentions
from moorage.metadata.upsert import insert_ignore


def rule_json(rule: SharedRule) -> dict[str, Any]:
    """A rule as the API writes it (``params`` values as strings, as SWR's examples have them)."""
    return {
        "template": rule.template.value,
        "params": {rule.template.parameter: str(rule.count)},
        "tag_selectors": [{"kind": s.kind.value, "pattern": s.pattern} for s in rule.tag_selectors],
    }


def rules_json(rules: Sequence[SharedRule]) -> str:
    """Rules as stored."""
    return json.dumps([rule_json(r) for r in rules])


def _rules(text: str) -> tuple[SharedRule, ...]:
    found = []
    for raw in load_document(text):
        template = SharedTemplate(raw["template"])
        found.append(
            SharedRule(
                template,
                int(raw["params"][template.parameter]),
                tuple(TagSelector(SelectorKind(s["kind"]), str(s["pattern"])) for s in raw.get("tag_selectors") or []),
            )
        )
    return tuple(found)


_RETENTION = (
    retentions.c.id,
    retentions.c.repository_id,
    namespaces.c.name,
    repositories.c.name,
    retentions.c.algorithm,
    retentions.c.rules,
    retentions.c.created_at,
    retentions.c.updated_at,
)
_RETENTION_FROM = retentions.join(repositories, repositories.c.id == retentions.c.repository_id).join(
    namespaces, namespaces.c.id == repositories.c.namespace_id
)


def _retention(r: Sequence[Any]) -> SharedRetention:
    return SharedRetention(int(r[0]), int(r[1]), str(r[2]), str(r[3]), str(r[4]), _rules(r[5]), int(r[6]), int(r[7]))


def create(conn: Connection, *, repository_id: int, algorithm: str, rules: Sequence[SharedRule]) -> int | None:
    """A new retention of a repository; None when the repository has one already."""
    now = now_ms()
    if not insert_ignore(
        conn,
        retentions,
        {
            "repository_id": repository_id,
            "algorithm": algorithm,
            "rules": rules_json(rules),
            "last_scheduled_at": now,
            "created_at": now,
            "updated_at": now,
        },
        conflict=["repository_id"],
    ):
        return None
    return int(conn.execute(select(retentions.c.id).where(retentions.c.repository_id == repository_id)).scalar_one())


def of_repository(conn: Connection, repository_id: int) -> list[SharedRetention]:
    """The retentions of a repository (none or one)."""
    rows = conn.execute(
        select(*_RETENTION)
        .select_from(_RETENTION_FROM)
        .where(retentions.c.repository_id == repository_id)
        .order_by(retentions.c.id)
    )
    return [_retention(r) for r in rows]


def get(conn: Connection, retention_id: int) -> SharedRetention | None:
    """A retention by id."""
    row = conn.execute(select(*_RETENTION).select_from(_RETENTION_FROM).where(retentions.c.id == retention_id)).first()
    return _retention(row) if row else None


def update_rules(conn: Connection, retention_id: int, *, algorithm: str, rules: Sequence[SharedRule]) -> None:
    """Replace a retention's rules."""
    conn.execute(
        update(retentions)
        .where(retentions.c.id == retention_id)
        .values(algorithm=algorithm, rules=rules_json(rules), updated_at=now_ms())
    )


def delete_retention(conn: Connection, retention_id: int) -> bool:
    """Remove a retention (its log stays with the repository)."""
    return bool(conn.execute(delete(retentions).where(retentions.c.id == retention_id)).rowcount)


def schedule_marks(conn: Connection) -> list[tuple[int, int]]:
    """(id, when the scheduler last considered it) of every retention."""
    return [
        (int(r[0]), int(r[1]))
        for r in conn.execute(select(retentions.c.id, retentions.c.last_scheduled_at).order_by(retentions.c.id))
    ]


# The log -------------------------------------------------------------------------------------------
def add_log(conn: Connection, *, retention: SharedRetention, tag: str, digest: str, rule_type: str) -> None:
    """Record a tag a retention deleted (in the deleting transaction)."""
    conn.execute(
        insert(retention_logs).values(
            repository_id=retention.repository_id,
            retention_id=retention.id,
            namespace=retention.namespace,
            repository=retention.repository,
            tag=tag,
            digest=digest,
            rule_type=rule_type,
            created_at=now_ms(),
        )
    )


def list_logs(conn: Connection, repository_id: int, *, offset: int, limit: int | None) -> Page[RetentionLog]:
    """The repository's retention log, newest first. The page is read before the count: each statement
    sees the rows committed when it starts (READ COMMITTED, and PostgreSQL's reads run without a
    transaction), so a run logging meanwhile could otherwise show a page longer than its total; the
    other way round, the total counts what was logged after the page was read."""
    where = retention_logs.c.repository_id == repository_id
    query = (
        select(
            retention_logs.c.id,
            retention_logs.c.retention_id,
            retention_logs.c.namespace,
            retention_logs.c.repository,
            retention_logs.c.tag,
            retention_logs.c.rule_type,
            retention_logs.c.created_at,
        )
        .where(where)
        .order_by(retention_logs.c.id.desc())
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    entries = [
        RetentionLog(int(r[0]), int(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]), int(r[6]))
        for r in conn.execute(query)
    ]
    total = int(conn.execute(select(func.count()).select_from(retention_logs).where(where)).scalar_one())
    return Page(entries, total)


def trim_logs(conn: Connection, repository_id: int, *, keep: int) -> int:
    """Delete all but the newest ``keep`` log rows of a repository; how many went."""
    cutoff = conn.execute(
        select(retention_logs.c.id)
        .where(retention_logs.c.repository_id == repository_id)
        .order_by(retention_logs.c.id.desc())
        .offset(keep)
        .limit(1)
    ).scalar()
    if cutoff is None:
        return 0
    return int(
        conn.execute(
            delete(retention_logs).where(retention_logs.c.repository_id == repository_id, retention_logs.c.id <= cutoff)
        ).rowcount
        or 0
    )
