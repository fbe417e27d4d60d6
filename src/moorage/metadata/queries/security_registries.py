"""Connected registries: moorage's own SWR entries (made on demand, one per kind and account) and
external Harbor / JFrog / OCI registries with their encrypted credentials and sync state."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection

from moorage.domain.security import ConnectedRegistry, RegistryStatus, RegistryType
from moorage.domain.security_registries import RegistryFields, RegistryQuery
from moorage.metadata.database import now_ms
from moorage.metadata.tables import security_registries as t
from moorage.metadata.upsert import insert_ignore

BUILTIN_NAMES = {
    RegistryType.SWR_PRIVATE: "SWR private",
    RegistryType.SWR_SHARED: "SWR shared",
    RegistryType.SWR_ENTERPRISE: "SWR enterprise",
}
_COLUMNS = (
    t.c.id,
    t.c.domain_id,
    t.c.name,
    t.c.type,
    t.c.api_version,
    t.c.protocol,
    t.c.address,
    t.c.username,
    t.c.organization_filter,
    t.c.connect_cluster_id,
    t.c.scan_image_channel,
    t.c.status,
    t.c.fail_reason,
    t.c.images_num,
    t.c.latest_sync_time,
    t.c.created_at,
)


def _record(r: Sequence[Any]) -> ConnectedRegistry:
    organizations = tuple(o.strip() for o in str(r[8]).split(",") if o.strip())
    return ConnectedRegistry(
        str(r[0]),
        str(r[1]),
        str(r[2]),
        RegistryType(r[3]),
        str(r[4]),
        str(r[5]),
        str(r[6]),
        str(r[7]),
        organizations,
        str(r[9]),
        str(r[10]),
        RegistryStatus(r[11]),
        str(r[12]),
        int(r[13]),
        int(r[14]),
        int(r[15]),
    )


def builtin_id(domain_id: str, kind: RegistryType) -> str:
    """The id of an account's built-in registry of ``kind`` (deterministic: every node agrees)."""
    return hashlib.sha256(f"{domain_id}:{kind.value}".encode()).hexdigest()[:32]


def ensure_builtin(conn: Connection, domain_id: str, kind: RegistryType) -> ConnectedRegistry:
    """The account's SWR registry of ``kind``, created on first use."""
    registry_id = builtin_id(domain_id, kind)
    now = now_ms()
    insert_ignore(
        conn,
        t,
        {
            "id": registry_id,
            "domain_id": domain_id,
            "name": BUILTIN_NAMES[kind],
            "type": kind.value,
            "protocol": "https",
            "status": RegistryStatus.SUCCESS,
            "created_at": now,
            "updated_at": now,
        },
        conflict=["id"],
    )
    found = get(conn, domain_id, registry_id)
    assert found is not None
    return found


def create(conn: Connection, *, registry_id: str, domain_id: str, fields: RegistryFields) -> None:
    """A new external registry (the name is unique per account)."""
    now = now_ms()
    conn.execute(
        t.insert().values(
            id=registry_id,
            domain_id=domain_id,
            name=fields.name,
            type=fields.type.value,
            api_version=fields.api_version,
            protocol=fields.protocol,
            address=fields.address,
            username=fields.username,
            password_encrypted=fields.password_encrypted,
            organization_filter=fields.organization_filter,
            connect_cluster_id=fields.connect_cluster_id,
            scan_image_channel=fields.scan_image_channel,
            status=RegistryStatus.SUCCESS,
            created_at=now,
            updated_at=now,
        )
    )


def change(conn: Connection, registry_id: str, values: dict[str, Any]) -> None:
    """Update some columns of a registry."""
    conn.execute(update(t).where(t.c.id == registry_id).values(**values, updated_at=now_ms()))


def get(conn: Connection, domain_id: str, registry_id: str) -> ConnectedRegistry | None:
    """A registry of the account."""
    row = conn.execute(select(*_COLUMNS).where(t.c.id == registry_id, t.c.domain_id == domain_id)).first()
    return _record(row) if row else None


def by_id(conn: Connection, registry_id: str) -> ConnectedRegistry | None:
    """A registry, whoever owns it (jobs carry ids only)."""
    row = conn.execute(select(*_COLUMNS).where(t.c.id == registry_id)).first()
    return _record(row) if row else None


def name_taken(conn: Connection, domain_id: str, name: str) -> bool:
    """Whether the account has a registry of that name."""
    return conn.execute(select(t.c.id).where(t.c.domain_id == domain_id, t.c.name == name)).first() is not None


def password_encrypted(conn: Connection, registry_id: str) -> str:
    """The stored (encrypted) password of a registry."""
    return str(conn.execute(select(t.c.password_encrypted).where(t.c.id == registry_id)).scalar() or "")


def page(
    conn: Connection, domain_id: str, query: RegistryQuery, *, offset: int, limit: int
) -> tuple[list[ConnectedRegistry], int]:
    """One page of the account's registries, oldest first, and how many match."""
    conditions = [t.c.domain_id == domain_id]
    if query.name:
        conditions.append(t.c.name.contains(query.name, autoescape=True))
    if query.registry_id:
        conditions.append(t.c.id == query.registry_id)
    if query.types:
        conditions.append(t.c.type.in_(query.types))
    if query.address:
        conditions.append(t.c.address.contains(query.address, autoescape=True))
    if query.status:
        conditions.append(t.c.status == query.status)
    total = int(conn.execute(select(func.count()).select_from(t).where(*conditions)).scalar_one())
    rows = conn.execute(
        select(*_COLUMNS).where(*conditions).order_by(t.c.created_at, t.c.id).offset(offset).limit(limit)
    )
    return [_record(r) for r in rows], total


def of_domain(conn: Connection, domain_id: str, *, types: Sequence[str] = ()) -> list[ConnectedRegistry]:
    """Every registry of an account (optionally of some types)."""
    conditions = [t.c.domain_id == domain_id]
    if types:
        conditions.append(t.c.type.in_(types))
    return [_record(r) for r in conn.execute(select(*_COLUMNS).where(*conditions).order_by(t.c.created_at, t.c.id))]


def remove(conn: Connection, domain_id: str, registry_ids: Sequence[str]) -> int:
    """Delete external registries of the account (their image rows go with them); how many."""
    result = conn.execute(
        delete(t).where(
            t.c.domain_id == domain_id,
            t.c.id.in_(list(registry_ids)),
            t.c.type.notin_([k.value for k in BUILTIN_NAMES]),
        )
    )
    return int(result.rowcount or 0)


def status_counts(conn: Connection, domain_id: str, types: Sequence[str] = ()) -> dict[str, int]:
    """How many of the account's registries are in each access status."""
    conditions = [t.c.domain_id == domain_id]
    if types:
        conditions.append(t.c.type.in_(types))
    rows = conn.execute(select(t.c.status, func.count()).where(*conditions).group_by(t.c.status))
    return {str(r[0]): int(r[1]) for r in rows}


def record_sync(
    conn: Connection,
    registry_id: str,
    *,
    status: RegistryStatus,
    fail_reason: str,
    images_num: int | None,
    synced_at: int | None,
) -> None:
    """The outcome of a synchronisation (or of a connectivity check)."""
    values: dict[str, Any] = {"status": status, "fail_reason": fail_reason[:255]}
    if images_num is not None:
        values["images_num"] = images_num
    if synced_at is not None:
        values["latest_sync_time"] = synced_at
    change(conn, registry_id, values)
