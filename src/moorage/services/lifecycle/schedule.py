"""When garbage collection runs by itself: the registry's schedule (``MOORAGE_GC__SCHEDULE``) and each
Enterprise Edition instance's (``update_gc_schedule``), checked by the job worker every
``MOORAGE_GC__SCHEDULE_CHECK_SECONDS``. A run is started for the latest second a schedule fired in
the last window, with that second in its idempotency key, so several workers (or nodes) start each
run once; a schedule that fires while its last run is still pending or running starts nothing."""

from __future__ import annotations

import datetime
import logging

from moorage.domain.cron import CronSchedule
from moorage.domain.gc import GcParameters, GcTrigger
from moorage.domain.jobs import JobSubmitter
from moorage.metadata.database import Database, now_ms
from moorage.metadata.queries import gc_runs as q
from moorage.settings import Settings
from moorage.storage.blobstore import BlobStore

log = logging.getLogger(__name__)

MIN_WINDOW_MS = 60_000
SEARCH_DAYS = 5 * 366


def last_fire(schedule: CronSchedule, start_ms: int, end_ms: int) -> int | None:
    """The latest whole second in (start, end] the schedule fires at, in epoch ms; None if none."""
    for second in range(end_ms // 1000, start_ms // 1000, -1):
        if schedule.matches(datetime.datetime.fromtimestamp(second, datetime.UTC)):
            return second * 1000
    return None


def next_fire(schedule: CronSchedule, after: datetime.datetime) -> datetime.datetime | None:
    """The first whole second after ``after`` the schedule fires at (UTC), within five years."""
    start = after.astimezone(datetime.UTC).replace(microsecond=0) + datetime.timedelta(seconds=1)
    hours, minutes, seconds = sorted(schedule.hours), sorted(schedule.minutes), sorted(schedule.seconds)
    day = start.date()
    for _ in range(SEARCH_DAYS):
        first = datetime.datetime(day.year, day.month, day.day, hours[0], minutes[0], seconds[0], tzinfo=datetime.UTC)
        if schedule.matches(first):  # the day and month fields allow this day
            for hour in hours:
                for minute in minutes:
                    for second in seconds:
                        moment = first.replace(hour=hour, minute=minute, second=second)
                        if moment >= start:
                            return moment
        day += datetime.timedelta(days=1)
    return None


def schedule_pass(
    settings: Settings, db: Database, store: BlobStore, queue: JobSubmitter, *, now: int | None = None
) -> list[int]:
    """Start the runs whose schedule fired since the last look; their ids."""
    from moorage.services.lifecycle.runs import GcRunService

    moment = now_ms() if now is None else now
    window = max(2 * settings.gc.schedule_check_seconds * 1000, MIN_WINDOW_MS)
    targets: list[tuple[str | None, str, GcParameters]] = []
    if settings.gc.schedule:
        targets.append(
            (
                None,
                settings.gc.schedule,
                GcParameters(delete_untagged=settings.gc.delete_untagged, workers=settings.gc.workers),
            )
        )
    targets += [
        (instance_id, schedule.cron, schedule.parameters) for instance_id, schedule in db.run_read(q.custom_schedules)
    ]
    runs = GcRunService(db, store, settings.gc, queue)
    started = []
    for instance_id, cron, parameters in targets:
        try:
            fired = last_fire(CronSchedule.parse(cron), moment - window, moment)
        except Exception:
            log.warning("garbage collection schedule %r of %s is invalid", cron, instance_id or "the registry")
            continue
        if fired is None:
            continue
        if runs.active_blocking(instance_id=instance_id) is not None:
            continue
        run_id = runs.start_blocking(
            instance_id=instance_id,
            trigger=GcTrigger.SCHEDULE,
            parameters=parameters,
            dedupe_key=f"gc:schedule:{instance_id or '*'}:{fired // 1000}",
        )
        if run_id is not None:
            log.info("scheduled garbage collection %d of %s started", run_id, instance_id or "the registry")
            started.append(run_id)
    return started
