"""Enterprise Edition instances, their host names, their namespaces' options and their statistics."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.engine import Connection

from moorage.domain.bounded_json import load_document
from moorage.domain.enterprise import DomainName, Instance, InstanceNamespace, NamespaceOptions, Page
from moorage.metadata.database import now_ms
from moorage.metadata.queries.quotas import instance_stored
from moorage.metadata.tables import (
    ee_domain_names,
    ee_instances,
    ee_namespace_options,
    ee_sign_policies,
    instances,
    namespaces,
    repositories,
)
from moorage.metadata.upsert import bytewise, insert_ignore, upsert

_INSTANCE = (
    ee_instances.c.instance_id,
    ee_instances.c.name,
    ee_instances.c.description,
    ee_instances.c.spec,
    ee_instances.c.charge_mode,
    ee_instances.c.enterprise_project_id,
    ee_instances.c.status,
    ee_instances.c.domain_id,
    ee_instances.c.project_id,
    ee_instances.c.anonymous_access,
    ee_instances.c.creation_job_id,
    ee_instances.c.created_at,
    ee_instances.c.updated_at,
)


def _instance(r: Sequence[Any]) -> Instance:
    return Instance(
        str(r[0]),
        str(r[1]),
        str(r[2]),
        str(r[3]),
        str(r[4]),
        str(r[5]),
        str(r[6]),
        str(r[7]),
        str(r[8]),
        bool(r[9]),
        str(r[10]),
        int(r[11]),
        int(r[12]),
    )


def create_instance(
    conn: Connection,
    *,
    instance_id: str,
    name: str,
    description: str,
    spec: str,
    charge_mode: str,
    enterprise_project_id: str,
    domain_id: str,
    project_id: str,
    creation_job_id: str,
) -> Instance | None:
    """A new instance (its registry row and its management row); None when the domain already has
    an instance of that name."""
    now = now_ms()
    taken = conn.execute(
        select(ee_instances.c.instance_id).where(ee_instances.c.domain_id == domain_id, ee_instances.c.name == name)
    ).first()
    if taken is not None:
        return None
    conn.execute(insert(instances).values(id=instance_id, name=instance_id, created_at=now))
    conn.execute(
        insert(ee_instances).values(
            instance_id=instance_id,
            domain_id=domain_id,
            project_id=project_id,
            name=name,
            description=description,
            spec=spec,
            charge_mode=charge_mode,
            enterprise_project_id=enterprise_project_id,
            status="Running",
            creation_job_id=creation_job_id,
            created_at=now,
            updated_at=now,
        )
    )
    found = get_instance(conn, instance_id)
    assert found is not None
    return found


def get_instance(conn: Connection, instance_id: str) -> Instance | None:
    """An instance by id."""
    row = conn.execute(select(*_INSTANCE).where(ee_instances.c.instance_id == instance_id)).first()
    return _instance(row) if row else None


def list_instances(
    conn: Connection,
    domain_id: str,
    *,
    status: str | None,
    offset: int,
    limit: int,
    enterprise_project_id: str | None = None,
) -> Page[Instance]:
    """A domain's instances (of one status, of one enterprise project), oldest first."""
    where = [ee_instances.c.domain_id == domain_id]
    if status:
        where.append(ee_instances.c.status == status)
    if enterprise_project_id:
        where.append(ee_instances.c.enterprise_project_id == enterprise_project_id)
    total = int(conn.execute(select(func.count()).select_from(ee_instances).where(*where)).scalar_one())
    rows = conn.execute(
        select(*_INSTANCE)
        .where(*where)
        .order_by(ee_instances.c.created_at, ee_instances.c.instance_id)
        .offset(offset)
        .limit(limit)
    )
    return Page([_instance(r) for r in rows], total)


def delete_instance(conn: Connection, instance_id: str) -> bool:
    """Remove an instance and everything in it (namespaces, repositories, policies cascade)."""
    return bool(conn.execute(delete(instances).where(instances.c.id == instance_id)).rowcount)


def set_anonymous_access(conn: Connection, instance_id: str, allowed: bool) -> None:
    """Change the instance's anonymous-access configuration."""
    conn.execute(
        update(ee_instances)
        .where(ee_instances.c.instance_id == instance_id)
        .values(anonymous_access=allowed, updated_at=now_ms())
    )


def anonymous_access(conn: Connection, instance_id: str) -> bool:
    """Whether the instance lets anonymous callers pull from its public namespaces."""
    return bool(
        conn.execute(select(ee_instances.c.anonymous_access).where(ee_instances.c.instance_id == instance_id)).scalar()
    )


# Host names ----------------------------------------------------------------------------------------
_DOMAIN = (
    ee_domain_names.c.id,
    ee_domain_names.c.instance_id,
    ee_domain_names.c.domain_name,
    ee_domain_names.c.type,
    ee_domain_names.c.certificate_id,
    ee_domain_names.c.created_at,
    ee_domain_names.c.updated_at,
)


