"""Running scan and sync tasks: the bodies of the ``security.scan_task`` and ``security.sync_task``
jobs, item by item.

A task is ``waiting`` until its job starts it (``running``), then each item goes ``running`` and
then ``success`` or ``failed`` with a reason, and the task ends ``finished`` (counts recomputed from
the items), ``stopped`` (a stop request: the images not reached get their previous scan status
back) or ``failed`` (the last attempt failed). Items record their outcome as they go, so a run after
a killed worker skips what is done; a task already ended is left alone.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy.engine import Connection

from moorage.domain.jobs import JobControl, JobStopped
from moorage.domain.security import OPEN_ITEM_STATUSES, ScanResultStatus, TaskItemStatus, TaskStatus, scanners_for_scope
from moorage.metadata.queries import security_images as images_q
from moorage.metadata.queries import security_registries as registries_q
from moorage.metadata.queries import security_tasks as tasks_q
from moorage.services.security.catalogs import CatalogError
from moorage.services.security.failures import ScanFailure, failure_from
from moorage.services.security.image_scans import ImageScans
from moorage.services.security.remote_access import remote_access_of
from moorage.services.security.results import restore_rows
from moorage.services.security.synchronize import SyncFailed, sync_external, sync_swr

log = logging.getLogger(__name__)

RATE_POLL_SECONDS = 0.5
DONE = (TaskItemStatus.SUCCESS, TaskItemStatus.FAILED)
"""Item statuses a run skips (a previous attempt got there)."""


@dataclass(frozen=True)
class TaskRuns:
    """Runs scan and sync tasks for their jobs, in a worker."""

    scans: ImageScans

    def run_scan_task(self, job: JobControl, task_id: str) -> dict[str, Any]:
        """Scan every image of a task, in order; items already done (a previous attempt) are skipped."""
        db = self.scans.db
        task = db.run_read(lambda conn: tasks_q.get(conn, task_id))
        if task is None or task.status.ended:
            return {"skipped": True}
        db.run_write(lambda conn: tasks_q.start(conn, task_id))
        scanner = self.scans.digest_scanner(job, scanners_for_scope(task.scan_scope))
        items = db.run_read(lambda conn: tasks_q.task_items(conn, task_id))
        interval = 3600.0 / task.rate_limit if task.rate_limit else 0.0
        risky = 0
        scanned = 0
        try:
            for item in items:
                if item.status in DONE:
                    continue
                job.check_stopped()
                if interval and scanned:
                    _wait(job, interval)
                position = item.position
                db.run_write(
                    partial(tasks_q.set_item, task_id=task_id, position=position, status=TaskItemStatus.RUNNING)
                )
                row = db.run_read(partial(images_q.by_id, row_id=item.image_row_id)) if item.image_row_id else None
                try:
                    if row is None:
                        raise ScanFailure("get_detail_info_not_found", f"{item.label} is no longer in the image list")
                    result = scanner.scan(self.scans.origin_of_row(row), row.image_digest, not_before=task.created_at)
                    status, reason = (
                        (TaskItemStatus.SUCCESS, "")
                        if result.status is ScanResultStatus.SUCCESS
                        else (TaskItemStatus.FAILED, result.failed_code)
                    )
                    risky += int(
                        result.status is ScanResultStatus.SUCCESS
                        and bool(
                            result.summary.vul_count()
                            or result.summary.malicious_files
                            or result.summary.unsafe_settings
                        )
                    )
                except JobStopped:
                    raise
                except ScanFailure as failure:
                    status, reason = TaskItemStatus.FAILED, failure.code
                    if row is not None:
                        db.run_write(partial(restore_rows, row_ids=[row.id]))
                scanned += 1
                db.run_write(partial(_record_item, task_id=task_id, position=position, status=status, reason=reason))
                job.progress(scanned, len(items))
        except JobStopped:
            db.run_write(lambda conn: _stop_task(conn, task_id))
            raise
        except Exception as exc:
            if job.job.attempts >= job.job.max_attempts:
                reason = failure_from(exc).code
                db.run_write(lambda conn: _stop_task(conn, task_id, status=TaskStatus.FAILED, reason=reason))
            raise
        db.run_write(lambda conn: _finish_task(conn, task_id, risky))
        return {"task_id": task_id, "scanned": scanned}

    def run_sync_task(self, job: JobControl, task_id: str) -> dict[str, Any]:
        """Synchronise every registry of a task."""
        db = self.scans.db
        settings = self.scans.settings
        task = db.run_read(lambda conn: tasks_q.get(conn, task_id))
        if task is None or task.status.ended:
            return {"skipped": True}
        db.run_write(lambda conn: tasks_q.start(conn, task_id))
        items = db.run_read(lambda conn: tasks_q.task_items(conn, task_id))
        try:
            for item in items:
                if item.status in DONE:
                    continue
                job.check_stopped()
                position = item.position
                db.run_write(
                    partial(tasks_q.set_item, task_id=task_id, position=position, status=TaskItemStatus.RUNNING)
                )
                registry = db.run_read(partial(registries_q.by_id, registry_id=item.registry_id))
                try:
                    if registry is None:
                        raise LookupError(f"registry {item.label} was deleted")
                    if registry.type.is_builtin:
                        sync_swr(db, domain_id=registry.domain_id, image_type=registry.type.image_type)
                    else:
                        sync_external(
                            db,
                            self.scans.master_key(),
                            registry_id=registry.id,
                            limit=settings.scanner.sync_max_images,
                            access=remote_access_of(settings),
                        )
                    status, reason = TaskItemStatus.SUCCESS, ""
                except JobStopped:
                    raise
                except (SyncFailed, LookupError, CatalogError) as exc:
                    status, reason = TaskItemStatus.FAILED, str(exc)[:255]  # written for the tenant
                except Exception as exc:
                    log.warning("synchronisation of %s failed", item.label, exc_info=True)
                    status, reason = TaskItemStatus.FAILED, f"the synchronisation failed ({type(exc).__name__})"
                db.run_write(partial(_record_item, task_id=task_id, position=position, status=status, reason=reason))
        except JobStopped:
            db.run_write(lambda conn: _stop_task(conn, task_id))
            raise
        db.run_write(lambda conn: _finish_task(conn, task_id, 0))
        return {"task_id": task_id}


def _wait(job: JobControl, seconds: float) -> None:
    """Wait between images of a rate-limited task, still noticing a stop request."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job.check_stopped()
        time.sleep(min(RATE_POLL_SECONDS, max(deadline - time.monotonic(), 0)))


def _record_item(conn: Connection, task_id: str, position: int, status: TaskItemStatus, reason: str) -> None:
    tasks_q.set_item(conn, task_id, position, status=status, failed_reason=reason)
    tasks_q.recount(conn, task_id)


def _finish_task(conn: Connection, task_id: str, risky: int) -> None:
    tasks_q.recount(conn, task_id, risky=risky)
    tasks_q.finish(conn, task_id, status=TaskStatus.FINISHED)


def _stop_task(conn: Connection, task_id: str, *, status: TaskStatus = TaskStatus.STOPPED, reason: str = "") -> None:
    left = [
        i.image_row_id
        for i in tasks_q.task_items(conn, task_id, statuses=OPEN_ITEM_STATUSES)
        if i.image_row_id is not None
    ]
    tasks_q.recount(conn, task_id)
    tasks_q.finish(conn, task_id, status=status, failed_reason=reason)
    restore_rows(conn, left)
