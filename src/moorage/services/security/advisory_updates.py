"""Keeping the advisory database current without anyone's help.

A worker builds the database (``Settings.vulndb_path``) from the configured sources
(``MOORAGE_SCANNER__VULNDB_SOURCES``) as a job, in the background: when there is none (a fresh
install), again once it is older than ``VULNDB_REFRESH_SECONDS``, and after a failed or partial
build once a wait has passed that doubles with each failure in a row (``VULNDB_RETRY_SECONDS`` up to
``VULNDB_RETRY_MAX_SECONDS``). A failure is recorded and logged by the job runner (one line), never
retried in a loop.

One update at a time, whatever the number of workers: the state row ``advisory_db_update``
(``security_state``) names the last update job. A worker queues a new one only when that job has
finished, and only by changing the row from the very value it read (compare-and-set) in the same
transaction that creates the job row, so of several workers passing at once exactly one queues it;
the job then runs under the job queue's lease.

When a build succeeds a re-match is queued at once, so images scanned before the first database
arrived (their vulnerability part was skipped) get their vulnerabilities without a new push.

``AdvisoryDatabaseStatus`` answers ``/healthz``: the database's age and coverage come from its small
metadata tables, read again only when the file changes, and the update's state from one row.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio.to_thread
from sqlalchemy.engine import Connection

from moorage.domain.clock import iso_to_ms
from moorage.domain.jobs import JobKind
from moorage.metadata.database import Database, now_ms
from moorage.metadata.queries import jobs as jobs_q
from moorage.metadata.queries import security_tasks as state_q
from moorage.scanner.advisories.builder import update_database
from moorage.scanner.advisories.errors import StoreError
from moorage.scanner.advisories.sources import SourceSpec, parse_source
from moorage.scanner.advisories.store import AdvisoryStore, SourceSummary
from moorage.services.security import vulndb_share
from moorage.services.security.schedule import queue_rematch_if_needed
from moorage.settings import Settings

log = logging.getLogger(__name__)

STATE_KEY = "advisory_db_update"
MAX_ERROR = 2000


@dataclass(frozen=True, slots=True)
class UpdatePolicy:
    """What the settings say about automatic updates, in milliseconds."""

    sources: tuple[str, ...]
    """``KIND:URL_OR_PATH`` sources; empty: no automatic update."""
    refresh_ms: int
    """Age at which the database is built again; 0: only when there is none."""
    retry_ms: int
    """Wait after the first failure in a row."""
    retry_max_ms: int
    """Longest wait between tries."""

    @classmethod
    def of(cls, settings: Settings) -> UpdatePolicy:
        """The policy of ``settings``."""
        scanner = settings.scanner
        return cls(
            tuple(scanner.vulndb_sources),
            scanner.vulndb_refresh_seconds * 1000,
            scanner.vulndb_retry_seconds * 1000,
            scanner.vulndb_retry_max_seconds * 1000,
        )

    def retry_delay_ms(self, failures: int) -> int:
        """The wait after ``failures`` failed builds in a row (doubling, capped)."""
        doubled: int = self.retry_ms << min(max(failures - 1, 0), 40)
        return min(doubled, self.retry_max_ms)


@dataclass(frozen=True, slots=True)
class UpdateState:
    """The automatic update's shared state (epoch milliseconds; 0: never)."""

    job_id: str = ""
    """The last update job queued."""
    queued_at: int = 0
    started_at: int = 0
    """When the last run began."""
    finished_at: int = 0
    """When the last run ended (either way)."""
    succeeded_at: int = 0
    """When a run last installed a database."""
    failures: int = 0
    """Failed (or partial: some source left out) runs in a row."""
    error: str = ""
    """Why the last run failed, or which sources it left out."""
    next_attempt_at: int = 0
    """No new run before this (the backoff after failures)."""

    def to_text(self) -> str:
        """The stored form."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_text(cls, text: str | None) -> UpdateState:
        """Read the stored form (unknown or missing keys ignored: never recorded is the default)."""
        if not text:
            return cls()
        try:
            body = json.loads(text)
        except ValueError:
            return cls()
        if not isinstance(body, dict):
            return cls()
        values: dict[str, Any] = {}
        for item in fields(cls):
            value = body.get(item.name)
            wanted = int if item.type == "int" else str
            if isinstance(value, wanted) and not isinstance(value, bool):
                values[item.name] = value
        return cls(**values)


def ms_to_iso(ms: int) -> str | None:
    """ISO 8601 (UTC, seconds) of epoch milliseconds; None for 0 (never)."""
    if not ms:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def due_reason(
    state: UpdateState, *, now: int, built_at_ms: int | None, policy: UpdatePolicy, job_unfinished: bool
) -> str | None:
    """Why an update should be queued now, or None. ``built_at_ms``: the installed database's build
    time (None: there is none, or it cannot be read)."""
    if not policy.sources or job_unfinished or now < state.next_attempt_at:
        return None
    if built_at_ms is None:
        return "no advisory database"
    # A database installed after the last failed run (by `moorage vulndb`) ends the failure streak.
    if state.failures and built_at_ms <= state.finished_at:
        return "retry: the last build failed or left sources out"
    if policy.refresh_ms and now >= built_at_ms + policy.refresh_ms:
        return "older than the refresh interval"
    return None


def database_built_at_ms(path: Path) -> int | None:
    """The build time of the database at ``path``; None when there is none or it cannot be read
    (a rebuild replaces a damaged file or one of another schema)."""
    if not path.is_file():
        return None
    try:
        with AdvisoryStore(path) as store:
            return iso_to_ms(store.built_at)
    except StoreError:
        return None


def _job_unfinished(conn: Connection, job_id: str) -> bool:
    if not job_id:
        return False
    job = jobs_q.get(conn, job_id)
    return job is not None and not job.status.finished


def schedule_update(db: Database, policy: UpdatePolicy, vulndb_path: Path, *, shared: bool = False) -> str | None:
    """Queue an update job when one is due and none is queued or running; its id, or None. Any
    number of workers may call this at once: one of them queues the job (see the module). With the
    database ``shared`` through storage, its age is the published one's (a node that has not fetched
    it yet must not queue a rebuild)."""
    if not policy.sources:
        return None
    shared_copy = vulndb_share.published(db) if shared else None
    built_at = iso_to_ms(shared_copy.built_at) if shared_copy else database_built_at_ms(vulndb_path)
    now = now_ms()

    def work(conn: Connection) -> str | None:
        text = state_q.state(conn, STATE_KEY)
        state = UpdateState.from_text(text)
        reason = due_reason(
            state, now=now, built_at_ms=built_at, policy=policy, job_unfinished=_job_unfinished(conn, state.job_id)
        )
        if reason is None:
            return None
        job_id = secrets.token_hex(16)
        queued = replace(state, job_id=job_id, queued_at=now)
        if not state_q.compare_and_set_state(conn, STATE_KEY, text, queued.to_text()):
            return None  # another worker queued one first
        jobs_q.create(
            conn,
            job_id=job_id,
            kind=JobKind.VULNDB_UPDATE,
            params={"reason": reason},
            max_attempts=1,
            dedupe_key=f"vulndb-update:{job_id}",
            domain_id=None,
        )
        return job_id

    job_id = db.run_write(work)
    if job_id:
        log.info("advisory database update queued (job %s)", job_id)
    return job_id


def _change_state(db: Database, change: Callable[[UpdateState], UpdateState]) -> None:
    def work(conn: Connection) -> None:
        state_q.set_state(conn, STATE_KEY, change(UpdateState.from_text(state_q.state(conn, STATE_KEY))).to_text())

    db.run_write(work)


class JobBuildProgress:
    """A build's progress as a job's (sources done of all) with its stop checks: a job asked to stop
    stops within a download chunk or 500 records."""

    def __init__(self, report: Callable[[int, int | None], None], check_stopped: Callable[[], None]) -> None:
        self._report = report
        self._check_stopped = check_stopped

    def source_started(self, spec: SourceSpec, position: int, count: int) -> None:
        """See ``BuildProgress``."""
        self._check_stopped()
        self._report(position - 1, count)

    def downloaded(self, received: int, total: int | None) -> None:
        """See ``BuildProgress``."""
        self._check_stopped()

    def records_read(self, count: int) -> None:
        """See ``BuildProgress``."""
        self._check_stopped()

    def source_finished(self, summary: SourceSummary) -> None:
        """See ``BuildProgress``."""


def run_update(
    db: Database,
    policy: UpdatePolicy,
    vulndb_path: Path,
    *,
    progress: JobBuildProgress | None = None,
    send: Callable[[str], None] = lambda _job_id: None,
    share: vulndb_share.VulndbShare | None = None,
) -> dict[str, Any]:
    """Build the database from the policy's sources (``update_database``: a source the installed
    database holds must be read again, others may be left out), record the outcome, and queue the
    re-match of results made against another database (or none). Raises what made the build fail,
    after recording it."""
    started = now_ms()
    _change_state(db, lambda state: replace(state, started_at=started))
    try:
        specs = [parse_source(text) for text in policy.sources]
        info = update_database(vulndb_path, sources=specs, progress=progress)
    except Exception as failure:
        message = f"{type(failure).__name__}: {failure}"[:MAX_ERROR]
        finished = now_ms()
        _change_state(
            db,
            lambda state: replace(
                state,
                finished_at=finished,
                failures=state.failures + 1,
                error=message,
                next_attempt_at=finished + policy.retry_delay_ms(state.failures + 1),
            ),
        )
        raise
    left_out = [source for source in info.sources if source.error]
    error = "; ".join(f"{source.kind}:{source.location}: {source.error}" for source in left_out)[:MAX_ERROR]
    finished = now_ms()
    _change_state(
        db,
        lambda state: replace(
            state,
            finished_at=finished,
            succeeded_at=finished,
            failures=state.failures + 1 if left_out else 0,
            error=error,
            next_attempt_at=finished + policy.retry_delay_ms(state.failures + 1) if left_out else 0,
        ),
    )
    if left_out:
        log.warning(
            "advisory database built at %s without %d of %d sources (tried again later): %s",
            info.built_at,
            len(left_out),
            len(info.sources),
            error,
        )
    else:
        log.info(
            "advisory database built at %s: %d advisories from %d sources",
            info.built_at,
            info.advisories,
            len(info.sources),
        )
    if share is not None:  # before the re-match is queued: its worker fetches this build first
        try:
            asyncio.run(share.publish())
        except Exception:  # installed here all the same; the periodic pass publishes it later
            log.exception("publishing the advisory database to storage failed")
    rematch_job = queue_rematch_if_needed(db, vulndb_path)
    if rematch_job:
        send(rematch_job)
    return {
        "built_at": info.built_at,
        "advisories": info.advisories,
        "left_out": [f"{s.kind}:{s.location}" for s in left_out],
        "rematch_job": rematch_job or "",
    }


@dataclass(frozen=True, slots=True)
class DatabaseFacts:
    """What the database file says about itself (its small metadata tables)."""

    built_at: str
    sources: tuple[SourceSummary, ...]
    scopes: Mapping[str, int] = field(default_factory=dict)
    """Affected rows per scope (``pypi``, ``debian:12``): what it covers."""


@dataclass(frozen=True, slots=True)
class DatabaseStatus:
    """The advisory database as ``/healthz`` shows it."""

    facts: DatabaseFacts | None
    """None: no database (or an unreadable one)."""
    state: UpdateState
    update_in_progress: bool
    automatic: bool
    """Sources are configured (the workers keep the database current)."""
    refresh_seconds: int
    now_ms: int

    @property
    def status(self) -> str:
        """``updating`` (a build is queued or running), ``missing`` or ``ready``."""
        if self.update_in_progress:
            return "updating"
        return "missing" if self.facts is None else "ready"

    def to_json(self) -> dict[str, Any]:
        """The ``vulnerability_database`` object of ``/healthz``."""
        facts = self.facts
        built_ms = iso_to_ms(facts.built_at) if facts is not None else None
        state = self.state
        return {
            "status": self.status,
            "built_at": facts.built_at if facts is not None else None,
            "age_seconds": max((self.now_ms - built_ms) // 1000, 0) if built_ms is not None else None,
            "records": sum(s.records for s in facts.sources) if facts is not None else 0,
            "sources": [
                {
                    "kind": s.kind,
                    "location": s.location,
                    "records": s.records,
                    "cve_metadata": s.cve_metadata,
                    "fetched_at": s.fetched_at,
                    "error": s.error,
                }
                for s in (facts.sources if facts is not None else ())
            ],
            "ecosystems": dict(facts.scopes) if facts is not None else {},
            "automatic_update": {
                "enabled": self.automatic,
                "refresh_seconds": self.refresh_seconds,
                "in_progress": self.update_in_progress,
                "job_id": state.job_id or None,
                "last_attempt_at": ms_to_iso(state.started_at),
                "last_success_at": ms_to_iso(state.succeeded_at),
                "consecutive_failures": state.failures,
                "last_error": state.error or None,
                "next_attempt_at": ms_to_iso(state.next_attempt_at),
            },
        }


class AdvisoryDatabaseStatus:
    """Reads the database's status cheaply: the file's metadata only when the file changed (kept
    per process), and one state row and one job row per call."""

    def __init__(self, db: Database, vulndb_path: Path, policy: UpdatePolicy) -> None:
        self.db = db
        self.vulndb_path = vulndb_path
        self.policy = policy
        self._cached: tuple[tuple[int, int, int], DatabaseFacts | None] | None = None

    def facts(self) -> DatabaseFacts | None:
        """The file's facts (None when there is no readable database)."""
        try:
            stat = self.vulndb_path.stat()
        except OSError:
            return None
        key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        cached = self._cached
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            with AdvisoryStore(self.vulndb_path) as store:
                found: DatabaseFacts | None = DatabaseFacts(store.built_at, store.sources(), dict(store.scope_counts()))
        except StoreError:
            found = None
        self._cached = (key, found)
        return found

    async def status(self) -> DatabaseStatus:
        """The status now."""
        facts = await anyio.to_thread.run_sync(self.facts)

        def read(conn: Connection) -> tuple[UpdateState, bool]:
            state = UpdateState.from_text(state_q.state(conn, STATE_KEY))
            return state, _job_unfinished(conn, state.job_id)

        state, in_progress = await self.db.read(read)
        return DatabaseStatus(
            facts, state, in_progress, bool(self.policy.sources), self.policy.refresh_ms // 1000, now_ms()
        )
