"""An account's resource usage: live totals from the registry's counters, daily snapshots of them for
the resource reports, and the (inert) CCE agency flag."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from moorage.domain.management import UsageSnapshot, UsageTotals
from moorage.metadata.database import now_ms
from moorage.metadata.queries.quotas import account_stored
from moorage.metadata.tables import agencies, namespaces, repositories, usage_snapshots
from moorage.metadata.upsert import insert_ignore, upsert


def totals(conn: Connection, instance_id: str, domain_id: str) -> UsageTotals:
    """The account's totals now: the registry's counters, and the distinct blobs per organization
    (the storage quotas' figure, ``queries/quotas.py``)."""
    namespace_count = conn.execute(
        select(func.count())
        .select_from(namespaces)
        .where(namespaces.c.instance_id == instance_id, namespaces.c.domain_id == domain_id)
    ).scalar_one()
    row = conn.execute(
        select(
            func.count(),
            func.coalesce(func.sum(repositories.c.tag_count), 0),
            func.coalesce(func.sum(repositories.c.download_count), 0),
            func.coalesce(func.sum(repositories.c.download_bytes), 0),
        )
        .select_from(repositories.join(namespaces, namespaces.c.id == repositories.c.namespace_id))
        .where(repositories.c.instance_id == instance_id, namespaces.c.domain_id == domain_id)
    ).one()
    storage = account_stored(conn, instance_id, domain_id)
    return UsageTotals(int(namespace_count), int(row[0]), int(row[1]), storage, int(row[2]), int(row[3]))


def record(conn: Connection, instance_id: str, domain_id: str, day: str, found: UsageTotals) -> None:
    """Remember ``found`` as the account's totals of ``day`` (the latest reading of the day wins)."""
    upsert(
        conn,
        usage_snapshots,
        {
            "domain_id": domain_id,
            "instance_id": instance_id,
            "day": day,
            "namespaces": found.namespaces,
            "repositories": found.repositories,
            "images": found.images,
            "storage": found.storage,
            "downloads": found.downloads,
            "download_bytes": found.download_bytes,
            "updated_at": now_ms(),
        },
        conflict=["domain_id", "instance_id", "day"],
        update=["namespaces", "repositories", "images", "storage", "downloads", "download_bytes", "updated_at"],
    )


def since(conn: Connection, instance_id: str, domain_id: str, first_day: str) -> list[UsageSnapshot]:
    """Snapshots from ``first_day`` on, oldest first, plus the last one before it (to carry forward)."""
    c = usage_snapshots.c
    columns = (c.day, c.namespaces, c.repositories, c.images, c.storage, c.downloads, c.download_bytes)
    base = select(*columns).where(c.instance_id == instance_id, c.domain_id == domain_id)
    before = conn.execute(base.where(c.day < first_day).order_by(c.day.desc()).limit(1)).all()
    rows = [*before, *conn.execute(base.where(c.day >= first_day).order_by(c.day))]
    return [UsageSnapshot(str(r[0]), UsageTotals(*(int(v) for v in r[1:]))) for r in rows]


def has_agency(conn: Connection, domain_id: str) -> bool:
    """Whether the account created the CCE agency."""
    return conn.execute(select(agencies.c.domain_id).where(agencies.c.domain_id == domain_id)).first() is not None


def create_agency(conn: Connection, domain_id: str) -> None:
    """Remember that the account created the CCE agency (idempotent)."""
    insert_ignore(conn, agencies, {"domain_id": domain_id, "created_at": now_ms()}, conflict=["domain_id"])
