"""Image-security jobs: scan tasks, sync tasks, scan on push, re-matching after an advisory
database update, building the advisory database from the configured sources; and the periodic
pass workers run (due scheduled scans, new databases, due database updates).

Each handler takes ids only and is safe to run twice: task items record their outcome as they go
(a run after a killed worker skips what is done), scans claim their digest (see
``services.security.scanning``), and results replace rather than add.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import Any

from sqlalchemy.engine import Connection

from moorage.auth.keys import MasterKey, load_master_key
from moorage.domain.registry import DEFAULT_INSTANCE
from moorage.domain.security import (
    OPEN_ITEM_STATUSES,
    ImageRow,
    RegistryType,
    ScanResultStatus,
    TaskItemStatus,
    TaskStatus,
    scanners_for_scope,
)
from moorage.jobs.queue import JobQueue
from moorage.jobs.runner import Handler, JobContext, JobStopped
from moorage.metadata.database import Database
from moorage.metadata.queries import enterprise_artifacts as artifacts_q
from moorage.metadata.queries import security_images as images_q
from moorage.metadata.queries import security_registries as registries_q
from moorage.metadata.queries import security_swr as swr_q
from moorage.metadata.queries import security_tasks as tasks_q
from moorage.scanner.cache import LayerCache
from moorage.scanner.limits import ScanLimits
from moorage.services.security import engine
from moorage.services.security.advisory_updates import JobBuildProgress, UpdatePolicy, run_update, schedule_update
from moorage.services.security.catalogs import CatalogError
from moorage.services.security.failures import ScanFailure, failure_from
from moorage.services.security.layer_cache import layer_cache_of
from moorage.services.security.rematch import rematch_all
from moorage.services.security.remote_access import remote_access_of
from moorage.services.security.results import restore_rows
from moorage.services.security.scanning import DigestScanner
from moorage.services.security.schedule import periodic
from moorage.services.security.sources import ImageOrigin, LocalOrigin
from moorage.services.security.synchronize import (
    SyncFailed,
    decrypt_password,
    origin_for,
    sync_external,
    sync_swr,
)
from moorage.services.security.tasks import TaskService
from moorage.settings import Settings
from moorage.storage.blobstore import BlobStore

log = logging.getLogger(__name__)

RATE_POLL_SECONDS = 0.5


def engine_options(settings: Settings, db: Database, scanners: tuple[str, ...] = engine.ALL_SCANNERS,
                   cache: LayerCache | None = None) -> engine.EngineOptions:
    """How this deployment's scans run."""
    scanner = settings.scanner
    return engine.EngineOptions(scanners=scanners, cache=cache or layer_cache_of(settings, db),
                                workers=scanner.analysis_workers, executor=scanner.analysis_executor,
                                max_image_bytes=scanner.max_image_bytes, max_layers=scanner.max_layers,
                                limits=scan_limits_of(settings))


def scan_limits_of(settings: Settings) -> ScanLimits:
    """The scanner's bounds from the ``scanner`` settings."""
    scanner = settings.scanner
    return ScanLimits(max_layer_bytes=scanner.max_layer_uncompressed_bytes,
                      max_image_bytes=scanner.max_image_uncompressed_bytes,
                      max_layer_members=scanner.max_layer_members, max_image_members=scanner.max_image_members,
                      max_file_bytes=scanner.max_file_bytes, max_archive_depth=scanner.max_archive_depth,
                      max_archive_members=scanner.max_archive_members, max_archive_bytes=scanner.max_archive_bytes)


def _master_key(context: JobContext) -> MasterKey:
    found = context.resources.get("master_key")
    if isinstance(found, MasterKey):
        return found
    return load_master_key(context.resources["settings"])


def origin_of_row(context: JobContext, row: ImageRow) -> ImageOrigin:
    """Where the image of a row is read from."""
    settings: Settings = context.resources["settings"]
    store: BlobStore = context.resources["store"]
    if RegistryType(row.registry_type).is_builtin:
        if row.repository_id is None:
            raise ScanFailure("get_detail_info_not_found", f"{row.label} has no repository")
        return LocalOrigin(context.db, store, repository_id=row.repository_id, name=row.repository_path)
    registry = context.db.run_read(lambda conn: registries_q.by_id(conn, row.registry_id))
    if registry is None:
        raise ScanFailure("get_detail_info_not_found", f"the registry of {row.label} was deleted")
    sealed = context.db.run_read(lambda conn: registries_q.password_encrypted(conn, registry.id))
    password = decrypt_password(_master_key(context), registry.id, sealed)
    return origin_for(registry, password, row.repository_path, remote_access_of(settings))


