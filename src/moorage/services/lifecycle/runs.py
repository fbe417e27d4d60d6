"""Runs of the garbage collector: starting them (the GC API, the schedules, ``moorage gc``), running
them here (the job worker, the command line), listing, showing with their logs, stopping, and the
instances' GC schedules. A run's row and log live in the database, so every node and the API see a
run the worker or the command line is doing, and a killed worker's run is taken up again by the job
recovery (the collector is safe to run again from the start)."""

from __future__ import annotations

import datetime
import logging
import secrets
import time
from collections.abc import Callable, Mapping

import anyio.to_thread
from sqlalchemy.engine import Connection

from moorage.domain.cron import CronSchedule
from moorage.domain.errors import Conflict, Invalid, NotFound
from moorage.domain.events import NewEvent, Operation, ResourceType, change_event
from moorage.domain.gc import (
    MAX_RUN_ID,
    GcFigures,
    GcLogLine,
    GcPage,
    GcParameters,
    GcRun,
    GcRunStatus,
    GcSchedule,
    GcTrigger,
    ScheduleType,
)
from moorage.domain.jobs import JobSubmitter
from moorage.metadata.database import Database, now_ms
from moorage.metadata.queries import gc_runs as q
from moorage.metadata.queries import jobs as jobs_q
from moorage.services.events.recorder import record_events
from moorage.services.lifecycle.collector import GarbageCollector, GcStopped
from moorage.services.lifecycle.schedule import next_fire
from moorage.settings.sections import GcSettings
from moorage.storage.blobstore import BlobStore

log = logging.getLogger(__name__)

GC_JOB = "registry.gc"
"""The job kind that runs a run (registered in ``moorage.jobs.kinds``)."""
DEFAULT_PAGE = 10
MAX_PAGE = 100
SAVE_SECONDS = 1.0
ABANDONED_AFTER_MS = 10 * 60_000
"""A command-line run that has saved no progress for this long was killed: it is marked ``Error``."""


class RunJournal:
    """A run's log and checkpoints, in the database: figures and lines are written at most every
    ``SAVE_SECONDS`` (a write transaction per page would hold SQLite's write lock away from pushes),
    and the stop request is read at every checkpoint."""

    def __init__(self, db: Database, run_id: int, *, max_lines: int, stopping: Callable[[], bool]) -> None:
        self.db = db
        self.run_id = run_id
        self.max_lines = max_lines
        self.stopping = stopping
        self.lines: list[GcLogLine] = []
        self.saved = time.monotonic()

    def log(self, level: str, message: str) -> None:
        """Keep a line for the next checkpoint."""
        self.lines.append(GcLogLine(now_ms(), level, message))
        log.log(logging.WARNING if level == "error" else logging.DEBUG, "gc run %d: %s", self.run_id, message)

    async def checkpoint(self, figures: GcFigures) -> bool:
        """Save figures and lines when it is time; whether the run must stop (asked through the API,
        or its job lost)."""
        if time.monotonic() - self.saved < SAVE_SECONDS:
            return self.stopping() or await self.db.read(lambda conn: q.stop_requested(conn, self.run_id))
        lines, self.lines = self.lines, []

        def work(conn: Connection) -> bool:
            q.append_log(conn, self.run_id, lines, max_lines=self.max_lines)
            return q.save_progress(conn, self.run_id, figures)

        stop = await self.db.write(work)
        self.saved = time.monotonic()
        return stop or self.stopping()


def schedule_parameters(parameters: GcParameters | None, *, workers: int) -> GcParameters:
    """The parameters a request gave, or the defaults (``workers`` from the settings)."""
    return parameters if parameters is not None else GcParameters(workers=workers)


