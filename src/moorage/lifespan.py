"""What one HTTP process runs besides answering requests, from its start to its stop: the services'
own background work (pull records, enterprise hooks, retention, replication) and two periodic loops,
the purge of stale uploads and the fetch of the published advisory database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI

from moorage.services.periodic import Chore
from moorage.services.security.vulndb_share import VulndbShare
from moorage.services.wiring import Services

log = logging.getLogger(__name__)


def lifespan(services: Services) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The application's lifespan: start the background work, say the process is ready, and at the
    stop end the loops, stop the services and close the database."""

    @contextlib.asynccontextmanager
    async def run(_app: FastAPI) -> AsyncIterator[None]:
        services.pulls.start()
        services.enterprise.start()
        services.retention.start()
        services.replication.start()
        purge = asyncio.get_running_loop().create_task(_purge_uploads_forever(services))
        fetch = asyncio.get_running_loop().create_task(_fetch_advisories_forever(services))
        # Said here, not before the server starts: only now does this process answer requests.
        log.warning("moorage ready: HTTP process %d serving %s", os.getpid(), services.settings.resolved_external_url)
        try:
            yield
        finally:
            for task in (purge, fetch):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await services.enterprise.stop()
            await services.retention.stop()
            await services.replication.stop()
            await services.pulls.stop()
            services.db.dispose()

    return run


async def _purge_uploads_forever(services: Services) -> None:
    """Remove stale upload sessions and orphaned upload data, periodically: every HTTP process of every
    node offers, one of them purges per interval."""
    interval = services.settings.registry.purge_interval_seconds
    while True:
        try:
            if await services.periodic.claim(Chore.UPLOAD_PURGE, interval):
                removed = await services.uploads.purge(
                    older_than_seconds=services.settings.registry.upload_stale_after_seconds,
                    idle_after_seconds=services.settings.registry.temporary_stale_after_seconds,
                )
                if removed:
                    log.info("purged %d stale uploads", removed)
        except Exception:
            log.exception("purging stale uploads failed")
        await asyncio.sleep(interval)


async def _fetch_advisories_forever(services: Services) -> None:
    """Hold the advisory database the workers published (``vulndb_share``), when it is shared: an API
    node answers vulnerability details and ``/healthz`` from its own copy."""
    settings = services.settings
    if not settings.vulndb_shared:
        return
    share = VulndbShare(services.db, services.store, settings.vulndb_path)
    while True:
        try:
            await share.refresh()
        except Exception:
            log.exception("fetching the published advisory database failed")
        await asyncio.sleep(settings.scanner.periodic_interval_seconds)
