"""Job rows: create (idempotent by key), claim with a lease, heartbeat, finish, recover."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.engine import Connection

from moorage.domain.bounded_json import load_document
from moorage.domain.jobs import Job, JobStatus
from moorage.metadata.database import now_ms
from moorage.metadata.tables import jobs

_COLUMNS = (
    jobs.c.id,
    jobs.c.kind,
    jobs.c.status,
    jobs.c.params,
    jobs.c.result,
    jobs.c.error,
    jobs.c.progress,
    jobs.c.total,
    jobs.c.attempts,
    jobs.c.max_attempts,
    jobs.c.stop_requested,
    jobs.c.domain_id,
    jobs.c.created_at,
    jobs.c.started_at,
    jobs.c.finished_at,
)


def _job(r: Sequence[Any]) -> Job:
    return Job(
        str(r[0]),
        str(r[1]),
        JobStatus(r[2]),
        load_document(r[3] or "{}"),
        load_document(r[4]) if r[4] else None,
        str(r[5]),
        int(r[6]),
        int(r[7]),
        int(r[8]),
        int(r[9]),
        bool(r[10]),
        r[11],
        int(r[12]),
        None if r[13] is None else int(r[13]),
        None if r[14] is None else int(r[14]),
    )


def get(conn: Connection, job_id: str) -> Job | None:
    """A job by id."""
    row = conn.execute(select(*_COLUMNS).where(jobs.c.id == job_id)).first()
    return _job(row) if row else None


def by_dedupe_key(conn: Connection, key: str) -> Job | None:
    """The job created with an idempotency key."""
    row = conn.execute(select(*_COLUMNS).where(jobs.c.dedupe_key == key)).first()
    return _job(row) if row else None


def create(
    conn: Connection,
    *,
    job_id: str,
    kind: str,
    params: dict[str, Any],
    max_attempts: int,
    dedupe_key: str | None,
    domain_id: str | None,
) -> None:
    """A new pending job."""
    conn.execute(
        insert(jobs).values(
            id=job_id,
            kind=kind,
            status=JobStatus.PENDING,
            params=json.dumps(params),
            max_attempts=max_attempts,
            dedupe_key=dedupe_key,
            domain_id=domain_id,
            created_at=now_ms(),
        )
    )


def claim(conn: Connection, job_id: str, *, worker: str, lease_ms: int) -> Job | None:
    """Take a pending job (or a running one whose lease ran out: its worker died) for this worker."""
    now = now_ms()
    result = conn.execute(
        update(jobs)
        .where(
            jobs.c.id == job_id,
            jobs.c.not_before <= now,
            or_(jobs.c.status == JobStatus.PENDING, and_(jobs.c.status == JobStatus.RUNNING, jobs.c.lease_until < now)),
        )
        .values(
            status=JobStatus.RUNNING,
            worker=worker,
            lease_until=now + lease_ms,
            attempts=jobs.c.attempts + 1,
            started_at=now,
        )
    )
    return get(conn, job_id) if result.rowcount else None


def heartbeat(
    conn: Connection, job_id: str, *, worker: str, lease_ms: int, progress: int | None, total: int | None
) -> bool:
    """Extend the lease (and record progress); False when the job is no longer this worker's."""
    values: dict[str, Any] = {"lease_until": now_ms() + lease_ms}
    if progress is not None:
        values["progress"] = progress
    if total is not None:
        values["total"] = total
    result = conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.worker == worker, jobs.c.status == JobStatus.RUNNING)
        .values(**values)
    )
    return bool(result.rowcount)


def stop_requested(conn: Connection, job_id: str) -> bool:
    """Whether someone asked the job to stop."""
    return bool(conn.execute(select(jobs.c.stop_requested).where(jobs.c.id == job_id)).scalar())


def finish(
    conn: Connection, job_id: str, *, worker: str, status: JobStatus, result: dict[str, Any] | None, error: str = ""
) -> bool:
    """Record the outcome, if the job is still this worker's."""
    values: dict[str, Any] = {
        "status": status,
        "result": json.dumps(result) if result is not None else "",
        "error": error[:4000],
        "finished_at": now_ms(),
        "lease_until": 0,
    }
    res = conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.worker == worker, jobs.c.status == JobStatus.RUNNING)
        .values(**values)
    )
    return bool(res.rowcount)


def retry_later(conn: Connection, job_id: str, *, worker: str, delay_ms: int, error: str) -> bool:
    """Put a failed attempt back to pending, not before ``delay_ms`` from now."""
    res = conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.worker == worker, jobs.c.status == JobStatus.RUNNING)
        .values(status=JobStatus.PENDING, lease_until=0, error=error[:4000], not_before=now_ms() + delay_ms)
    )
    return bool(res.rowcount)


def request_stop(conn: Connection, job_id: str) -> Job | None:
    """Ask a job to stop: a pending one stops at once, a running one at its next check."""
    now = now_ms()
    conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.status == JobStatus.PENDING)
        .values(status=JobStatus.STOPPED, stop_requested=True, finished_at=now)
    )
    conn.execute(
        update(jobs).where(jobs.c.id == job_id, jobs.c.status == JobStatus.RUNNING).values(stop_requested=True)
    )
    return get(conn, job_id)


def recoverable(conn: Connection, *, stale_pending_ms: int, limit: int = 500) -> list[str]:
    """Jobs to enqueue again: running with an expired lease (dead worker) or pending for longer than
    ``stale_pending_ms`` past their start time (a lost queue message)."""
    now = now_ms()
    rows = conn.execute(
        select(jobs.c.id)
        .where(
            or_(
                and_(jobs.c.status == JobStatus.RUNNING, jobs.c.lease_until < now),
                and_(
                    jobs.c.status == JobStatus.PENDING,
                    jobs.c.not_before < now - stale_pending_ms,
                    jobs.c.created_at < now - stale_pending_ms,
                ),
            )
        )
        .order_by(jobs.c.created_at)
        .limit(limit)
    )
    return [r[0] for r in rows]


def list_jobs(
    conn: Connection, *, kind: str | None = None, status: JobStatus | None = None, limit: int = 100
) -> list[Job]:
    """Recent jobs, newest first."""
    query = select(*_COLUMNS).order_by(jobs.c.created_at.desc()).limit(limit)
    if kind:
        query = query.where(jobs.c.kind == kind)
    if status:
        query = query.where(jobs.c.status == status)
    return [_job(r) for r in conn.execute(query)]
