"""The automatic advisory database update on a real database (SQLite and PostgreSQL), without a
server: when an update is due, the backoff after failures, exactly one update queued by many
workers at once, what a run records, and the status ``/healthz`` shows."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import update

from moorage.domain.jobs import JobKind, JobStatus
from moorage.metadata.database import Database, now_ms
from moorage.metadata.migrate import upgrade
from moorage.metadata.queries import jobs as jobs_q
from moorage.metadata.queries import security_tasks as state_q
from moorage.metadata.tables import jobs
from moorage.scanner.advisories.errors import SourceFetchError
from moorage.services.security.advisory_updates import (
    STATE_KEY,
    AdvisoryDatabaseStatus,
    UpdatePolicy,
    UpdateState,
    due_reason,
    run_update,
    schedule_update,
)
from moorage.settings import Settings
from tests.conftest import DATABASES
from tests.scanner.advisories.feedwriters import alpine_secdb_json, osv_record, osv_zip
from tests.support.feed_server import feed_server

HOUR = 3_600_000
POLICY = UpdatePolicy(("osv:http://127.0.0.1:9/x.zip",), refresh_ms=24 * HOUR, retry_ms=300_000, retry_max_ms=6 * HOUR)


@pytest.fixture(params=DATABASES)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'm.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_database_url")
    database = Database(url, pool_size=12)
    upgrade(database)
    yield database
    database.dispose()


def test_when_an_update_is_due() -> None:
    now = 1_000 * HOUR
    fresh, old = now - HOUR, now - 25 * HOUR
    idle = UpdateState()
    assert due_reason(idle, now=now, built_at_ms=None, policy=POLICY, job_unfinished=False) == "no advisory database"
    assert due_reason(idle, now=now, built_at_ms=None, policy=replace(POLICY, sources=()), job_unfinished=False) is None
    assert due_reason(idle, now=now, built_at_ms=None, policy=POLICY, job_unfinished=True) is None, "one at a time"
    assert due_reason(idle, now=now, built_at_ms=fresh, policy=POLICY, job_unfinished=False) is None
    assert (
        due_reason(idle, now=now, built_at_ms=old, policy=POLICY, job_unfinished=False)
        == "older than the refresh interval"
    )
    never_refresh = replace(POLICY, refresh_ms=0)
    assert due_reason(idle, now=now, built_at_ms=old, policy=never_refresh, job_unfinished=False) is None

    failed = UpdateState(failures=2, finished_at=now - 1_000, next_attempt_at=now + 1_000)
    assert due_reason(failed, now=now, built_at_ms=None, policy=POLICY, job_unfinished=False) is None, "backing off"
    later = now + 2_000
    assert (
        due_reason(failed, now=later, built_at_ms=None, policy=POLICY, job_unfinished=False) == "no advisory database"
    )
    assert (
        due_reason(failed, now=later, built_at_ms=fresh, policy=POLICY, job_unfinished=False)
        == "retry: the last build failed or left sources out"
    )
    # A database someone installed after the failed run (``moorage vulndb update``) ends the streak.
    assert due_reason(failed, now=later, built_at_ms=now, policy=POLICY, job_unfinished=False) is None

    delays = [POLICY.retry_delay_ms(n) // 1000 for n in range(1, 10)]
    assert delays == [300, 600, 1200, 2400, 4800, 9600, 19200, 21600, 21600]
    assert POLICY.retry_delay_ms(10_000) == 6 * HOUR


def test_state_round_trip_and_damage() -> None:
    state = UpdateState(
        job_id="j",
        queued_at=1,
        started_at=2,
        finished_at=3,
        succeeded_at=4,
        failures=5,
        error="HTTP 500",
        next_attempt_at=6,
    )
    assert UpdateState.from_text(state.to_text()) == state
    for damaged in (None, "", "not json", "[1]", '{"failures": "x", "job_id": 7, "started_at": true}'):
        assert UpdateState.from_text(damaged) == UpdateState()


def test_settings_read_sources_as_a_list_or_a_string(monkeypatch: pytest.MonkeyPatch) -> None:
    from moorage.scanner.advisories.sources import parse_source

    monkeypatch.delenv("MOORAGE_SCANNER__VULNDB_SOURCES")
    defaults = Settings().scanner.vulndb_sources
    kinds = {parse_source(text).kind for text in defaults}  # every default is a valid source
    assert kinds == {"osv", "debian", "alpine", "redhat", "nvd"}
    assert all(parse_source(text).is_url for text in defaults)
    for value, expected in (
        ("", []),
        ("[]", []),
        ('["osv:/a"]', ["osv:/a"]),
        ("osv:/a, alpine:https://x/v3.19/main.json", ["osv:/a", "alpine:https://x/v3.19/main.json"]),
    ):
        monkeypatch.setenv("MOORAGE_SCANNER__VULNDB_SOURCES", value)
        assert Settings().scanner.vulndb_sources == expected
    monkeypatch.setenv("MOORAGE_SCANNER__VULNDB_SOURCES", "/no/kind/given")
    with pytest.raises(ValueError, match="KIND:URL_OR_PATH"):
        Settings()


def test_many_workers_queue_exactly_one_update(db: Database, tmp_path: Path) -> None:
    vulndb = tmp_path / "vulndb.sqlite"
    workers = 8
    barrier = threading.Barrier(workers)
    queued: list[str | None] = []

    def worker() -> None:
        barrier.wait()
        queued.append(schedule_update(db, POLICY, vulndb))

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    winners = [job_id for job_id in queued if job_id]
    assert len(queued) == workers and len(winners) == 1
    assert [j.id for j in db.run_read(lambda conn: jobs_q.list_jobs(conn, kind=JobKind.VULNDB_UPDATE))] == winners
    assert schedule_update(db, POLICY, vulndb) is None, "the queued job is not finished"

    (job_id,) = winners
    db.run_write(
        lambda conn: conn.execute(
            update(jobs).where(jobs.c.id == job_id).values(status=JobStatus.FAILED, finished_at=now_ms())
        )
    )
    backing_off = UpdateState(job_id=job_id, failures=1, finished_at=now_ms(), next_attempt_at=now_ms() + HOUR)
    db.run_write(lambda conn: state_q.set_state(conn, STATE_KEY, backing_off.to_text()))
    assert schedule_update(db, POLICY, vulndb) is None, "backing off after the failure"
    due = replace(backing_off, next_attempt_at=now_ms() - 1)
    db.run_write(lambda conn: state_q.set_state(conn, STATE_KEY, due.to_text()))
    again = schedule_update(db, POLICY, vulndb)
    assert again and again != job_id


def _status(db: Database, vulndb: Path, policy: UpdatePolicy) -> dict[str, object]:
    return asyncio.run(AdvisoryDatabaseStatus(db, vulndb, policy).status()).to_json()


def test_a_run_records_failures_then_success(db: Database, tmp_path: Path) -> None:
    vulndb = tmp_path / "vulndb.sqlite"
    files = {
        "/osv/PyPI/all.zip": osv_zip(
            [osv_record("GHSA-run1-0001-0001", package="requests", events=[{"introduced": "0"}, {"fixed": "2.31.0"}])]
        ),
        "/secdb/v3.19/main.json": alpine_secdb_json("v3.19", {"curl": {"8.5.0-r0": ["CVE-2023-46218"]}}),
    }
    with feed_server(files) as server:
        sources = (f"osv:{server.url('/osv/PyPI/all.zip')}", f"alpine:{server.url('/secdb/v3.19/main.json')}")
        policy = UpdatePolicy(sources, refresh_ms=24 * HOUR, retry_ms=60_000, retry_max_ms=HOUR)
        status = _status(db, vulndb, policy)
        assert status["status"] == "missing" and status["built_at"] is None
        server.statuses.update({"/osv/PyPI/all.zip": 500, "/secdb/v3.19/main.json": 500})

        job_id = schedule_update(db, policy, vulndb)
        assert job_id and _status(db, vulndb, policy)["status"] == "updating"
        with pytest.raises(SourceFetchError, match="all 2 sources failed"):
            run_update(db, policy, vulndb)
        db.run_write(
            lambda conn: conn.execute(
                update(jobs).where(jobs.c.id == job_id).values(status=JobStatus.FAILED, finished_at=now_ms())
            )
        )
        failed = UpdateState.from_text(db.run_read(lambda conn: state_q.state(conn, STATE_KEY)))
        assert failed.failures == 1 and "HTTP 500" in failed.error
        assert failed.next_attempt_at - failed.finished_at == 60_000
        status = _status(db, vulndb, policy)
        update_status = status["automatic_update"]
        assert status["status"] == "missing" and isinstance(update_status, dict)
        assert update_status["consecutive_failures"] == 1 and "HTTP 500" in update_status["last_error"]
        assert update_status["next_attempt_at"] is not None and update_status["in_progress"] is False
        assert schedule_update(db, policy, vulndb) is None, "not before the backoff"

        del server.statuses["/osv/PyPI/all.zip"]  # Alpine still failing: a partial build
        result = run_update(db, policy, vulndb)
        assert result["left_out"] == [f"alpine:{server.url('/secdb/v3.19/main.json')}"]
        partial = UpdateState.from_text(db.run_read(lambda conn: state_q.state(conn, STATE_KEY)))
        assert partial.failures == 2 and "HTTP 500" in partial.error and partial.succeeded_at > 0
        assert partial.next_attempt_at - partial.finished_at == 120_000, "retried later, doubling"

        del server.statuses["/secdb/v3.19/main.json"]
        result = run_update(db, policy, vulndb)
        assert result["left_out"] == []
        done = UpdateState.from_text(db.run_read(lambda conn: state_q.state(conn, STATE_KEY)))
        assert (done.failures, done.error, done.next_attempt_at) == (0, "", 0)
    status = _status(db, vulndb, policy)
    assert status["status"] == "ready" and status["records"] == 2
    assert status["ecosystems"] == {"alpine:3.19": 1, "pypi": 1}
    assert isinstance(status["age_seconds"], int) and 0 <= status["age_seconds"] < 120
    assert [(s["kind"], s["records"], s["error"]) for s in status["sources"]] == [("osv", 1, ""), ("alpine", 1, "")]
