"""Domains, users, projects, access keys and revoked tokens."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection

from moorage.domain.identity import AccessKey, Domain, Project, User
from moorage.metadata.database import now_ms
from moorage.metadata.tables import access_keys, domains, projects, revoked_tokens, users
from moorage.metadata.upsert import insert_ignore

_USER_COLUMNS = (
    users.c.id,
    users.c.name,
    users.c.domain_id,
    domains.c.name,
    users.c.is_admin,
    users.c.enabled,
    users.c.created_at,
)
_USERS = users.join(domains, users.c.domain_id == domains.c.id)


def _user(row: Sequence[Any]) -> User:
    return User(str(row[0]), str(row[1]), str(row[2]), str(row[3]), bool(row[4]), bool(row[5]), int(row[6]))


def count_users(conn: Connection) -> int:
    """How many users exist (zero before the first start's administrator)."""
    return int(conn.execute(select(func.count()).select_from(users)).scalar_one())


def domain_by_name(conn: Connection, name: str) -> Domain | None:
    """A domain by name."""
    row = conn.execute(select(domains.c.id, domains.c.name).where(domains.c.name == name)).first()
    return Domain(row[0], row[1]) if row else None


def domain_by_id(conn: Connection, domain_id: str) -> Domain | None:
    """A domain by id."""
    row = conn.execute(select(domains.c.id, domains.c.name).where(domains.c.id == domain_id)).first()
    return Domain(row[0], row[1]) if row else None


def create_domain(conn: Connection, domain_id: str, name: str) -> Domain:
    """A new domain."""
    conn.execute(insert(domains).values(id=domain_id, name=name, created_at=now_ms()))
    return Domain(domain_id, name)


def user_by_name(conn: Connection, name: str) -> tuple[User, str] | None:
    """(user, password hash) by user name."""
    row = conn.execute(
        select(*_USER_COLUMNS, users.c.password_hash).select_from(_USERS).where(users.c.name == name)
    ).first()
    return (_user(row[:7]), row[7]) if row else None


def user_by_id(conn: Connection, user_id: str) -> User | None:
    """A user by id."""
    row = conn.execute(select(*_USER_COLUMNS).select_from(_USERS).where(users.c.id == user_id)).first()
    return _user(row) if row else None


def list_users(conn: Connection, domain_id: str | None = None) -> list[User]:
    """Users, of one domain or all, by name."""
    query = select(*_USER_COLUMNS).select_from(_USERS).order_by(users.c.name)
    if domain_id:
        query = query.where(users.c.domain_id == domain_id)
    return [_user(r) for r in conn.execute(query)]


def create_user(
    conn: Connection, *, user_id: str, name: str, domain_id: str, password_hash: str, is_admin: bool
) -> None:
    """A new user."""
    conn.execute(
        insert(users).values(
            id=user_id,
            name=name,
            domain_id=domain_id,
            password_hash=password_hash,
            is_admin=is_admin,
            enabled=True,
            created_at=now_ms(),
        )
    )


def delete_user(conn: Connection, user_id: str) -> bool:
    """Remove a user (their keys and permissions go with them)."""
    return bool(conn.execute(delete(users).where(users.c.id == user_id)).rowcount)


def password_hash(conn: Connection, user_id: str) -> str | None:
    """A user's password hash by id (what a refresh token from a password login is bound to)."""
    found = conn.execute(select(users.c.password_hash).where(users.c.id == user_id)).scalar()
    return str(found) if found is not None else None


def set_password(conn: Connection, user_id: str, password_hash: str) -> None:
    """Replace a user's password hash (e.g. rehash with newer parameters)."""
    conn.execute(update(users).where(users.c.id == user_id).values(password_hash=password_hash))


def ensure_project(conn: Connection, *, project_id: str, domain_id: str, name: str) -> Project:
    """The domain's project called ``name``, created with ``project_id`` if missing."""
    insert_ignore(
        conn,
        projects,
        {"id": project_id, "domain_id": domain_id, "name": name, "created_at": now_ms()},
        conflict=["domain_id", "name"],
    )
    row = conn.execute(
        select(projects.c.id, projects.c.name, projects.c.domain_id).where(
            projects.c.domain_id == domain_id, projects.c.name == name
        )
    ).one()
    return Project(row[0], row[1], row[2])


def list_projects(conn: Connection, *, domain_id: str | None = None, name: str | None = None) -> list[Project]:
    """Projects, filtered by domain and name."""
    query = select(projects.c.id, projects.c.name, projects.c.domain_id).order_by(projects.c.name, projects.c.id)
    if domain_id:
        query = query.where(projects.c.domain_id == domain_id)
    if name:
        query = query.where(projects.c.name == name)
    return [Project(r[0], r[1], r[2]) for r in conn.execute(query)]


def project_by_id(conn: Connection, project_id: str) -> Project | None:
    """A project by id."""
    row = conn.execute(
        select(projects.c.id, projects.c.name, projects.c.domain_id).where(projects.c.id == project_id)
    ).first()
    return Project(row[0], row[1], row[2]) if row else None


def create_access_key(
    conn: Connection, *, access: str, user_id: str, secret_encrypted: str, description: str
) -> AccessKey:
    """A new AK (the encrypted SK beside it)."""
    created = now_ms()
    conn.execute(
        insert(access_keys).values(
            access=access,
            user_id=user_id,
            secret_encrypted=secret_encrypted,
            description=description,
            enabled=True,
            created_at=created,
        )
    )
    return AccessKey(access, user_id, description, True, created)


def access_key(conn: Connection, access: str) -> tuple[AccessKey, str] | None:
    """(access key, encrypted secret) by AK."""
    row = conn.execute(
        select(
            access_keys.c.access,
            access_keys.c.user_id,
            access_keys.c.description,
            access_keys.c.enabled,
            access_keys.c.created_at,
            access_keys.c.secret_encrypted,
        ).where(access_keys.c.access == access)
    ).first()
    if row is None:
        return None
    return AccessKey(row[0], row[1], row[2], bool(row[3]), int(row[4])), row[5]


def list_access_keys(conn: Connection, user_id: str | None = None) -> list[AccessKey]:
    """Access keys of one user (or all)."""
    query = select(
        access_keys.c.access,
        access_keys.c.user_id,
        access_keys.c.description,
        access_keys.c.enabled,
        access_keys.c.created_at,
    ).order_by(access_keys.c.created_at)
    if user_id:
        query = query.where(access_keys.c.user_id == user_id)
    return [AccessKey(r[0], r[1], r[2], bool(r[3]), int(r[4])) for r in conn.execute(query)]


def update_access_key(conn: Connection, access: str, *, enabled: bool | None, description: str | None) -> None:
    """Change an AK's status or description."""
    values: dict[str, object] = {}
    if enabled is not None:
        values["enabled"] = enabled
    if description is not None:
        values["description"] = description
    if values:
        conn.execute(update(access_keys).where(access_keys.c.access == access).values(**values))


def delete_access_key(conn: Connection, access: str) -> bool:
    """Delete an AK."""
    return bool(conn.execute(delete(access_keys).where(access_keys.c.access == access)).rowcount)


def revoke_token(conn: Connection, token_id: str, expires_at: int) -> None:
    """Remember a revoked token until it would have expired anyway."""
    insert_ignore(conn, revoked_tokens, {"token_id": token_id, "expires_at": expires_at}, conflict=["token_id"])
    conn.execute(delete(revoked_tokens).where(revoked_tokens.c.expires_at < now_ms() // 1000))


def is_revoked(conn: Connection, token_id: str) -> bool:
    """Whether a token was revoked."""
    found = conn.execute(select(revoked_tokens.c.token_id).where(revoked_tokens.c.token_id == token_id)).first()
    return found is not None
