"""The job runner on a real database: success, retries, failure, stop requests, and recovery of a
job whose worker died (its lease lapsed)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from moorage.domain.jobs import JobStatus
from moorage.jobs.runner import JobContext, JobRunner
from moorage.metadata.database import Database
from moorage.metadata.migrate import upgrade
from moorage.metadata.queries import jobs as q
from tests.conftest import DATABASES


@pytest.fixture(params=DATABASES)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    url = (
        f"sqlite:///{tmp_path / 'jobs.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_database_url")
    )
    database = Database(url)
    upgrade(database)
    yield database
    database.dispose()


def new_job(db: Database, kind: str, params: dict[str, Any] | None = None, max_attempts: int = 3) -> str:
    job_id = f"{kind}-{time.monotonic_ns()}"[:32]
    db.run_write(
        lambda conn: q.create(
            conn,
            job_id=job_id,
            kind=kind,
            params=params or {},
            max_attempts=max_attempts,
            dedupe_key=None,
            domain_id=None,
        )
    )
    return job_id


def job(db: Database, job_id: str) -> Any:
    return db.run_read(lambda conn: q.get(conn, job_id))


class Sent(list[tuple[str, float]]):
    def __call__(self, job_id: str, delay: float) -> None:
        self.append((job_id, delay))


def runner(db: Database, handlers: dict[str, Any], sent: Sent, lease: int = 60) -> JobRunner:
    return JobRunner(db, handlers, resources={}, lease_seconds=lease, send=sent)


def test_success_records_result_and_progress(db: Database) -> None:
    def handler(ctx: JobContext) -> dict[str, Any]:
        ctx.progress(3, 3)
        return {"answer": ctx.job.params["n"] * 2}

    job_id = new_job(db, "double", {"n": 21})
    runner(db, {"double": handler}, Sent()).execute(job_id)
    done = job(db, job_id)
    assert done.status == JobStatus.SUCCEEDED and done.result == {"answer": 42}
    assert done.attempts == 1 and done.finished_at is not None


def test_failures_retry_with_backoff_then_fail(db: Database) -> None:
    calls: list[int] = []

    def flaky(ctx: JobContext) -> None:
        calls.append(ctx.job.attempts)
        raise RuntimeError("boom")

    sent = Sent()
    r = runner(db, {"flaky": flaky}, sent)
    job_id = new_job(db, "flaky", max_attempts=2)
    r.execute(job_id)
    assert job(db, job_id).status == JobStatus.PENDING
    assert sent == [(job_id, 2)]
    r.execute(job_id)  # not before its backoff: nothing happens
    assert calls == [1]
    db.run_write(lambda conn: conn.execute(q.jobs.update().values(not_before=0)))
    r.execute(job_id)
    final = job(db, job_id)
    assert calls == [1, 2] and final.status == JobStatus.FAILED and "boom" in final.error


def test_stop_request_reaches_a_running_handler(db: Database) -> None:
    started = threading.Event()

    def long(ctx: JobContext) -> None:
        started.set()
        for _ in range(400):
            ctx.check_stopped()
            time.sleep(0.01)
        raise AssertionError("never stopped")

    job_id = new_job(db, "long")
    r = runner(db, {"long": long}, Sent(), lease=3)  # heartbeat every second
    worker = threading.Thread(target=r.execute, args=(job_id,))
    worker.start()
    assert started.wait(10)
    db.run_write(lambda conn: q.request_stop(conn, job_id))
    worker.join(10)
    assert job(db, job_id).status == JobStatus.STOPPED


def test_pending_job_stops_at_once(db: Database) -> None:
    job_id = new_job(db, "never")
    assert db.run_write(lambda conn: q.request_stop(conn, job_id)).status == JobStatus.STOPPED
    runner(db, {"never": lambda ctx: None}, Sent()).execute(job_id)
    assert job(db, job_id).status == JobStatus.STOPPED


def test_a_dead_workers_job_is_recovered_and_run_once_more(db: Database) -> None:
    job_id = new_job(db, "count")
    # A worker that claimed the job and died: its lease is already over.
    assert db.run_write(lambda conn: q.claim(conn, job_id, worker="dead:1", lease_ms=-1000)) is not None
    runs: list[str] = []
    sent = Sent()
    r = runner(db, {"count": lambda ctx: runs.append(ctx.job.id) or {"ok": True}}, sent)
    assert r.recover(stale_pending_seconds=600) == 1 and sent == [(job_id, 0)]
    r.execute(job_id)
    r.execute(job_id)  # a duplicate message finds the job done
    done = job(db, job_id)
    assert runs == [job_id] and done.status == JobStatus.SUCCEEDED and done.attempts == 2


def test_a_live_lease_is_not_taken(db: Database) -> None:
    job_id = new_job(db, "busy")
    assert db.run_write(lambda conn: q.claim(conn, job_id, worker="alive:1", lease_ms=60_000)) is not None
    runs: list[str] = []
    r = runner(db, {"busy": lambda ctx: runs.append("x")}, Sent())
    assert r.recover(stale_pending_seconds=600) == 0
    r.execute(job_id)
    assert runs == [] and job(db, job_id).status == JobStatus.RUNNING
