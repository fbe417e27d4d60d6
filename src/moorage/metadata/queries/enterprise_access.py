"""Enterprise Edition instance credentials, endpoint policies and deleted instance jobs."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection

from moorage.domain.bounded_json import load_document
from moorage.domain.enterprise import Page
from moorage.domain.enterprise_access import (
    AllowedNetwork,
    CredentialKind,
    EndpointPolicy,
    InstanceCredential,
)
from moorage.metadata.tables import ee_credentials, ee_deleted_jobs, ee_endpoint_policies, users
from moorage.metadata.upsert import insert_ignore, upsert

_CREDENTIAL = (
    ee_credentials.c.id,
    ee_credentials.c.instance_id,
    ee_credentials.c.user_id,
    users.c.name,
    ee_credentials.c.kind,
    ee_credentials.c.name,
    ee_credentials.c.enabled,
    ee_credentials.c.created_at,
    ee_credentials.c.expires_at,
)
_CREDENTIAL_FROM = ee_credentials.join(users, users.c.id == ee_credentials.c.user_id)


def _credential(r: Sequence[Any]) -> InstanceCredential:
    return InstanceCredential(
        str(r[0]), str(r[1]), str(r[2]), str(r[3]), CredentialKind(r[4]), str(r[5]), bool(r[6]), int(r[7]), int(r[8])
    )


def add_credential(conn: Connection, credential: InstanceCredential, secret_hash: str) -> None:
    """Store a new credential (its id is fresh)."""
    conn.execute(
        insert(ee_credentials).values(
            id=credential.id,
            instance_id=credential.instance_id,
            user_id=credential.user_id,
            kind=str(credential.kind),
            name=credential.name,
            secret_hash=secret_hash,
            enabled=credential.enabled,
            created_at=credential.created_at,
            expires_at=credential.expires_at,
        )
    )


def credential_named(conn: Connection, instance_id: str, user_id: str, name: str) -> bool:
    """Whether the user has a long-term credential of that name on the instance."""
    found = conn.execute(
        select(ee_credentials.c.id).where(
            ee_credentials.c.instance_id == instance_id,
            ee_credentials.c.user_id == user_id,
            ee_credentials.c.kind == str(CredentialKind.LONG_TERM),
            ee_credentials.c.name == name,
        )
    ).first()
    return found is not None


def count_long_term(conn: Connection, instance_id: str, user_id: str) -> int:
    """The user's long-term credentials on the instance."""
    return int(
        conn.execute(
            select(func.count()).where(
                ee_credentials.c.instance_id == instance_id,
                ee_credentials.c.user_id == user_id,
                ee_credentials.c.kind == str(CredentialKind.LONG_TERM),
            )
        ).scalar_one()
    )


def credential_for_login(conn: Connection, credential_id: str) -> tuple[InstanceCredential, str] | None:
    """A credential and its secret's hash, by id (a login)."""
    row = conn.execute(
        select(*_CREDENTIAL, ee_credentials.c.secret_hash)
        .select_from(_CREDENTIAL_FROM)
        .where(ee_credentials.c.id == credential_id)
    ).first()
    return None if row is None else (_credential(row), str(row[9]))


def get_credential(conn: Connection, instance_id: str, credential_id: str) -> InstanceCredential | None:
    """A credential of the instance."""
    row = conn.execute(
        select(*_CREDENTIAL)
        .select_from(_CREDENTIAL_FROM)
        .where(ee_credentials.c.id == credential_id, ee_credentials.c.instance_id == instance_id)
    ).first()
    return None if row is None else _credential(row)


def list_long_term(
    conn: Connection, instance_id: str, *, user_id: str | None, offset: int, limit: int
) -> Page[InstanceCredential]:
    """Long-term credentials of the instance (of one user when ``user_id`` is given), oldest first."""
    where = [ee_credentials.c.instance_id == instance_id, ee_credentials.c.kind == str(CredentialKind.LONG_TERM)]
    if user_id is not None:
        where.append(ee_credentials.c.user_id == user_id)
    total = int(conn.execute(select(func.count()).select_from(ee_credentials).where(*where)).scalar_one())
    rows = conn.execute(
        select(*_CREDENTIAL)
        .select_from(_CREDENTIAL_FROM)
        .where(*where)
        .order_by(ee_credentials.c.created_at, ee_credentials.c.id)
        .offset(offset)
        .limit(limit)
    )
    return Page([_credential(r) for r in rows], total)


