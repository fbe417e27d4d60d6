"""Garbage collection's runs, their logs and each Enterprise Edition instance's schedule (the
collector's SQL, the fence and the writers' marks are in ``gc.py``)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, exists, func, insert, not_, or_, select, update
from sqlalchemy.engine import Connection

from moorage.domain.gc import (
    GcFigures,
    GcLogLine,
    GcParameters,
    GcRun,
    GcRunStatus,
    GcSchedule,
    GcTrigger,
    ScheduleType,
)
from moorage.domain.jobs import JobStatus
from moorage.metadata.database import now_ms
from moorage.metadata.tables import (
    gc_run_logs,
    gc_runs,
    gc_schedules,
    jobs,
)
from moorage.metadata.upsert import insert_ignore, upsert

# Runs, logs, schedules ----------------------------------------------------------------------------------

_RUN_COLUMNS = (
    gc_runs.c.id,
    gc_runs.c.instance_id,
    gc_runs.c.trigger,
    gc_runs.c.status,
    gc_runs.c.delete_untagged,
    gc_runs.c.workers,
    gc_runs.c.dry_run,
    gc_runs.c.figures,
    gc_runs.c.job_id,
    gc_runs.c.stop_requested,
    gc_runs.c.created_at,
    gc_runs.c.updated_at,
    gc_runs.c.started_at,
    gc_runs.c.finished_at,
)


def _run(r: Sequence[Any]) -> GcRun:
    figures = json.loads(str(r[7]) or "{}")
    return GcRun(
        id=int(r[0]),
        instance_id=None if r[1] is None else str(r[1]),
        trigger=GcTrigger(str(r[2])),
        status=GcRunStatus(str(r[3])),
        parameters=GcParameters(delete_untagged=bool(r[4]), workers=int(r[5]), dry_run=bool(r[6])),
        figures=GcFigures.from_json(figures if isinstance(figures, dict) else {}),
        job_id=None if r[8] is None else str(r[8]),
        stop_requested=bool(r[9]),
        created_at=int(r[10]),
        updated_at=int(r[11]),
        started_at=None if r[12] is None else int(r[12]),
        finished_at=None if r[13] is None else int(r[13]),
    )


def create_run(
    conn: Connection,
    *,
    instance_id: str | None,
    trigger: GcTrigger,
    parameters: GcParameters,
    dedupe_key: str | None = None,
) -> int | None:
    """A new ``Pending`` run; None when ``dedupe_key`` names one made before."""
    now = now_ms()
    values = {
        "instance_id": instance_id,
        "trigger": trigger.value,
        "status": GcRunStatus.PENDING.value,
        "delete_untagged": parameters.delete_untagged,
        "workers": parameters.workers,
        "dry_run": parameters.dry_run,
        "figures": "{}",
        "dedupe_key": dedupe_key,
        "created_at": now,
        "updated_at": now,
    }
    if dedupe_key is None:
        return int(conn.execute(insert(gc_runs).values(values).returning(gc_runs.c.id)).scalar_one())
    if not insert_ignore(conn, gc_runs, values, conflict=["dedupe_key"]):
        return None
    return int(conn.execute(select(gc_runs.c.id).where(gc_runs.c.dedupe_key == dedupe_key)).scalar_one())


def set_run_job(conn: Connection, run_id: int, job_id: str) -> None:
    """Record the job that runs a run."""
    conn.execute(update(gc_runs).where(gc_runs.c.id == run_id).values(job_id=job_id))


def get_run(conn: Connection, run_id: int, *, instance_id: str | None = None, any_scope: bool = False) -> GcRun | None:
    """A run of the instance (``instance_id`` None: a run of the whole registry; ``any_scope``: any)."""
    query = select(*_RUN_COLUMNS).where(gc_runs.c.id == run_id)
    if not any_scope:
        query = query.where(
            gc_runs.c.instance_id == instance_id if instance_id is not None else gc_runs.c.instance_id.is_(None)
        )
    row = conn.execute(query).first()
    return _run(row) if row else None


def list_runs(
    conn: Connection, *, instance_id: str | None, status: GcRunStatus | None, before: int | None, limit: int
) -> list[GcRun]:
    """Runs of a scope, newest first, with ids below ``before``."""
    query = select(*_RUN_COLUMNS).where(
        gc_runs.c.instance_id == instance_id if instance_id is not None else gc_runs.c.instance_id.is_(None)
    )
    if status is not None:
        query = query.where(gc_runs.c.status == status.value)
    if before is not None:
        query = query.where(gc_runs.c.id < before)
    return [_run(r) for r in conn.execute(query.order_by(gc_runs.c.id.desc()).limit(limit))]


def active_run(conn: Connection, *, instance_id: str | None) -> int | None:
    """A ``Pending`` or ``Running`` run of the scope, if any."""
    scope = gc_runs.c.instance_id == instance_id if instance_id is not None else gc_runs.c.instance_id.is_(None)
    return conn.execute(
        select(gc_runs.c.id)
        .where(scope, gc_runs.c.status.in_([GcRunStatus.PENDING.value, GcRunStatus.RUNNING.value]))
        .limit(1)
    ).scalar()


def begin_run(conn: Connection, run_id: int) -> GcRun | None:
    """Mark a run ``Running`` (again, when its job is run anew after a worker died); None when it is
    finished or gone."""
    now = now_ms()
    conn.execute(
        update(gc_runs)
        .where(gc_runs.c.id == run_id, gc_runs.c.status.in_([GcRunStatus.PENDING.value, GcRunStatus.RUNNING.value]))
        .values(status=GcRunStatus.RUNNING.value, started_at=func.coalesce(gc_runs.c.started_at, now), updated_at=now)
    )
    run = get_run(conn, run_id, any_scope=True)
    return run if run is not None and run.status is GcRunStatus.RUNNING else None


def save_progress(conn: Connection, run_id: int, figures: GcFigures) -> bool:
    """Record the figures so far; whether a stop was asked for."""
    conn.execute(
        update(gc_runs).where(gc_runs.c.id == run_id).values(figures=json.dumps(figures.to_json()), updated_at=now_ms())
    )
    return bool(conn.execute(select(gc_runs.c.stop_requested).where(gc_runs.c.id == run_id)).scalar())


def stop_requested(conn: Connection, run_id: int) -> bool:
    """Whether someone asked the run to stop."""
    return bool(conn.execute(select(gc_runs.c.stop_requested).where(gc_runs.c.id == run_id)).scalar())


def finish_run(conn: Connection, run_id: int, status: GcRunStatus, figures: GcFigures) -> None:
    """Record a run's outcome."""
    now = now_ms()
    conn.execute(
        update(gc_runs)
        .where(gc_runs.c.id == run_id)
        .values(status=status.value, figures=json.dumps(figures.to_json()), updated_at=now, finished_at=now)
    )


