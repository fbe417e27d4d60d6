"""Triggers of shared-edition repositories (SWR's trigger operations)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from moorage.domain.triggers import Trigger, TriggerMode, TriggerType
from moorage.metadata.database import now_ms
from moorage.metadata.tables import triggers, webhook_attempts, webhook_deliveries
from moorage.metadata.upsert import insert_ignore

_COLUMNS = (
    triggers.c.id,
    triggers.c.repository_id,
    triggers.c.name,
    triggers.c.mode,
    triggers.c.trigger_type,
    triggers.c.condition,
    triggers.c.enabled,
    triggers.c.action,
    triggers.c.app_type,
    triggers.c.application,
    triggers.c.cluster_id,
    triggers.c.cluster_name,
    triggers.c.cluster_ns,
    triggers.c.container,
    triggers.c.creator_name,
    triggers.c.address,
    triggers.c.auth_header,
    triggers.c.skip_cert_verify,
    triggers.c.created_at,
    triggers.c.updated_at,
)


def _trigger(r: Sequence[Any]) -> Trigger:
    return Trigger(
        id=int(r[0]),
        repository_id=int(r[1]),
        name=str(r[2]),
        mode=TriggerMode(r[3]),
        trigger_type=TriggerType(r[4]),
        condition=str(r[5]),
        enabled=bool(r[6]),
        action=str(r[7]),
        app_type=str(r[8]),
        application=str(r[9]),
        cluster_id=str(r[10]),
        cluster_name=str(r[11]),
        cluster_ns=str(r[12]),
        container=str(r[13]),
        creator_name=str(r[14]),
        address=str(r[15]),
        has_auth_header=bool(r[16]),
        skip_cert_verify=bool(r[17]),
        created_at=int(r[18]),
        updated_at=int(r[19]),
    )


def create(conn: Connection, values: dict[str, Any]) -> bool:
    """Insert a trigger; False when the repository has one of that name."""
    now = now_ms()
    return bool(
        insert_ignore(
            conn, triggers, {**values, "created_at": now, "updated_at": now}, conflict=["repository_id", "name"]
        )
    )


def get(conn: Connection, repository_id: int, name: str) -> Trigger | None:
    """A trigger of a repository by name."""
    row = conn.execute(
        select(*_COLUMNS).where(triggers.c.repository_id == repository_id, triggers.c.name == name)
    ).first()
    return _trigger(row) if row else None


def by_id(conn: Connection, trigger_id: int) -> Trigger | None:
    """A trigger by id (deliveries)."""
    row = conn.execute(select(*_COLUMNS).where(triggers.c.id == trigger_id)).first()
    return _trigger(row) if row else None


def sealed(conn: Connection, trigger_id: int) -> tuple[str, str] | None:
    """(sealed auth header, sealed signing secret) of a trigger."""
    row = conn.execute(select(triggers.c.auth_header, triggers.c.secret).where(triggers.c.id == trigger_id)).first()
    return (str(row[0]), str(row[1])) if row else None


def of_repository(conn: Connection, repository_id: int, *, enabled_only: bool = False) -> list[Trigger]:
    """A repository's triggers, oldest first."""
    query = select(*_COLUMNS).where(triggers.c.repository_id == repository_id)
    if enabled_only:
        query = query.where(triggers.c.enabled.is_(True))
    return [_trigger(r) for r in conn.execute(query.order_by(triggers.c.id))]


def set_enabled(conn: Connection, trigger_id: int, enabled: bool) -> None:
    """Turn a trigger on or off."""
    conn.execute(update(triggers).where(triggers.c.id == trigger_id).values(enabled=enabled, updated_at=now_ms()))


def remove(conn: Connection, trigger_id: int) -> None:
    """Delete a trigger with its history."""
    conn.execute(
        delete(webhook_attempts).where(
            webhook_attempts.c.delivery_id.in_(
                select(webhook_deliveries.c.id).where(webhook_deliveries.c.trigger_id == trigger_id)
            )
        )
    )
    conn.execute(delete(webhook_deliveries).where(webhook_deliveries.c.trigger_id == trigger_id))
    conn.execute(delete(triggers).where(triggers.c.id == trigger_id))