def _domain_name(r: Sequence[Any]) -> DomainName:
    return DomainName(str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), int(r[5]), int(r[6]))


def add_domain_name(
    conn: Connection, *, domain_name_id: str, instance_id: str, domain_name: str, kind: str, certificate_id: str
) -> DomainName | None:
    """Attach a host name to an instance; None when some instance already has it."""
    now = now_ms()
    if not insert_ignore(
        conn,
        ee_domain_names,
        {
            "id": domain_name_id,
            "instance_id": instance_id,
            "domain_name": domain_name,
            "type": kind,
            "certificate_id": certificate_id,
            "created_at": now,
            "updated_at": now,
        },
        conflict=["domain_name"],
    ):
        return None
    return get_domain_name(conn, instance_id, domain_name_id)


def get_domain_name(conn: Connection, instance_id: str, domain_name_id: str) -> DomainName | None:
    """One host name of an instance."""
    row = conn.execute(
        select(*_DOMAIN).where(ee_domain_names.c.instance_id == instance_id, ee_domain_names.c.id == domain_name_id)
    ).first()
    return _domain_name(row) if row else None


def list_domain_names(
    conn: Connection, instance_id: str, *, domain_name_id: str | None = None, domain_name: str | None = None
) -> list[DomainName]:
    """An instance's host names, default first, then in the order they were added."""
    query = select(*_DOMAIN).where(ee_domain_names.c.instance_id == instance_id)
    if domain_name_id:
        query = query.where(ee_domain_names.c.id == domain_name_id)
    if domain_name:
        query = query.where(ee_domain_names.c.domain_name == domain_name)
    rows = conn.execute(
        query.order_by((ee_domain_names.c.type != "default"), ee_domain_names.c.created_at, ee_domain_names.c.id)
    )
    return [_domain_name(r) for r in rows]


def update_domain_name(conn: Connection, instance_id: str, domain_name_id: str, certificate_id: str) -> bool:
    """Change the certificate id of a host name."""
    return bool(
        conn.execute(
            update(ee_domain_names)
            .where(
                ee_domain_names.c.instance_id == instance_id,
                ee_domain_names.c.id == domain_name_id,
            )
            .values(certificate_id=certificate_id, updated_at=now_ms())
        ).rowcount
    )


def delete_domain_name(conn: Connection, instance_id: str, domain_name_id: str) -> bool:
    """Detach a host name from an instance."""
    return bool(
        conn.execute(
            delete(ee_domain_names).where(
                ee_domain_names.c.instance_id == instance_id, ee_domain_names.c.id == domain_name_id
            )
        ).rowcount
    )


def all_domain_names(conn: Connection) -> list[tuple[str, str]]:
    """(host name, instance id) of every instance's host names, oldest first: what virtual hosting
    and the overlap check of a new name read."""
    return [
        (str(r[0]), str(r[1]))
        for r in conn.execute(
            select(ee_domain_names.c.domain_name, ee_domain_names.c.instance_id).order_by(
                ee_domain_names.c.created_at, ee_domain_names.c.id
            )
        )
    ]


def lock_host_names(conn: Connection) -> None:
    """Serialise the writers of host names until the transaction ends, so that two overlapping
    names (``*.a.example.com`` and ``x.a.example.com``) cannot both pass the overlap check. SQLite
    write transactions are serialised already; PostgreSQL's are not, so lock the table against
    other writers (readers are not blocked)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("LOCK TABLE ee_domain_names IN SHARE ROW EXCLUSIVE MODE"))


def host_directory(conn: Connection) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """((host name, instance id) oldest first, instance id -> owning domain id) for every instance:
    what virtual hosting and the ownership checks need, read in two small queries."""
    owners = {str(r[0]): str(r[1]) for r in conn.execute(select(ee_instances.c.instance_id, ee_instances.c.domain_id))}
    return all_domain_names(conn), owners


# Namespaces ----------------------------------------------------------------------------------------
def _options(row: Sequence[Any] | None) -> NamespaceOptions:
    if row is None or row[0] is None:
        return NamespaceOptions()
    allowlist = load_document(row[4]) if row[4] else {}
    return NamespaceOptions(bool(row[0]), bool(row[1]), str(row[2]), bool(row[3]), allowlist)


_OPTIONS = (
    ee_namespace_options.c.auto_scan,
    ee_namespace_options.c.prevent_vul,
    ee_namespace_options.c.severity,
    ee_namespace_options.c.require_signature,
    ee_namespace_options.c.cve_allowlist,
    ee_namespace_options.c.updated_at,
)
_REPO_COUNT = (
    select(func.count())
    .select_from(repositories)
    .where(repositories.c.namespace_id == namespaces.c.id)
    .correlate(namespaces)
    .scalar_subquery()
)
_NAMESPACE = (
    namespaces.c.id,
    namespaces.c.name,
    namespaces.c.is_public,
    namespaces.c.created_at,
    _REPO_COUNT.label("repo_count"),
    *_OPTIONS,
)
_NAMESPACE_FROM = namespaces.outerjoin(ee_namespace_options, ee_namespace_options.c.namespace_id == namespaces.c.id)


def _namespace(r: Sequence[Any]) -> InstanceNamespace:
    options = _options(r[5:10])
    updated = int(r[10]) if r[10] is not None else int(r[3])
    return InstanceNamespace(int(r[0]), str(r[1]), bool(r[2]), int(r[3]), updated, int(r[4]), options)


def save_namespace_options(conn: Connection, namespace_id: int, options: NamespaceOptions) -> None:
    """Create or replace a namespace's options."""
    upsert(
        conn,
        ee_namespace_options,
        {
            "namespace_id": namespace_id,
            "auto_scan": options.auto_scan,
            "prevent_vul": options.prevent_vul,
            "severity": options.severity,
            "require_signature": options.require_signature,
            "cve_allowlist": json.dumps(options.cve_allowlist, sort_keys=True) if options.cve_allowlist else "",
            "updated_at": now_ms(),
        },
        conflict=["namespace_id"],
        update=["auto_scan", "prevent_vul", "severity", "require_signature", "cve_allowlist", "updated_at"],
    )