def request_stop(conn: Connection, run_id: int) -> GcRun | None:
    """Ask a run to stop: a pending one stops at once, a running one at its next batch."""
    now = now_ms()
    conn.execute(
        update(gc_runs)
        .where(gc_runs.c.id == run_id, gc_runs.c.status == GcRunStatus.PENDING.value)
        .values(status=GcRunStatus.STOPPED.value, stop_requested=True, updated_at=now, finished_at=now)
    )
    conn.execute(
        update(gc_runs)
        .where(gc_runs.c.id == run_id, gc_runs.c.status == GcRunStatus.RUNNING.value)
        .values(stop_requested=True, updated_at=now)
    )
    return get_run(conn, run_id, any_scope=True)


def abandon_stale_runs(
    conn: Connection, *, idle_before: int, instance_id: str | None = None, any_scope: bool = True
) -> int:
    """Runs left ``Pending`` or ``Running`` that will never go on, marked ``Error``: a command-line
    run (no job) that saved nothing since ``idle_before`` (its process was killed), and a run whose
    job has ended or is gone (its last attempt failed before the run could record its end; a job
    that is pending or running, its worker dead or not, runs it again). ``any_scope`` False: only
    runs of ``instance_id``'s scope (None: the whole registry's)."""
    now = now_ms()
    live_job = exists().where(
        jobs.c.id == gc_runs.c.job_id, jobs.c.status.in_([JobStatus.PENDING.value, JobStatus.RUNNING.value])
    )
    query = update(gc_runs).where(
        gc_runs.c.status.in_([GcRunStatus.PENDING.value, GcRunStatus.RUNNING.value]),
        or_(
            and_(gc_runs.c.job_id.is_(None), gc_runs.c.updated_at < idle_before),
            and_(gc_runs.c.job_id.is_not(None), not_(live_job)),
        ),
    )
    if not any_scope:
        query = query.where(
            gc_runs.c.instance_id == instance_id if instance_id is not None else gc_runs.c.instance_id.is_(None)
        )
    result = conn.execute(query.values(status=GcRunStatus.ERROR.value, updated_at=now, finished_at=now))
    return int(result.rowcount or 0)


