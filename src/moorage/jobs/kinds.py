"""The job kinds moorage runs, by name. Each handler takes a ``JobContext`` and returns a small
JSON-able result; it must be safe to run twice (a killed worker's job runs again)."""

from __future__ import annotations

from typing import Any

from moorage.jobs.runner import Handler, JobContext


def purge_uploads(context: JobContext) -> dict[str, Any]:
    """Delete stale upload sessions and orphaned upload data (also run periodically by the server)."""
    import asyncio

    from moorage.services.uploads import UploadService

    settings = context.resources["settings"]
    service = UploadService(context.db, context.resources["store"])
    removed = asyncio.run(service.purge(older_than_seconds=settings.registry.upload_stale_after_seconds,
                                        idle_after_seconds=settings.registry.temporary_stale_after_seconds))
    return {"removed": removed}


def sign_execution(context: JobContext) -> dict[str, Any]:
    """Run one execution of an Enterprise Edition signature policy (plan, sign, settle)."""
    from moorage.services.enterprise.sign_job import run_sign_job

    return run_sign_job(context)


def garbage_collection(context: JobContext) -> dict[str, Any]:
    """Do one garbage collection run (the API's, or a schedule's); safe to run again after a crash."""
    import asyncio

    from moorage.services.lifecycle.runs import GcRunService

    settings = context.resources["settings"]
    service = GcRunService(context.db, context.resources["store"], settings.gc, jobs=None)
    run = asyncio.run(service.execute(int(context.job.params["run_id"]), stopping=lambda: context.stopping))
    return {"run_id": run.id, "status": run.status.value, **run.figures.to_json()}


def _security_handlers() -> dict[str, Handler]:
    from moorage.jobs import security

    return security.HANDLERS


HANDLERS: dict[str, Handler] = {
    "registry.purge_uploads": purge_uploads,
    "enterprise.sign_execution": sign_execution,
    "registry.gc": garbage_collection,
    **_security_handlers(),
}