def set_namespace_public(conn: Connection, namespace_id: int, public: bool) -> None:
    """Make a namespace public (pullable by everyone the instance lets in) or private."""
    conn.execute(update(namespaces).where(namespaces.c.id == namespace_id).values(is_public=public))


def get_namespace(conn: Connection, instance_id: str, name: str) -> InstanceNamespace | None:
    """A namespace of an instance, with its options."""
    row = conn.execute(
        select(*_NAMESPACE)
        .select_from(_NAMESPACE_FROM)
        .where(namespaces.c.instance_id == instance_id, namespaces.c.name == name)
    ).first()
    return _namespace(row) if row else None


def list_namespaces(
    conn: Connection,
    instance_id: str,
    *,
    visible_ids: set[int] | None,
    name: str | None,
    public: bool | None,
    order_column: str,
    descending: bool,
    offset: int,
    limit: int,
) -> Page[InstanceNamespace]:
    """Namespaces of an instance (``visible_ids`` None: all), filtered and ordered."""
    where = [namespaces.c.instance_id == instance_id]
    if visible_ids is not None:
        where.append(namespaces.c.id.in_(sorted(visible_ids)) if visible_ids else namespaces.c.id.is_(None))
    if name:
        where.append(namespaces.c.name.contains(name, autoescape=True))
    if public is not None:
        where.append(namespaces.c.is_public.is_(public))
    total = int(conn.execute(select(func.count()).select_from(namespaces).where(*where)).scalar_one())
    column = {
        "name": bytewise(conn, namespaces.c.name),
        "created_at": namespaces.c.created_at,
        "updated_at": func.coalesce(ee_namespace_options.c.updated_at, namespaces.c.created_at),
        "id": namespaces.c.id,
    }[order_column]
    order = [column.desc() if descending else column.asc(), namespaces.c.id]
    rows = conn.execute(
        select(*_NAMESPACE).select_from(_NAMESPACE_FROM).where(*where).order_by(*order).offset(offset).limit(limit)
    )
    return Page([_namespace(r) for r in rows], total)


def namespace_options(conn: Connection, namespace_id: int) -> NamespaceOptions:
    """A namespace's options (defaults when none were saved)."""
    return _options(conn.execute(select(*_OPTIONS).where(ee_namespace_options.c.namespace_id == namespace_id)).first())


# Statistics ----------------------------------------------------------------------------------------
def statistics(conn: Connection, instance_id: str) -> dict[str, int]:
    """Counters of an instance: storage used (bytes), namespaces, repositories, signature policies."""
    storage = instance_stored(conn, instance_id)  # each namespace's distinct blobs, as the quotas count
    namespace_count = conn.execute(
        select(func.count()).select_from(namespaces).where(namespaces.c.instance_id == instance_id)
    ).scalar_one()
    repository_count = conn.execute(
        select(func.count()).select_from(repositories).where(repositories.c.instance_id == instance_id)
    ).scalar_one()
    policy_count = conn.execute(
        select(func.count()).select_from(ee_sign_policies).where(ee_sign_policies.c.instance_id == instance_id)
    ).scalar_one()
    return {
        "storage_used": int(storage),
        "namespaces": int(namespace_count),
        "repositories": int(repository_count),
        "sign_policies": int(policy_count),
    }
