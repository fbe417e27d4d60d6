"""User permissions on namespaces and repositories (levels 1 read, 3 write, 7 manage)."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from moorage.domain.registry import Grant
from moorage.metadata.database import now_ms
from moorage.metadata.tables import namespace_permissions, namespaces, repository_permissions, users
from moorage.metadata.upsert import insert_ignore


def level_on(conn: Connection, user_id: str, namespace_id: int, repository_id: int | None) -> int:
    """The user's effective level: the higher of their namespace grant and their repository grant."""
    level = (
        conn.execute(
            select(namespace_permissions.c.auth).where(
                namespace_permissions.c.user_id == user_id, namespace_permissions.c.namespace_id == namespace_id
            )
        ).scalar()
        or 0
    )
    if repository_id is not None:
        repo_level = (
            conn.execute(
                select(repository_permissions.c.auth).where(
                    repository_permissions.c.user_id == user_id, repository_permissions.c.repository_id == repository_id
                )
            ).scalar()
            or 0
        )
        level = max(level, repo_level)
    return int(level)


def namespace_ids_with_grants(conn: Connection, user_id: str, instance_id: str) -> dict[int, int]:
    """Namespace id -> level for every namespace of the instance the user has a grant on."""
    rows = conn.execute(
        select(namespace_permissions.c.namespace_id, namespace_permissions.c.auth)
        .join(namespaces, namespaces.c.id == namespace_permissions.c.namespace_id)
        .where(namespace_permissions.c.user_id == user_id, namespaces.c.instance_id == instance_id)
    )
    return {int(r[0]): int(r[1]) for r in rows}


def repository_ids_with_grants(conn: Connection, user_id: str) -> dict[int, int]:
    """Repository id -> level for every repository grant of the user."""
    rows = conn.execute(
        select(repository_permissions.c.repository_id, repository_permissions.c.auth).where(
            repository_permissions.c.user_id == user_id
        )
    )
    return {int(r[0]): int(r[1]) for r in rows}


def grants_on_namespace(conn: Connection, namespace_id: int) -> list[Grant]:
    """Every user grant on a namespace."""
    rows = conn.execute(
        select(users.c.id, users.c.name, namespace_permissions.c.auth)
        .join(users, users.c.id == namespace_permissions.c.user_id)
        .where(namespace_permissions.c.namespace_id == namespace_id)
        .order_by(users.c.name)
    )
    return [Grant(r[0], r[1], int(r[2])) for r in rows]


def grants_on_repository(conn: Connection, repository_id: int) -> list[Grant]:
    """Every user grant on a repository."""
    rows = conn.execute(
        select(users.c.id, users.c.name, repository_permissions.c.auth)
        .join(users, users.c.id == repository_permissions.c.user_id)
        .where(repository_permissions.c.repository_id == repository_id)
        .order_by(users.c.name)
    )
    return [Grant(r[0], r[1], int(r[2])) for r in rows]


def set_namespace_grant(conn: Connection, user_id: str, namespace_id: int, auth: int) -> None:
    """Create or change a user's namespace grant."""
    if not insert_ignore(
        conn,
        namespace_permissions,
        {"user_id": user_id, "namespace_id": namespace_id, "auth": auth, "created_at": now_ms()},
        conflict=["user_id", "namespace_id"],
    ):
        conn.execute(
            update(namespace_permissions)
            .where(namespace_permissions.c.user_id == user_id, namespace_permissions.c.namespace_id == namespace_id)
            .values(auth=auth)
        )


def set_repository_grant(conn: Connection, user_id: str, repository_id: int, auth: int) -> None:
    """Create or change a user's repository grant."""
    if not insert_ignore(
        conn,
        repository_permissions,
        {"user_id": user_id, "repository_id": repository_id, "auth": auth, "created_at": now_ms()},
        conflict=["user_id", "repository_id"],
    ):
        conn.execute(
            update(repository_permissions)
            .where(repository_permissions.c.user_id == user_id, repository_permissions.c.repository_id == repository_id)
            .values(auth=auth)
        )


def delete_namespace_grant(conn: Connection, user_id: str, namespace_id: int) -> bool:
    """Remove a user's namespace grant."""
    return bool(
        conn.execute(
            delete(namespace_permissions).where(
                namespace_permissions.c.user_id == user_id, namespace_permissions.c.namespace_id == namespace_id
            )
        ).rowcount
    )


def delete_repository_grant(conn: Connection, user_id: str, repository_id: int) -> bool:
    """Remove a user's repository grant."""
    return bool(
        conn.execute(
            delete(repository_permissions).where(
                repository_permissions.c.user_id == user_id, repository_permissions.c.repository_id == repository_id
            )
        ).rowcount
    )
