"""Image synchronisation rules and sync jobs (shared edition)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection

from moorage.domain.image_sync import SyncJob, SyncRule, SyncStatus
from moorage.metadata.database import now_ms
from moorage.metadata.tables import image_sync_jobs as jobs
from moorage.metadata.tables import image_sync_rules as rules
from moorage.metadata.tables import repositories
from moorage.metadata.upsert import insert_ignore


def _names(full_name: str) -> tuple[str, str]:
    namespace, _, name = full_name.partition("/")
    return namespace, name


def _rule(row: Sequence[Any]) -> SyncRule:
    namespace, name = _names(row[-1])
    return SyncRule(
        id=int(row[0]),
        repository_id=int(row[1]),
        domain_id=row[2],
        domain_name=row[3],
        namespace=namespace,
        repo_name=name,
        remote_region_id=row[4],
        remote_namespace=row[5],
        sync_auto=bool(row[6]),
        override=bool(row[7]),
        created_at=int(row[8]),
        updated_at=int(row[9]),
    )


_RULE_COLUMNS = (
    rules.c.id,
    rules.c.repository_id,
    rules.c.domain_id,
    rules.c.domain_name,
    rules.c.remote_region_id,
    rules.c.remote_namespace,
    rules.c.sync_auto,
    rules.c.override,
    rules.c.created_at,
    rules.c.updated_at,
    repositories.c.full_name,
)


def create_rule(
    conn: Connection,
    *,
    repository_id: int,
    domain_id: str,
    domain_name: str,
    remote_region_id: str,
    remote_namespace: str,
    sync_auto: bool,
    override: bool,
) -> bool:
    """Add a rule; False when the repository has one for this peer and namespace already."""
    now = now_ms()
    return bool(
        insert_ignore(
            conn,
            rules,
            {
                "repository_id": repository_id,
                "domain_id": domain_id,
                "domain_name": domain_name,
                "remote_region_id": remote_region_id,
                "remote_namespace": remote_namespace,
                "sync_auto": sync_auto,
                "override": override,
                "created_at": now,
                "updated_at": now,
            },
            conflict=["repository_id", "remote_region_id", "remote_namespace"],
        )
    )


def delete_rule(conn: Connection, repository_id: int, remote_region_id: str, remote_namespace: str) -> bool:
    """Remove a rule; False when there was none."""
    result = conn.execute(
        delete(rules).where(
            rules.c.repository_id == repository_id,
            rules.c.remote_region_id == remote_region_id,
            rules.c.remote_namespace == remote_namespace,
        )
    )
    return bool(result.rowcount)


def rules_of(conn: Connection, repository_id: int, *, automatic_only: bool = False) -> list[SyncRule]:
    """A repository's rules, oldest first."""
    query = (
        select(*_RULE_COLUMNS)
        .join(repositories, repositories.c.id == rules.c.repository_id)
        .where(rules.c.repository_id == repository_id)
    )
    if automatic_only:
        query = query.where(rules.c.sync_auto.is_(True))
    return [_rule(row) for row in conn.execute(query.order_by(rules.c.id))]


_JOB_COLUMNS = (
    jobs.c.id,
    jobs.c.repository_id,
    jobs.c.domain_id,
    jobs.c.domain_name,
    jobs.c.tag,
    jobs.c.remote_region_id,
    jobs.c.remote_namespace,
    jobs.c.override,
    jobs.c.status,
    jobs.c.operator_id,
    jobs.c.operator_name,
    jobs.c.detail,
    jobs.c.job_id,
    jobs.c.created_at,
    jobs.c.updated_at,
    repositories.c.full_name,
)


def _job(row: Sequence[Any]) -> SyncJob:
    namespace, name = _names(row[-1])
    return SyncJob(
        id=int(row[0]),
        repository_id=int(row[1]),
        domain_id=row[2],
        domain_name=row[3],
        namespace=namespace,
        repo_name=name,
        tag=row[4],
        remote_region_id=row[5],
        remote_namespace=row[6],
        override=bool(row[7]),
        status=SyncStatus(row[8]),
        operator_id=row[9],
        operator_name=row[10],
        detail=row[11],
        job_id=row[12],
        created_at=int(row[13]),
        updated_at=int(row[14]),
    )


def create_job(
    conn: Connection,
    *,
    repository_id: int,
    domain_id: str,
    domain_name: str,
    tag: str,
    remote_region_id: str,
    remote_namespace: str,
    override: bool,
    operator_id: str,
    operator_name: str,
    job_id: str,
    event_id: int | None = None,
) -> int | None:
    """A new waiting sync job's id; None when the event made it already (a dispatch run twice)."""
    now = now_ms()
    values = {
        "repository_id": repository_id,
        "domain_id": domain_id,
        "domain_name": domain_name[:255],
        "tag": tag,
        "remote_region_id": remote_region_id,
        "remote_namespace": remote_namespace,
        "override": override,
        "status": str(SyncStatus.WAITING),
        "operator_id": operator_id[:64],
        "operator_name": operator_name[:255],
        "job_id": job_id,
        "event_id": event_id,
        "created_at": now,
        "updated_at": now,
    }
    if event_id is None:
        return int(conn.execute(jobs.insert().values(values).returning(jobs.c.id)).scalar_one())
    if not insert_ignore(
        conn, jobs, values, conflict=["event_id", "repository_id", "remote_region_id", "remote_namespace"]
    ):
        return None
    return int(
        conn.execute(
            select(jobs.c.id).where(
                jobs.c.event_id == event_id,
                jobs.c.repository_id == repository_id,
                jobs.c.remote_region_id == remote_region_id,
                jobs.c.remote_namespace == remote_namespace,
            )
        ).scalar_one()
    )


def get_job(conn: Connection, sync_job_id: int) -> SyncJob | None:
    """One sync job."""
    row = conn.execute(
        select(*_JOB_COLUMNS)
        .join(repositories, repositories.c.id == jobs.c.repository_id)
        .where(jobs.c.id == sync_job_id)
    ).first()
    return _job(row) if row is not None else None


def set_status(conn: Connection, sync_job_id: int, status: SyncStatus, detail: str) -> None:
    """Record where a sync job is and what its last attempt found."""
    conn.execute(
        update(jobs)
        .where(jobs.c.id == sync_job_id)
        .values(status=str(status), detail=detail[:2000], updated_at=now_ms())
    )


def jobs_of(
    conn: Connection, repository_id: int, *, limit: int, offset: int, descending: bool
) -> tuple[list[SyncJob], int]:
    """One page of a repository's sync jobs (by id) and how many it has."""
    order = jobs.c.id.desc() if descending else jobs.c.id.asc()
    rows = conn.execute(
        select(*_JOB_COLUMNS)
        .join(repositories, repositories.c.id == jobs.c.repository_id)
        .where(jobs.c.repository_id == repository_id)
        .order_by(order)
        .limit(limit)
        .offset(offset)
    )
    total = conn.execute(select(func.count()).select_from(jobs).where(jobs.c.repository_id == repository_id)).scalar()
    return [_job(row) for row in rows], int(total or 0)
