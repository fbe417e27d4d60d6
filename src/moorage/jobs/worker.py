"""``moorage worker``: a process that runs jobs (huey's consumer, threads) and recovers jobs whose
worker died. Recovery and the image-security pass are chores of all workers together: every worker
offers each period, one runs it (``services/periodic.py``)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping

from moorage.child_process import report_ready
from moorage.jobs.queue import JobQueue, build_huey
from moorage.jobs.resources import WorkerResources, worker_resources
from moorage.jobs.runner import Handler, JobRunner
from moorage.metadata.database import Database
from moorage.services.periodic import Chore, PeriodicChores
from moorage.settings import Settings

log = logging.getLogger(__name__)


def job_handlers() -> dict[str, Handler[WorkerResources]]:
    """Every job kind moorage knows, by name."""
    from moorage.jobs import kinds

    return kinds.HANDLERS


def run_worker(settings: Settings, *, handlers: Mapping[str, Handler[WorkerResources]] | None = None) -> None:
    """Run jobs until SIGTERM or SIGINT (huey's consumer handles both)."""
    db = Database(settings.resolved_database_url, pool_size=settings.jobs.threads + 2)
    huey = build_huey(settings)
    runner: JobRunner[WorkerResources]
    queue = JobQueue(db, huey, execute=lambda job_id: runner.execute(job_id))
    resources = worker_resources(settings, db, queue)
    runner = JobRunner(
        db,
        handlers if handlers is not None else job_handlers(),
        resources=resources,
        lease_seconds=settings.jobs.lease_seconds,
        send=lambda job_id, delay: queue.send(job_id, delay_seconds=delay),
    )
    stopping = threading.Event()
    chores = PeriodicChores(db, holder=runner.worker)

    def recover_forever() -> None:
        interval = settings.jobs.recover_interval_seconds
        while not stopping.wait(interval):
            try:
                if not chores.claim_blocking(Chore.JOB_RECOVERY, interval):
                    continue
                recovered = runner.recover(stale_pending_seconds=settings.jobs.stale_pending_seconds)
                if recovered:
                    log.info("recovered %d jobs", recovered)
            except Exception:
                log.exception("job recovery failed")

    def periodic_forever() -> None:
        from moorage.services.security.periodic import advisory_update_pass, periodic_pass, vulndb_share

        share = vulndb_share(settings, db, resources.store)

        def refresh() -> None:  # every process holds the published database, whoever runs the pass
            if share is not None:
                try:
                    asyncio.run(share.refresh())
                except Exception:
                    log.exception("fetching the published advisory database failed")

        refresh()
        try:
            advisory_update_pass(settings, db, queue)  # a fresh install fetches its database now
        except Exception:
            log.exception("queueing the advisory database update failed")
        interval = settings.scanner.periodic_interval_seconds
        while not stopping.wait(interval):
            refresh()
            try:
                if chores.claim_blocking(Chore.IMAGE_SECURITY, interval):
                    periodic_pass(settings, db, queue, share)
            except Exception:
                log.exception("the periodic image-security pass failed")

    def dispatch_forever() -> None:
        from moorage.services.events.consumers import build_dispatcher
        from moorage.services.events.scheduling import PruneSchedule

        dispatcher = build_dispatcher(settings, db, send=lambda job_id: queue.send(job_id))
        pruning = PruneSchedule(queue.submit_blocking, interval_seconds=settings.events.prune_interval_seconds)
        while not stopping.wait(settings.events.dispatch_interval_seconds):
            try:
                while dispatcher.dispatch_once() >= dispatcher.batch:
                    pass  # a backlog: the next batch at once
                pruning.tick()
            except Exception:
                log.exception("dispatching events failed")

    def collect_on_schedule_forever() -> None:
        from moorage.services.lifecycle.schedule import schedule_pass

        while not stopping.wait(settings.gc.schedule_check_seconds):
            try:
                schedule_pass(settings, db, resources.store, queue)
            except Exception:
                log.exception("starting scheduled garbage collection failed")

    recovery = threading.Thread(target=recover_forever, name="job-recovery", daemon=True)
    recovery.start()
    threading.Thread(target=dispatch_forever, name="event-dispatch", daemon=True).start()
    threading.Thread(target=periodic_forever, name="security-periodic", daemon=True).start()
    threading.Thread(target=collect_on_schedule_forever, name="gc-schedule", daemon=True).start()
    consumer = huey.create_consumer(
        workers=settings.jobs.threads,
        worker_type="thread",
        periodic=False,
        initial_delay=0.05,
        max_delay=1.0,
        backoff=1.15,
    )
    log.warning(
        "moorage worker %s: %d threads, queue %s",
        runner.worker,
        settings.jobs.threads,
        "redis" if settings.redis_url else "sqlite",
    )
    report_ready()  # to the moorage serve that started this worker, if one did
    try:
        consumer.run()
    finally:
        stopping.set()
        db.dispose()
