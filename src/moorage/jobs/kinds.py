"""The handler of each job kind. A handler reads the ids its job was given and calls one service
method, which does the work; it returns a small JSON-able result and must be safe to run twice (a
killed worker's job runs again)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, assert_never

from moorage.domain.jobs import JobKind
from moorage.jobs.resources import WorkerResources
from moorage.jobs.runner import Handler, JobContext
from moorage.services.enterprise.replication import runner as replication_runner
from moorage.services.enterprise.sign_job import run_execution
from moorage.services.events.consumers import delivery_policy
from moorage.services.events.delivery import deliver
from moorage.services.events.retention import prune
from moorage.services.lifecycle.runs import GcRunService
from moorage.services.replication.image_sync import run_sync_job
from moorage.services.retention import runner as retention_runner
from moorage.services.security.advisory_updates import JobBuildProgress, UpdatePolicy, run_update
from moorage.services.security.image_scans import ImageScans
from moorage.services.security.periodic import vulndb_share
from moorage.services.security.rematch import rematch_all
from moorage.services.security.task_runs import TaskRuns
from moorage.services.uploads import UploadService

Context = JobContext[WorkerResources]


log = logging.getLogger(__name__)


def purge_uploads(context: Context) -> dict[str, Any]:
    """Delete stale upload sessions and orphaned upload data (also run periodically by the server)."""
    resources = context.resources
    registry = resources.settings.registry
    removed = asyncio.run(
        UploadService(resources.db, resources.store).purge(
            older_than_seconds=registry.upload_stale_after_seconds,
            idle_after_seconds=registry.temporary_stale_after_seconds,
        )
    )
    return {"removed": removed}


def sign_execution(context: Context) -> dict[str, Any]:
    """Run one execution of an Enterprise Edition signature policy (plan, sign, settle)."""
    resources = context.resources
    return run_execution(
        context,
        int(context.job.params["execution_id"]),
        settings=resources.settings,
        db=resources.db,
        store=resources.store,
        master_key=resources.master_key(),
    )


def garbage_collection(context: Context) -> dict[str, Any]:
    """Do one garbage collection run (the API's, or a schedule's); safe to run again after a crash."""
    resources = context.resources
    service = GcRunService(resources.db, resources.store, resources.settings.gc, jobs=None)
    run = asyncio.run(service.execute(int(context.job.params["run_id"]), stopping=lambda: context.stopping))
    return {"run_id": run.id, "status": run.status.value, **run.figures.to_json()}


def retention_run(context: Context) -> dict[str, Any]:
    """Run one retention of the shared edition (delete the tags none of its rules keeps)."""
    resources = context.resources
    return retention_runner.run_shared(
        context, int(context.job.params["retention_id"]), settings=resources.settings, db=resources.db
    )


def retention_execution(context: Context) -> dict[str, Any]:
    """Run one execution of an Enterprise Edition retention policy (plan, delete, settle)."""
    resources = context.resources
    return retention_runner.run_execution(
        context, int(context.job.params["execution_id"]), settings=resources.settings, db=resources.db
    )


def _image_scans(resources: WorkerResources) -> ImageScans:
    return ImageScans(resources.settings, resources.db, resources.store, resources.master_key)


def scan_task(context: Context) -> dict[str, Any]:
    """Scan every image of a scan task."""
    return TaskRuns(_image_scans(context.resources)).run_scan_task(context, str(context.job.params["task_id"]))


def sync_task(context: Context) -> dict[str, Any]:
    """Synchronise every registry of a sync task."""
    return TaskRuns(_image_scans(context.resources)).run_sync_task(context, str(context.job.params["task_id"]))


def scan_on_push(context: Context) -> dict[str, Any]:
    """Record a pushed tag in its owner's image list and scan it."""
    params = context.job.params
    return _image_scans(context.resources).scan_pushed(
        context, repository_id=int(params["repository_id"]), tag=str(params["tag"]), digest=str(params["digest"])
    )