class GcRunService:
    """Start, run, list, show and stop runs; show and set instances' schedules."""

    def __init__(self, db: Database, store: BlobStore, settings: GcSettings, jobs: JobSubmitter | None) -> None:
        self.db = db
        self.store = store
        self.settings = settings
        self.jobs = jobs

    # Starting runs ----------------------------------------------------------------------------------

    def _create(
        self,
        conn: Connection,
        *,
        instance_id: str | None,
        trigger: GcTrigger,
        parameters: GcParameters,
        dedupe_key: str | None,
        with_job: bool,
    ) -> tuple[int, str | None] | None:
        run_id = q.create_run(
            conn, instance_id=instance_id, trigger=trigger, parameters=parameters, dedupe_key=dedupe_key
        )
        if run_id is None:
            return None
        if not with_job:
            return run_id, None
        job_id = secrets.token_hex(16)
        jobs_q.create(
            conn,
            job_id=job_id,
            kind=GC_JOB,
            params={"run_id": run_id},
            max_attempts=1,
            dedupe_key=f"gc:{run_id}",
            domain_id=None,
        )
        q.set_run_job(conn, run_id, job_id)
        return run_id, job_id

    def start_blocking(
        self, *, instance_id: str | None, trigger: GcTrigger, parameters: GcParameters, dedupe_key: str | None = None
    ) -> int | None:
        """A new run handed to the job workers (synchronous: the scheduler's thread); None when
        ``dedupe_key`` was used before."""
        assert self.jobs is not None, "starting a run needs the job queue"
        created = self.db.run_write(
            lambda conn: self._create(
                conn,
                instance_id=instance_id,
                trigger=trigger,
                parameters=parameters,
                dedupe_key=dedupe_key,
                with_job=True,
            )
        )
        if created is None:
            return None
        run_id, job_id = created
        assert job_id is not None
        self.jobs.send(job_id)  # if the queue loses it, job recovery sends it again
        return run_id

    @staticmethod
    def _active(conn: Connection, instance_id: str | None) -> int | None:
        q.abandon_stale_runs(conn, idle_before=now_ms() - ABANDONED_AFTER_MS, instance_id=instance_id, any_scope=False)
        return q.active_run(conn, instance_id=instance_id)

    def active_blocking(self, *, instance_id: str | None) -> int | None:
        """A run of the scope (None: the whole registry) still pending or running, once runs that
        will never go on are marked ``Error`` (synchronous: the scheduler's thread)."""
        return self.db.run_write(lambda conn: self._active(conn, instance_id))

    async def execute_instance(self, *, instance_id: str, parameters: GcParameters) -> int:
        """``execute_gc_schedule``: a manual run of an instance, unless one is pending or running."""
        assert self.jobs is not None, "starting a run needs the job queue"

        def work(conn: Connection) -> tuple[int, str]:
            active = self._active(conn, instance_id)
            if active is not None:
                raise Conflict(f"garbage collection {active} of this instance is still pending or running")
            created = self._create(
                conn,
                instance_id=instance_id,
                trigger=GcTrigger.MANUAL,
                parameters=parameters,
                dedupe_key=None,
                with_job=True,
            )
            assert created is not None and created[1] is not None
            record_events(conn, _gc_event(Operation.CREATE, instance_id, f"run {created[0]}"))
            return created[0], created[1]

        run_id, job_id = await self.db.write(work)
        jobs = self.jobs
        await anyio.to_thread.run_sync(lambda: jobs.send(job_id))
        return run_id

    # Running runs here ----------------------------------------------------------------------------

    async def run_here(self, *, parameters: GcParameters) -> GcRun:
        """A run of the whole registry, done in this process now (``moorage gc``)."""

        def create(conn: Connection) -> int:
            q.abandon_stale_runs(conn, idle_before=now_ms() - ABANDONED_AFTER_MS)
            created = self._create(
                conn, instance_id=None, trigger=GcTrigger.MANUAL, parameters=parameters, dedupe_key=None, with_job=False
            )
            assert created is not None
            return created[0]

        run_id = await self.db.write(create)
        return await self.execute(run_id)

    async def execute(self, run_id: int, *, stopping: Callable[[], bool] = lambda: False) -> GcRun:
        """Do a run (again, from the start, when its worker died half way); its final state."""
        run = await self.db.write(lambda conn: q.begin_run(conn, run_id))
        if run is None:
            found = await self.db.read(lambda conn: q.get_run(conn, run_id, any_scope=True))
            if found is None:
                raise NotFound(f"garbage collection {run_id} not found")
            return found
        journal = RunJournal(self.db, run_id, max_lines=self.settings.log_max_lines, stopping=stopping)
        figures = GcFigures()
        if run.figures.to_json() != figures.to_json():
            journal.log("warning", "this run was interrupted (its worker stopped); it goes through everything again")
            if not run.parameters.dry_run:
                figures = run.figures  # what the first attempt deleted stays counted
        collector = GarbageCollector(self.db, self.store, self.settings)
        status = GcRunStatus.SUCCESS
        ending = "finished"
        try:
            await collector.collect(
                instance_id=run.instance_id, parameters=run.parameters, journal=journal, figures=figures
            )
        except GcStopped:
            status, ending = GcRunStatus.STOPPED, "stopped on request"
        except Exception as error:
            log.exception("garbage collection %d failed", run_id)
            status, ending = GcRunStatus.ERROR, f"failed: {type(error).__name__}: {error}"
        verb = "would free" if run.parameters.dry_run else "freed"
        summary = GcLogLine(
            now_ms(),
            "summary",
            (
                f"{ending}: {verb} {figures.manifests} manifests, {figures.blobs} blobs ({figures.bytes} bytes), "
                f"{figures.links} repository links, {figures.uploads} uploads ({figures.upload_bytes} bytes), "
                f"{figures.orphans} orphaned blob files ({figures.orphan_bytes} bytes); {figures.errors} storage errors"
            ),
        )
        remaining = journal.lines

        def finish(conn: Connection) -> GcRun:
            q.append_log(conn, run_id, remaining, max_lines=self.settings.log_max_lines)
            q.append_summary(conn, run_id, summary)
            q.finish_run(conn, run_id, status, figures)
            finished = q.get_run(conn, run_id, any_scope=True)
            assert finished is not None
            return finished

        return await self.db.write(finish)

    # The API ------------------------------------------------------------------------------------

    async def list_runs(self, *, instance_id: str, status: str | None, marker: str | None, limit: int | None) -> GcPage:
        """``list_gc_tasks``: an instance's runs, newest first, ``limit`` after ``marker``."""
        wanted = GcRunStatus.parse(status)
        size = DEFAULT_PAGE if limit is None else limit
        if not 1 <= size <= MAX_PAGE:
            raise Invalid(f"limit must be between 1 and {MAX_PAGE}, got {size}", reason="invalid_page_size")
        before: int | None = None
        if marker:
            if not marker.isascii() or not marker.isdigit() or len(marker) > 18:
                raise Invalid(
                    f"invalid marker {marker[:40]!r}: use the next_marker of the previous page",
                    reason="invalid_parameter",
                )
            before = int(marker)
        runs = await self.db.read(
            lambda conn: q.list_runs(conn, instance_id=instance_id, status=wanted, before=before, limit=size + 1)
        )
        more = len(runs) > size
        items = tuple(runs[:size])
        return GcPage(items, str(items[-1].id) if more and items else None)

    async def get(self, *, instance_id: str, run_id: int) -> GcRun:
        """``show_gc_task``: one run of the instance."""
        if not 0 < run_id <= MAX_RUN_ID:  # no such run; the database would refuse the number itself
            raise NotFound(f"garbage collection {run_id} not found in this instance")
        found = await self.db.read(lambda conn: q.get_run(conn, run_id, instance_id=instance_id))
        if found is None:
            raise NotFound(f"garbage collection {run_id} not found in this instance")
        return found

    async def log(self, *, instance_id: str, run_id: int) -> list[GcLogLine]:
        """A run's log."""
        await self.get(instance_id=instance_id, run_id=run_id)
        return await self.db.read(lambda conn: q.run_log(conn, run_id))

    async def stop(self, *, instance_id: str, run_id: int) -> GcRun:
        """``stop_gc_task``: a pending run stops at once, a running one after its current batch."""
        run = await self.get(instance_id=instance_id, run_id=run_id)
        if run.status.finished:
            if run.status is GcRunStatus.STOPPED:
                return run
            raise Conflict(f"garbage collection {run_id} has finished ({run.status.value}): nothing to stop")

        def request(conn: Connection) -> GcRun | None:
            record_events(conn, _gc_event(Operation.UPDATE, instance_id, f"run {run_id}", {"stop": True}))
            return q.request_stop(conn, run_id)

        stopped = await self.db.write(request)
        if run.job_id is not None and self.jobs is not None:
            await self.jobs.stop(run.job_id)
        assert stopped is not None
        return stopped

    async def schedule(self, *, instance_id: str) -> tuple[GcSchedule, str]:
        """``show_gc_schedule``: the instance's schedule and its next run (RFC 3339, "" for none)."""
        found = await self.db.read(lambda conn: q.get_schedule(conn, instance_id))
        schedule = found or GcSchedule(parameters=GcParameters(workers=self.settings.workers))
        following = ""
        if schedule.type is ScheduleType.CUSTOM and schedule.cron:
            moment = next_fire(CronSchedule.parse(schedule.cron), datetime.datetime.now(datetime.UTC))
            if moment is not None:
                following = moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        return schedule, following

    async def set_schedule(
        self, *, instance_id: str, type_: str | None, cron: str | None, parameters: GcParameters | None
    ) -> None:
        """``update_gc_schedule``: a ``Custom`` cron schedule or ``None``; nothing is stored when any
        part is invalid."""
        try:
            kind = ScheduleType(type_ or "")
        except ValueError:
            raise Invalid(f"schedule type must be None or Custom, got {type_!r}", reason="invalid_parameter") from None
        expression = " ".join((cron or "").split())
        if kind is ScheduleType.CUSTOM:
            if not expression:
                raise Invalid("a Custom schedule needs a cron expression", reason="invalid_parameter")
            CronSchedule.parse(expression)  # Invalid says what is wrong
        else:
            expression = ""
        current = await self.db.read(lambda conn: q.get_schedule(conn, instance_id))
        kept = parameters or (current.parameters if current else GcParameters(workers=self.settings.workers))
        schedule = GcSchedule(kind, expression, kept)

        def store(conn: Connection) -> None:
            q.put_schedule(conn, instance_id, schedule)
            detail = {"type": kind.value, "cron": expression}
            record_events(conn, _gc_event(Operation.UPDATE, instance_id, "schedule", detail))

        await self.db.write(store)


def _gc_event(
    operation: Operation, instance_id: str, what: str, detail: Mapping[str, object] | None = None
) -> NewEvent:
    """The event of a garbage collection asked for, stopped or scheduled (the runs' own progress is in
    their log, not the event stream)."""
    return change_event(operation, ResourceType.GC, instance_id=instance_id, resource=what, detail=detail)
