"""What workers do periodically for image security: queue a re-match when a new advisory database
is installed, and queue the scheduled scans that are due. Every worker may run this; job dedupe
keys and a compare-and-set on each policy's last run make it happen once."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Connection

from moorage.domain.jobs import JobKind
from moorage.domain.security import ImageVisibility, ScanPolicy
from moorage.metadata.database import Database, now_ms
from moorage.metadata.queries import jobs as jobs_q
from moorage.metadata.queries import security_images as images_q
from moorage.metadata.queries import security_results as results_q
from moorage.metadata.queries import security_tasks as tasks_q
from moorage.services.security.rematch import MATCHED_STATE, current_database
from moorage.services.security.tasks import TaskService

log = logging.getLogger(__name__)

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class PeriodicOutcome:
    """What one periodic pass queued."""

    rematch_job: str | None
    scheduled_tasks: tuple[str, ...]


def policy_due(policy: ScanPolicy, now: int) -> bool:
    """Whether an enabled policy's next run (``scan_cycle`` days after the last) has come."""
    return policy.enabled and now >= policy.last_run_at + policy.scan_cycle * DAY_MS


def queue_rematch_if_needed(db: Database, vulndb_path: Path) -> str | None:
    """A re-match job when the installed database is not the one results were matched against."""
    current = current_database(vulndb_path)
    if current == "none":
        return None

    def work(conn: Connection) -> str | None:
        # Checked every time, not only when the database changed: a scan that began before an update
        # may finish with the previous database after the re-match ran.
        if not results_q.stale_digests(conn, current, after="", limit=1):
            tasks_q.set_state(conn, MATCHED_STATE, current)
            return None
        if any(not job.status.finished for job in jobs_q.list_jobs(conn, kind=JobKind.REMATCH, limit=5)):
            return None  # one is queued or running: it walks every stale result
        key = f"rematch:{current}:{now_ms() // 60_000}"  # workers passing in the same minute make one job
        if jobs_q.by_dedupe_key(conn, key) is not None:
            return None
        job_id = secrets.token_hex(16)
        jobs_q.create(
            conn,
            job_id=job_id,
            kind=JobKind.REMATCH,
            params={"advisory_db": current},
            max_attempts=5,
            dedupe_key=key,
            domain_id=None,
        )
        return job_id

    return db.run_write(work)


def queue_due_scans(db: Database, tasks: TaskService, *, now: int) -> list[str]:
    """Scheduled scan tasks for every due policy (each claimed by exactly one caller); their job ids."""
    queued = []
    for policy in db.run_read(tasks_q.enabled_scan_policies):
        if not policy_due(policy, now):
            continue

        def work(conn: Connection, policy: ScanPolicy = policy) -> str | None:
            if not tasks_q.mark_policy_run(conn, policy.domain_id, due_since=policy.last_run_at, now=now):
                return None  # another worker took this run
            since = now - policy.time_scope * DAY_MS if policy.time_scope else 0
            ids = images_q.digests_of_domain(
                conn, policy.domain_id, updated_since=since, registry_ids=policy.registry_ids
            )
            if not ids:
                return None
            rows = images_q.by_ids(conn, ImageVisibility(policy.domain_id), ids)
            task = tasks.create_scan_in(
                conn,
                domain_id=policy.domain_id,
                rows=rows,
                scan_scope=policy.scan_scope,
                rate_limit=policy.rate_limit,
                task_type="cycle",
                is_all=True,
                policy_id=policy.domain_id,
            )
            return task.job_id

        job_id = db.run_write(work)
        if job_id:
            queued.append(job_id)
    return queued


def periodic(db: Database, tasks: TaskService, vulndb_path: Path, send: Callable[[str], None]) -> PeriodicOutcome:
    """One periodic pass: queue what is due and send the new jobs."""
    rematch = queue_rematch_if_needed(db, vulndb_path)
    if rematch:
        send(rematch)
    scheduled = queue_due_scans(db, tasks, now=now_ms())
    for job_id in scheduled:
        send(job_id)
    return PeriodicOutcome(rematch, tuple(scheduled))
