"""Submitting jobs and building the huey instance both producers and workers use."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey
from huey.api import TaskWrapper

from moorage.domain.errors import NotFound
from moorage.domain.jobs import Job
from moorage.metadata.database import Database
from moorage.metadata.queries import jobs as q
from moorage.settings import Settings

TASK_NAME = "moorage.run_job"


def build_huey(settings: Settings) -> Huey:
    """The queue transport: Redis when configured, else a SQLite file in the data directory."""
    if settings.redis_url:
        return RedisHuey("moorage", url=settings.redis_url, results=False, utc=True)
    return SqliteHuey("moorage", filename=str(settings.data_dir / "queue.db"), results=False, utc=True, timeout=30)


class JobQueue:
    """Creates job rows and sends their ids to the workers."""

    def __init__(self, db: Database, huey: Huey, *, execute: Callable[[str], Any] | None = None) -> None:
        self.db = db
        self.huey = huey
        # Producers register the task too (with a body that never runs there): huey sends it by name,
        # and the name includes the function's module, so both sides register a function of this module.
        target = execute or _not_here

        def run_job(job_id: str) -> Any:
            return target(job_id)

        self._task: TaskWrapper = huey.task(name=TASK_NAME)(run_job)

    def submit_blocking(
        self,
        kind: str,
        params: dict[str, Any],
        *,
        dedupe_key: str | None = None,
        domain_id: str | None = None,
        max_attempts: int = 3,
    ) -> Job:
        """Create (or, with ``dedupe_key``, find) a job and enqueue it. Synchronous."""
        job_id = secrets.token_hex(16)

        def work(conn: Any) -> tuple[Job, bool]:
            if dedupe_key is not None:
                existing = q.by_dedupe_key(conn, dedupe_key)
                if existing is not None:
                    return existing, False
            q.create(
                conn,
                job_id=job_id,
                kind=kind,
                params=params,
                max_attempts=max_attempts,
                dedupe_key=dedupe_key,
                domain_id=domain_id,
            )
            job = q.get(conn, job_id)
            assert job is not None
            return job, True

        job, created = self.db.run_write(work)
        if created:
            self.send(job.id)
        return job

    async def submit(
        self,
        kind: str,
        params: dict[str, Any],
        *,
        dedupe_key: str | None = None,
        domain_id: str | None = None,
        max_attempts: int = 3,
    ) -> Job:
        """``submit_blocking`` from async code."""
        import anyio.to_thread

        return await anyio.to_thread.run_sync(
            lambda: self.submit_blocking(
                kind, params, dedupe_key=dedupe_key, domain_id=domain_id, max_attempts=max_attempts
            )
        )

    def send(self, job_id: str, *, delay_seconds: float = 0) -> None:
        """Enqueue a message for a job that exists (again, when recovering it)."""
        if delay_seconds > 0:
            self._task.schedule((job_id,), delay=delay_seconds)
        else:
            self._task(job_id)

    async def stop(self, job_id: str) -> Job:
        """Ask a job to stop."""
        job = await self.db.write(lambda conn: q.request_stop(conn, job_id))
        if job is None:
            raise NotFound(f"no job {job_id!r}")
        return job

    async def get(self, job_id: str) -> Job:
        """A job by id."""
        job = await self.db.read(lambda conn: q.get(conn, job_id))
        if job is None:
            raise NotFound(f"no job {job_id!r}")
        return job


def _not_here(job_id: str) -> None:
    raise RuntimeError(f"job {job_id} was executed by a producer; only `moorage worker` runs jobs")
