"""What the quotas count: bytes of each organization's distinct blobs (the ``namespace_usage``
counters) and of an account's organizations, bytes reserved by uploads in progress, repositories; and
the reservations themselves.

``use`` reads stored and reserved bytes in one statement: one snapshot, so an upload that turns its
reservation into a linked blob meanwhile (one transaction) is counted once, never zero times.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, delete, func, literal, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from moorage.metadata.tables import namespace_blobs, namespace_storage, namespaces, quota_reservations, repositories


@dataclass(frozen=True, slots=True)
class Charge:
    """Who an upload's bytes and a new repository count against: an organization (by name: it may not
    exist yet) and the account that owns it, or will (empty: none)."""

    instance_id: str
    namespace: str
    domain_id: str


@dataclass(frozen=True, slots=True)
class StorageUse:
    """Bytes stored (distinct blobs) and reserved (uploads in progress, but the asking one's)."""

    namespace_stored: int
    namespace_reserved: int
    account_stored: int
    account_reserved: int


# Statements of the push path are built once (with ``bindparam``): building one costs more than
# running it (see moorage.metadata.upsert).
_OWNER = select(namespaces.c.domain_id).where(
    namespaces.c.instance_id == bindparam("instance"), namespaces.c.name == bindparam("namespace")
)


def namespace_owner(conn: Connection, instance_id: str, namespace: str) -> tuple[bool, str | None]:
    """(whether the organization exists, the account that owns it)."""
    row = conn.execute(_OWNER, {"instance": instance_id, "namespace": namespace}).first()
    return (False, None) if row is None else (True, row[0])


def lock(conn: Connection, *keys: str) -> None:
    """Serialise quota decisions on ``keys`` until the transaction ends: PostgreSQL transaction-scoped
    advisory locks, taken in the order given; SQLite needs none (its write transactions run one at a
    time)."""
    if conn.dialect.name != "postgresql":
        return
    for key in keys:
        number = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": number})


def _stored(owner: ColumnElement[bool]) -> Select[Any]:
    """Bytes of the organizations that satisfy ``owner`` (their ``namespace_storage`` counters)."""
    return (
        select(func.coalesce(func.sum(namespace_storage.c.stored_bytes), 0))
        .select_from(namespace_storage.join(namespaces, namespaces.c.id == namespace_storage.c.namespace_id))
        .where(owner)
    )


def _reserved(owner: ColumnElement[bool]) -> Select[Any]:
    return select(func.coalesce(func.sum(quota_reservations.c.bytes), 0)).where(
        owner, quota_reservations.c.id != bindparam("other_than")
    )


def _use_statement(namespace: bool, account: bool) -> Select[Any]:
    zero = literal(0)
    in_instance = namespaces.c.instance_id == bindparam("instance")
    reserved_in = quota_reservations.c.instance_id == bindparam("instance")
    columns: list[Any] = [zero, zero, zero, zero]
    if namespace:
        columns[0] = _stored(in_instance & (namespaces.c.name == bindparam("namespace"))).scalar_subquery()
        columns[1] = _reserved(
            reserved_in & (quota_reservations.c.namespace == bindparam("namespace"))
        ).scalar_subquery()
    if account:
        columns[2] = _stored(in_instance & (namespaces.c.domain_id == bindparam("domain"))).scalar_subquery()
        columns[3] = _reserved(reserved_in & (quota_reservations.c.domain_id == bindparam("domain"))).scalar_subquery()
    return select(*columns)


_USE = {
    (namespace, account): _use_statement(namespace, account) for namespace in (True, False) for account in (True, False)
}


def use(conn: Connection, charge: Charge, *, namespace: bool, account: bool, other_than: str = "") -> StorageUse:
    """Stored and reserved bytes of the organization (when ``namespace``) and of the account (when
    ``account`` and there is one), the reservation ``other_than`` left out; in one statement."""
    statement = _USE[(namespace, account and bool(charge.domain_id))]
    row = conn.execute(
        statement,
        {
            "instance": charge.instance_id,
            "namespace": charge.namespace,
            "domain": charge.domain_id,
            "other_than": other_than,
        },
    ).one()
    return StorageUse(*(int(value) for value in row))


def account_stored(conn: Connection, instance_id: str, domain_id: str) -> int:
    """Bytes an account holds: each organization's distinct blobs, organization by organization."""
    return int(
        conn.execute(
            _stored((namespaces.c.instance_id == instance_id) & (namespaces.c.domain_id == domain_id))
        ).scalar_one()
    )


def instance_stored(conn: Connection, instance_id: str) -> int:
    """Bytes a registry instance holds: each organization's distinct blobs, organization by organization."""
    return int(conn.execute(_stored(namespaces.c.instance_id == instance_id)).scalar_one())


def namespace_stored(conn: Connection, instance_id: str, namespace: str) -> int:
    """Bytes of the distinct blobs an organization's repositories link."""
    return int(
        conn.execute(_stored((namespaces.c.instance_id == instance_id) & (namespaces.c.name == namespace))).scalar_one()
    )


_HELD = (
    select(namespace_blobs.c.links)
    .select_from(namespace_blobs.join(namespaces, namespaces.c.id == namespace_blobs.c.namespace_id))
    .where(
        namespaces.c.instance_id == bindparam("instance"),
        namespaces.c.name == bindparam("namespace"),
        namespace_blobs.c.digest == bindparam("digest"),
    )
)


def linked_in_namespace(conn: Connection, instance_id: str, namespace: str, digest: str) -> bool:
    """Whether a repository of the organization already links the blob (linking it again costs nothing)."""
    return conn.execute(_HELD, {"instance": instance_id, "namespace": namespace, "digest": digest}).first() is not None


def repository_counts(conn: Connection, charge: Charge) -> tuple[int, int]:
    """(repositories of the organization, repositories of the account: 0 without one)."""
    in_namespace = conn.execute(
        select(func.count())
        .select_from(repositories.join(namespaces, namespaces.c.id == repositories.c.namespace_id))
        .where(namespaces.c.instance_id == charge.instance_id, namespaces.c.name == charge.namespace)
    ).scalar_one()
    in_account = 0
    if charge.domain_id:
        in_account = conn.execute(
            select(func.count())
            .select_from(repositories.join(namespaces, namespaces.c.id == repositories.c.namespace_id))
            .where(namespaces.c.instance_id == charge.instance_id, namespaces.c.domain_id == charge.domain_id)
        ).scalar_one()
    return int(in_namespace), int(in_account)


# Reservations ---------------------------------------------------------------------------------------
_RESERVED = select(quota_reservations.c.bytes).where(quota_reservations.c.id == bindparam("reservation"))
_RESIZE = (
    update(quota_reservations)
    .where(quota_reservations.c.id == bindparam("reservation"))
    .values(bytes=bindparam("size"))
)
_RELEASE = delete(quota_reservations).where(quota_reservations.c.id == bindparam("reservation"))


def _set_statement(insert: Any) -> Any:
    stmt = insert(quota_reservations).values(
        id=bindparam("reservation"),
        instance_id=bindparam("instance"),
        namespace=bindparam("namespace"),
        domain_id=bindparam("domain"),
        bytes=bindparam("size"),
        expires_at=bindparam("expires"),
    )
    return stmt.on_conflict_do_update(
        index_elements=["id"],
        set_={c: stmt.excluded[c] for c in ("instance_id", "namespace", "domain_id", "bytes", "expires_at")},
    )


_SET = {"sqlite": _set_statement(sqlite.insert), "postgresql": _set_statement(postgresql.insert)}


def reserved(conn: Connection, reservation_id: str) -> int:
    """Bytes a reservation holds (0: none)."""
    row = conn.execute(_RESERVED, {"reservation": reservation_id}).first()
    return int(row[0]) if row else 0


def set_reservation(conn: Connection, reservation_id: str, charge: Charge, *, size: int, expires_at: int) -> None:
    """Make a reservation hold ``size`` bytes until ``expires_at`` (created when missing)."""
    conn.execute(
        _SET[conn.dialect.name],
        {
            "reservation": reservation_id,
            "instance": charge.instance_id,
            "namespace": charge.namespace,
            "domain": charge.domain_id,
            "size": size,
            "expires": expires_at,
        },
    )


def resize(conn: Connection, reservation_id: str, size: int) -> None:
    """Make an existing reservation hold ``size`` bytes."""
    conn.execute(_RESIZE, {"reservation": reservation_id, "size": size})


def release(conn: Connection, reservation_id: str) -> None:
    """Forget a reservation."""
    conn.execute(_RELEASE, {"reservation": reservation_id})


def purge_expired(conn: Connection, now: int) -> int:
    """Forget reservations past their expiry (left by a killed process, or an abandoned upload)."""
    return int(conn.execute(delete(quota_reservations).where(quota_reservations.c.expires_at < now)).rowcount or 0)