def append_log(conn: Connection, run_id: int, lines: Iterable[GcLogLine], *, max_lines: int) -> None:
    """Add lines to a run's log, up to ``max_lines`` in all; the last line that fits says the rest
    was left out (``append_summary`` still adds the run's summary)."""
    pending = list(lines)
    count = int(conn.execute(select(gc_runs.c.log_lines).where(gc_runs.c.id == run_id)).scalar() or 0)
    room = max_lines - count
    if not pending or room <= 0:
        return
    kept = pending[:room]
    if len(pending) > room:
        full = f"the log is full ({max_lines} lines): the rest is left out"
        kept = [*pending[: room - 1], GcLogLine(pending[room - 1].at, "warning", full)]
    conn.execute(
        insert(gc_run_logs),
        [
            {"run_id": run_id, "seq": count + i, "at": line.at, "level": line.level, "message": line.message}
            for i, line in enumerate(kept)
        ],
    )
    conn.execute(update(gc_runs).where(gc_runs.c.id == run_id).values(log_lines=count + len(kept)))


def append_summary(conn: Connection, run_id: int, line: GcLogLine) -> None:
    """The run's last line, written even when the log is full."""
    count = int(conn.execute(select(gc_runs.c.log_lines).where(gc_runs.c.id == run_id)).scalar() or 0)
    conn.execute(
        insert(gc_run_logs).values(run_id=run_id, seq=count, at=line.at, level=line.level, message=line.message)
    )
    conn.execute(update(gc_runs).where(gc_runs.c.id == run_id).values(log_lines=count + 1))


def run_log(conn: Connection, run_id: int) -> list[GcLogLine]:
    """A run's log, in order."""
    rows = conn.execute(
        select(gc_run_logs.c.at, gc_run_logs.c.level, gc_run_logs.c.message)
        .where(gc_run_logs.c.run_id == run_id)
        .order_by(gc_run_logs.c.seq)
    )
    return [GcLogLine(int(r[0]), r[1], r[2]) for r in rows]


def get_schedule(conn: Connection, instance_id: str) -> GcSchedule | None:
    """An instance's schedule, if one was ever set."""
    row = conn.execute(
        select(
            gc_schedules.c.type,
            gc_schedules.c.cron,
            gc_schedules.c.delete_untagged,
            gc_schedules.c.workers,
            gc_schedules.c.dry_run,
            gc_schedules.c.updated_at,
        ).where(gc_schedules.c.instance_id == instance_id)
    ).first()
    if row is None:
        return None
    return GcSchedule(ScheduleType(row[0]), row[1], GcParameters(bool(row[2]), int(row[3]), bool(row[4])), int(row[5]))


def put_schedule(conn: Connection, instance_id: str, schedule: GcSchedule) -> None:
    """Set an instance's schedule."""
    upsert(
        conn,
        gc_schedules,
        {
            "instance_id": instance_id,
            "type": schedule.type.value,
            "cron": schedule.cron,
            "delete_untagged": schedule.parameters.delete_untagged,
            "workers": schedule.parameters.workers,
            "dry_run": schedule.parameters.dry_run,
            "updated_at": now_ms(),
        },
        conflict=["instance_id"],
        update=["type", "cron", "delete_untagged", "workers", "dry_run", "updated_at"],
    )


def custom_schedules(conn: Connection) -> list[tuple[str, GcSchedule]]:
    """Every instance's schedule of type ``Custom``."""
    rows = conn.execute(
        select(
            gc_schedules.c.instance_id,
            gc_schedules.c.cron,
            gc_schedules.c.delete_untagged,
            gc_schedules.c.workers,
            gc_schedules.c.dry_run,
            gc_schedules.c.updated_at,
        ).where(gc_schedules.c.type == ScheduleType.CUSTOM.value)
    )
    return [
        (r[0], GcSchedule(ScheduleType.CUSTOM, r[1], GcParameters(bool(r[2]), int(r[3]), bool(r[4])), int(r[5])))
        for r in rows
    ]
