"""Repositories shared with other accounts (SWR's access domains): read permission until a deadline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.engine import Connection

from moorage.domain.management import ShareRecord
from moorage.metadata.database import now_ms
from moorage.metadata.tables import domains, namespaces, repositories, repository_shares
from moorage.metadata.upsert import bytewise, insert_ignore

_COLUMNS = (
    repository_shares.c.repository_id,
    namespaces.c.name,
    repositories.c.name,
    repository_shares.c.domain_id,
    domains.c.name,
    repository_shares.c.permit,
    repository_shares.c.deadline,
    repository_shares.c.description,
    repository_shares.c.creator_id,
    repository_shares.c.creator_name,
    repository_shares.c.created_at,
    repository_shares.c.updated_at,
)
_FROM = (
    repository_shares.join(repositories, repositories.c.id == repository_shares.c.repository_id)
    .join(namespaces, namespaces.c.id == repositories.c.namespace_id)
    .join(domains, domains.c.id == repository_shares.c.domain_id)
)


def _record(row: Sequence[Any]) -> ShareRecord:
    return ShareRecord(
        int(row[0]),
        str(row[1]),
        str(row[2]),
        str(row[3]),
        str(row[4]),
        str(row[5]),
        None if row[6] is None else int(row[6]),
        str(row[7]),
        str(row[8]),
        str(row[9]),
        int(row[10]),
        int(row[11]),
    )


def create(
    conn: Connection,
    *,
    repository_id: int,
    domain_id: str,
    permit: str,
    deadline: int | None,
    description: str,
    creator_id: str,
    creator_name: str,
) -> bool:
    """Share a repository with an account; False when it already is."""
    now = now_ms()
    return (
        insert_ignore(
            conn,
            repository_shares,
            {
                "repository_id": repository_id,
                "domain_id": domain_id,
                "permit": permit,
                "deadline": deadline,
                "description": description,
                "creator_id": creator_id,
                "creator_name": creator_name,
                "created_at": now,
                "updated_at": now,
            },
            conflict=["repository_id", "domain_id"],
        )
        > 0
    )


def get(conn: Connection, repository_id: int, domain_id: str) -> ShareRecord | None:
    """The share of a repository with one account."""
    row = conn.execute(
        select(*_COLUMNS)
        .select_from(_FROM)
        .where(repository_shares.c.repository_id == repository_id, repository_shares.c.domain_id == domain_id)
    ).first()
    return _record(row) if row else None


def of_repository(conn: Connection, repository_id: int) -> list[ShareRecord]:
    """Every share of a repository, by account name."""
    rows = conn.execute(
        select(*_COLUMNS)
        .select_from(_FROM)
        .where(repository_shares.c.repository_id == repository_id)
        .order_by(bytewise(conn, domains.c.name))
    )
    return [_record(r) for r in rows]


def change(
    conn: Connection,
    repository_id: int,
    domain_id: str,
    *,
    permit: str | None,
    deadline: int | None,
    set_deadline: bool,
    description: str | None,
) -> bool:
    """Change a share's permission, deadline (when ``set_deadline``; None then means forever) or description."""
    values: dict[str, Any] = {"updated_at": now_ms()}
    if permit is not None:
        values["permit"] = permit
    if set_deadline:
        values["deadline"] = deadline
    if description is not None:
        values["description"] = description
    return bool(
        conn.execute(
            update(repository_shares)
            .where(repository_shares.c.repository_id == repository_id, repository_shares.c.domain_id == domain_id)
            .values(**values)
        ).rowcount
    )


def remove(conn: Connection, repository_id: int, domain_id: str) -> bool:
    """Stop sharing a repository with an account."""
    return bool(
        conn.execute(
            delete(repository_shares).where(
                repository_shares.c.repository_id == repository_id, repository_shares.c.domain_id == domain_id
            )
        ).rowcount
    )


def grants_read(conn: Connection, repository_id: int, domain_id: str, now: int) -> bool:
    """Whether the repository is shared with the account, for reading, at ``now`` (epoch ms)."""
    found = conn.execute(
        select(repository_shares.c.repository_id).where(
            repository_shares.c.repository_id == repository_id,
            repository_shares.c.domain_id == domain_id,
            repository_shares.c.permit == "read",
            or_(repository_shares.c.deadline.is_(None), repository_shares.c.deadline > now),
        )
    ).first()
    return found is not None


def shared_by(conn: Connection, instance_id: str, owner_domain_id: str) -> set[int]:
    """Repositories of the owner's account that are shared with anybody."""
    rows = conn.execute(
        select(repository_shares.c.repository_id)
        .distinct()
        .select_from(
            repository_shares.join(repositories, repositories.c.id == repository_shares.c.repository_id).join(
                namespaces, namespaces.c.id == repositories.c.namespace_id
            )
        )
        .where(repositories.c.instance_id == instance_id, namespaces.c.domain_id == owner_domain_id)
    )
    return {int(r[0]) for r in rows}


def shared_with(conn: Connection, instance_id: str, domain_id: str, *, valid: bool | None, now: int) -> dict[int, bool]:
    """Repository id -> whether the share is still valid, for repositories shared with the account
    (only valid or only expired ones when ``valid`` says so)."""
    conditions = [repository_shares.c.domain_id == domain_id, repositories.c.instance_id == instance_id]
    alive = or_(repository_shares.c.deadline.is_(None), repository_shares.c.deadline > now)
    if valid is True:
        conditions.append(alive)
    elif valid is False:
        conditions.append(~alive)
    rows = conn.execute(
        select(repository_shares.c.repository_id, repository_shares.c.deadline)
        .select_from(repository_shares.join(repositories, repositories.c.id == repository_shares.c.repository_id))
        .where(and_(*conditions))
    )
    return {int(r[0]): r[1] is None or int(r[1]) > now for r in rows}