def scan_artifact(context: Context) -> dict[str, Any]:
    """Scan one manifest of moorage's repositories on request (the Enterprise Edition's artifact scan)."""
    params = context.job.params
    return _image_scans(context.resources).scan_artifact(
        context,
        repository_id=int(params["repository_id"]),
        digest=str(params["digest"]),
        name=str(params["name"]),
        requested_at=int(params["requested_at"]),
    )


def rematch(context: Context) -> dict[str, Any]:
    """Re-match every stored inventory against the installed advisory database (the published one
    first, when it is shared: the re-match follows a new build made on another worker)."""
    resources = context.resources
    share = vulndb_share(resources.settings, resources.db, resources.store)
    if share is not None:
        try:
            asyncio.run(share.refresh())
        except Exception:  # the local copy then; results against it are re-matched once it is current
            log.exception("fetching the published advisory database before a re-match failed")
    done = rematch_all(
        resources.db,
        resources.settings.vulndb_path,
        check_stopped=context.check_stopped,
        progress=lambda n: context.progress(n),
    )
    return {"rematched": done}


def vulndb_update(context: Context) -> dict[str, Any]:
    """Build the advisory database from the configured sources, then queue the re-match of what was
    scanned against another database or none."""
    resources = context.resources
    settings = resources.settings
    return run_update(
        resources.db,
        UpdatePolicy.of(settings),
        settings.vulndb_path,
        progress=JobBuildProgress(context.progress, context.check_stopped),
        send=lambda job_id: resources.queue.send(job_id),
        share=vulndb_share(settings, resources.db, resources.store),
    )


def webhook_delivery(context: Context) -> dict[str, Any]:
    """Send one webhook or trigger delivery (one attempt; failures that may pass are retried later)."""
    resources = context.resources
    return deliver(
        context, db=resources.db, master_key=resources.master_key(), policy=delivery_policy(resources.settings)
    )


def events_prune(context: Context) -> dict[str, Any]:
    """Remove audit records and webhook deliveries past their retention."""
    resources = context.resources
    return dict(prune(resources.db, retention_days=resources.settings.events.audit_retention_days))


def replication_execution(context: Context) -> dict[str, Any]:
    """Run one execution of an Enterprise Edition replication policy (plan, copy, settle)."""
    resources = context.resources
    return replication_runner.run_execution(
        context,
        int(context.job.params["execution_id"]),
        settings=resources.settings,
        db=resources.db,
        store=resources.store,
        master_key=resources.master_key(),
        jobs=resources.queue,
    )


def image_sync(context: Context) -> dict[str, Any]:
    """Copy one tag to a peer site (shared-edition image synchronisation)."""
    resources = context.resources
    return run_sync_job(context, settings=resources.settings, db=resources.db, store=resources.store)


def handler_for(kind: JobKind) -> Handler[WorkerResources]:
    """The handler of a job kind (mypy checks that every kind has one)."""
    match kind:
        case JobKind.PURGE_UPLOADS:
            return purge_uploads
        case JobKind.SIGN_EXECUTION:
            return sign_execution
        case JobKind.GARBAGE_COLLECTION:
            return garbage_collection
        case JobKind.RETENTION_RUN:
            return retention_run
        case JobKind.RETENTION_EXECUTION:
            return retention_execution
        case JobKind.SCAN_TASK:
            return scan_task
        case JobKind.SYNC_TASK:
            return sync_task
        case JobKind.SCAN_ON_PUSH:
            return scan_on_push
        case JobKind.SCAN_ARTIFACT:
            return scan_artifact
        case JobKind.REMATCH:
            return rematch
        case JobKind.VULNDB_UPDATE:
            return vulndb_update
        case JobKind.WEBHOOK_DELIVERY:
            return webhook_delivery
        case JobKind.EVENTS_PRUNE:
            return events_prune
        case JobKind.REPLICATION_EXECUTION:
            return replication_execution
        case JobKind.IMAGE_SYNC:
            return image_sync
        case _:
            assert_never(kind)


HANDLERS: dict[str, Handler[WorkerResources]] = {kind: handler_for(kind) for kind in JobKind}