def _wait(context: JobContext, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        context.check_stopped()
        time.sleep(min(RATE_POLL_SECONDS, max(deadline - time.monotonic(), 0)))


def scan_task(context: JobContext) -> dict[str, Any]:
    """Scan every image of a task, in order; items already done (a previous attempt) are skipped."""
    settings: Settings = context.resources["settings"]
    db = context.db
    task_id = str(context.job.params["task_id"])
    task = db.run_read(lambda conn: tasks_q.get(conn, task_id))
    if task is None or task.status.ended:
        return {"skipped": True}
    db.run_write(lambda conn: tasks_q.start(conn, task_id))
    scanner = DigestScanner(db, context.job.id, engine_options(settings, db, scanners_for_scope(task.scan_scope)),
                            settings.vulndb_path, context.check_stopped)
    items = db.run_read(lambda conn: tasks_q.task_items(conn, task_id))
    interval = 3600.0 / task.rate_limit if task.rate_limit else 0.0
    risky = 0
    scanned = 0
    try:
        for item in items:
            if item.status in (TaskItemStatus.SUCCESS, TaskItemStatus.FAILED):
                continue
            context.check_stopped()
            if interval and scanned:
                _wait(context, interval)
            position = item.position
            db.run_write(partial(tasks_q.set_item, task_id=task_id, position=position, status=TaskItemStatus.RUNNING))
            row = db.run_read(partial(images_q.by_id, row_id=item.image_row_id)) if item.image_row_id else None
            try:
                if row is None:
                    raise ScanFailure("get_detail_info_not_found", f"{item.label} is no longer in the image list")
                result = scanner.scan(origin_of_row(context, row), row.image_digest, not_before=task.created_at)
                status, reason = ((TaskItemStatus.SUCCESS, "") if result.status is ScanResultStatus.SUCCESS
                                  else (TaskItemStatus.FAILED, result.failed_code))
                risky += int(result.status is ScanResultStatus.SUCCESS and bool(result.summary.vul_count()
                                                                 or result.summary.malicious_files
                                                                 or result.summary.unsafe_settings))
            except JobStopped:
                raise
            except ScanFailure as failure:
                status, reason = TaskItemStatus.FAILED, failure.code
                if row is not None:
                    db.run_write(partial(restore_rows, row_ids=[row.id]))
            scanned += 1
            db.run_write(partial(_record_item, task_id=task_id, position=position, status=status, reason=reason))
            context.progress(scanned, len(items))
    except JobStopped:
        db.run_write(lambda conn: _stop_task(conn, task_id))
        raise
    except Exception as exc:
        if context.job.attempts >= context.job.max_attempts:
            reason = failure_from(exc).code
            db.run_write(lambda conn: _stop_task(conn, task_id, status=TaskStatus.FAILED, reason=reason))
        raise
    db.run_write(lambda conn: _finish_task(conn, task_id, risky))
    return {"task_id": task_id, "scanned": scanned}


def _record_item(conn: Connection, task_id: str, position: int, status: TaskItemStatus, reason: str) -> None:
    tasks_q.set_item(conn, task_id, position, status=status, failed_reason=reason)
    tasks_q.recount(conn, task_id)


def _finish_task(conn: Connection, task_id: str, risky: int) -> None:
    tasks_q.recount(conn, task_id, risky=risky)
    tasks_q.finish(conn, task_id, status=TaskStatus.FINISHED)


def _stop_task(conn: Connection, task_id: str, *, status: TaskStatus = TaskStatus.STOPPED,
               reason: str = "") -> None:
    left = [i.image_row_id for i in tasks_q.task_items(conn, task_id, statuses=OPEN_ITEM_STATUSES)
            if i.image_row_id is not None]
    tasks_q.recount(conn, task_id)
    tasks_q.finish(conn, task_id, status=status, failed_reason=reason)
    restore_rows(conn, left)


def sync_task(context: JobContext) -> dict[str, Any]:
    """Synchronise every registry of a task."""
    settings: Settings = context.resources["settings"]
    db = context.db
    task_id = str(context.job.params["task_id"])
    task = db.run_read(lambda conn: tasks_q.get(conn, task_id))
    if task is None or task.status.ended:
        return {"skipped": True}
    db.run_write(lambda conn: tasks_q.start(conn, task_id))
    items = db.run_read(lambda conn: tasks_q.task_items(conn, task_id))
    try:
        for item in items:
            if item.status in (TaskItemStatus.SUCCESS, TaskItemStatus.FAILED):
                continue
            context.check_stopped()
            position = item.position
            db.run_write(partial(tasks_q.set_item, task_id=task_id, position=position, status=TaskItemStatus.RUNNING))
            registry = db.run_read(partial(registries_q.by_id, registry_id=item.registry_id))
            try:
                if registry is None:
                    raise LookupError(f"registry {item.label} was deleted")
                if registry.type.is_builtin:
                    sync_swr(db, domain_id=registry.domain_id, image_type=registry.type.image_type)
                else:
                    sync_external(db, _master_key(context), registry_id=registry.id,
                                  limit=settings.scanner.sync_max_images, access=remote_access_of(settings))
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


def _record_tag(conn: Connection, repository_id: int, tag: str, digest: str) -> ImageRow | None:
    """Record a tag of one of moorage's repositories in its owner's image list (None when the tag no
    longer points at ``digest``: the next push or sync records what is there now)."""
    domain_id, instance_id = swr_q.owner_of(conn, repository_id)
    entry = swr_q.one_tag(conn, repository_id, tag)
    if domain_id is None or entry is None or entry.digest != digest:
        return None
    kind = RegistryType.SWR_PRIVATE if instance_id == DEFAULT_INSTANCE else RegistryType.SWR_ENTERPRISE
    registry = registries_q.ensure_builtin(conn, domain_id, kind)
    ids = images_q.upsert(conn, domain_id=domain_id, registry_id=registry.id, image_type=kind.image_type,
                          entries=[entry])
    images_q.refresh_latest_versions(conn, registry.id, repository=(entry.namespace, entry.image_name))
    return images_q.by_id(conn, ids[entry.row_key])


def _digest_scanner(context: JobContext) -> DigestScanner:
    settings: Settings = context.resources["settings"]
    return DigestScanner(context.db, context.job.id, engine_options(settings, context.db), settings.vulndb_path,
                         context.check_stopped)


def scan_on_push(context: JobContext) -> dict[str, Any]:
    """Record a pushed tag in its owner's image list and scan it."""
    params = context.job.params
    repository_id, tag, digest = int(params["repository_id"]), str(params["tag"]), str(params["digest"])
    row = context.db.run_write(lambda conn: _record_tag(conn, repository_id, tag, digest))
    if row is None:
        return {"skipped": "the tag no longer points at the pushed manifest"}
    result = _digest_scanner(context).scan(origin_of_row(context, row), digest, not_before=0)
    return {"digest": digest, "status": result.status, "failed_code": result.failed_code}


def scan_artifact(context: JobContext) -> dict[str, Any]:
    """A manual scan of one manifest of moorage's repositories (the Enterprise Edition's artifact
    scan): its tags are recorded in the image list, and a result older than the request is not reused."""
    params = context.job.params
    repository_id, digest = int(params["repository_id"]), str(params["digest"])

    def record(conn: Connection) -> None:
        artifact = artifacts_q.get_artifact(conn, repository_id, digest)
        for tag in artifact.tags if artifact is not None else ():
            _record_tag(conn, repository_id, tag.name, digest)

    context.db.run_write(record)
    origin = LocalOrigin(context.db, context.resources["store"], repository_id=repository_id, name=str(params["name"]))
    result = _digest_scanner(context).scan(origin, digest, not_before=int(params["requested_at"]))
    return {"digest": digest, "status": result.status, "failed_code": result.failed_code}


def rematch(context: JobContext) -> dict[str, Any]:
    """Re-match every stored inventory against the installed advisory database."""
    settings: Settings = context.resources["settings"]
    done = rematch_all(context.db, settings.vulndb_path, check_stopped=context.check_stopped,
                       progress=lambda n: context.progress(n))
    return {"rematched": done}


def vulndb_update(context: JobContext) -> dict[str, Any]:
    """Build the advisory database from the configured sources (``services.security.advisory_updates``),
    then queue the re-match of what was scanned against another database or none."""
    settings: Settings = context.resources["settings"]
    queue = context.resources.get("queue")
    return run_update(context.db, UpdatePolicy.of(settings), settings.vulndb_path,
                      progress=JobBuildProgress(context.progress, context.check_stopped),
                      send=queue.send if isinstance(queue, JobQueue) else lambda _job_id: None)


def advisory_update_pass(settings: Settings, db: Database, queue: JobQueue) -> None:
    """Queue an advisory database update when one is due (also run once as a worker starts, so a
    fresh install fetches its database without waiting a period)."""
    job_id = schedule_update(db, UpdatePolicy.of(settings), settings.vulndb_path)
    if job_id:
        queue.send(job_id)


def periodic_pass(settings: Settings, db: Database, queue: JobQueue) -> None:
    """The workers' periodic pass (see ``services.security.schedule`` and ``advisory_updates``)."""
    advisory_update_pass(settings, db, queue)
    periodic(db, TaskService(db, queue), settings.vulndb_path, lambda job_id: queue.send(job_id))


HANDLERS: dict[str, Handler] = {
    "security.scan_task": scan_task,
    "security.sync_task": sync_task,
    "security.scan_on_push": scan_on_push,
    "security.scan_artifact": scan_artifact,
    "security.rematch": rematch,
    "security.vulndb_update": vulndb_update,
}