def set_credential_enabled(conn: Connection, credential_id: str, enabled: bool) -> None:
    """Enable or disable a credential."""
    conn.execute(update(ee_credentials).where(ee_credentials.c.id == credential_id).values(enabled=enabled))


def delete_credential(conn: Connection, credential_id: str) -> None:
    """Delete a credential."""
    conn.execute(delete(ee_credentials).where(ee_credentials.c.id == credential_id))


def purge_expired(conn: Connection, now_ms: int) -> int:
    """Delete temporary credentials that have expired; how many."""
    result = conn.execute(
        delete(ee_credentials).where(
            ee_credentials.c.kind == str(CredentialKind.TEMPORARY),
            ee_credentials.c.expires_at > 0,
            ee_credentials.c.expires_at < now_ms,
        )
    )
    return int(result.rowcount or 0)


# Endpoint policies ---------------------------------------------------------------------------------
def _policy(enabled: Any, ip_list: Any) -> EndpointPolicy:
    entries = load_document(ip_list) if ip_list else []
    return EndpointPolicy(
        bool(enabled),
        tuple(AllowedNetwork(ipaddress.ip_network(str(e["ip"])), str(e.get("description", ""))) for e in entries),
    )


def endpoint_policy(conn: Connection, instance_id: str) -> EndpointPolicy | None:
    """The instance's stored policy (None: it has none)."""
    row = conn.execute(
        select(ee_endpoint_policies.c.enabled, ee_endpoint_policies.c.ip_list).where(
            ee_endpoint_policies.c.instance_id == instance_id
        )
    ).first()
    return None if row is None else _policy(row[0], row[1])


def all_endpoint_policies(conn: Connection) -> dict[str, EndpointPolicy]:
    """Every stored policy by instance (a few rows: only instances that have one)."""
    rows = conn.execute(
        select(ee_endpoint_policies.c.instance_id, ee_endpoint_policies.c.enabled, ee_endpoint_policies.c.ip_list)
    )
    return {str(r[0]): _policy(r[1], r[2]) for r in rows}


def save_endpoint_policy(conn: Connection, instance_id: str, policy: EndpointPolicy, now_ms: int) -> None:
    """Store the instance's policy."""
    ip_list = json.dumps([{"ip": str(e.network), "description": e.description} for e in policy.allowlist])
    upsert(
        conn,
        ee_endpoint_policies,
        {"instance_id": instance_id, "enabled": policy.enabled, "ip_list": ip_list, "updated_at": now_ms},
        conflict=("instance_id",),
        update=("enabled", "ip_list", "updated_at"),
    )


# Instance jobs -------------------------------------------------------------------------------------
def deleted_jobs(conn: Connection, instance_ids: Sequence[str]) -> set[str]:
    """The deleted job ids among the jobs of these instances."""
    if not instance_ids:
        return set()
    rows = conn.execute(select(ee_deleted_jobs.c.job_id).where(ee_deleted_jobs.c.instance_id.in_(instance_ids)))
    return {str(r[0]) for r in rows}


def delete_job(conn: Connection, job_id: str, instance_id: str) -> None:
    """Mark a job deleted."""
    insert_ignore(conn, ee_deleted_jobs, {"job_id": job_id, "instance_id": instance_id}, conflict=("job_id",))


def count_temporary(conn: Connection, instance_id: str, user_id: str) -> int:
    """The user's temporary credentials on the instance (expired ones are purged first)."""
    return int(
        conn.execute(
            select(func.count()).where(
                ee_credentials.c.instance_id == instance_id,
                ee_credentials.c.user_id == user_id,
                ee_credentials.c.kind == str(CredentialKind.TEMPORARY),
            )
        ).scalar_one()
    )
