"""Running one job: claim it with a lease, keep the lease alive while the handler works, record
the outcome, retry failures with backoff, and notice stop requests."""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, TypeVar

from moorage.domain.jobs import Job, JobStatus, JobStopped
from moorage.metadata.database import Database
from moorage.metadata.queries import jobs as q

log = logging.getLogger(__name__)

R = TypeVar("R")
"""What handlers share in one worker process (``moorage.jobs.resources.WorkerResources``)."""


@dataclass
class JobContext(Generic[R]):
    """What a handler gets: its job, the worker's shared resources, progress and stop checks (a
    ``moorage.domain.jobs.JobControl``, which is all the services see of it)."""

    job: Job
    resources: R
    _stop: threading.Event = field(default_factory=threading.Event)
    _progress: list[int | None] = field(default_factory=lambda: [None, None])

    def progress(self, done: int, total: int | None = None) -> None:
        """Record progress (written with the next heartbeat)."""
        self._progress = [done, total if total is not None else self._progress[1]]

    def check_stopped(self) -> None:
        """Raise ``JobStopped`` if a stop was requested or the lease was lost; call it between steps."""
        if self._stop.is_set():
            raise JobStopped(self.job.id)

    @property
    def stopping(self) -> bool:
        """Whether the job should stop as soon as it can."""
        return self._stop.is_set()


Handler = Callable[[JobContext[R]], dict[str, Any] | None]


class JobRunner(Generic[R]):
    """Executes jobs for one worker process."""

    def __init__(
        self,
        db: Database,
        handlers: Mapping[str, Handler[R]],
        *,
        resources: R,
        lease_seconds: int,
        send: Callable[[str, float], None],
    ) -> None:
        self.db = db
        self.handlers = handlers
        self.resources = resources
        self.lease_ms = lease_seconds * 1000
        self.send = send
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def execute(self, job_id: str) -> None:
        """Run a job if it can be claimed (another worker may hold it, or it may be done already)."""
        job = self.db.run_write(lambda conn: q.claim(conn, job_id, worker=self.worker, lease_ms=self.lease_ms))
        if job is None:
            return
        handler = self.handlers.get(job.kind)
        if handler is None:
            self._finish(job, JobStatus.FAILED, None, f"no handler for job kind {job.kind!r}")
            return
        context = JobContext(job, self.resources)
        beating = threading.Event()
        heart = threading.Thread(
            target=self._heartbeat, args=(context, beating), daemon=True, name=f"heartbeat-{job.id[:8]}"
        )
        heart.start()
        try:
            result = handler(context)
        except JobStopped:
            self._finish(job, JobStatus.STOPPED, None, "stopped on request")
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.warning("job %s (%s) attempt %d failed: %s", job.id, job.kind, job.attempts, error)
            log.debug("%s", traceback.format_exc())
            if job.attempts < job.max_attempts:
                delay = min(2**job.attempts, 60)
                if self.db.run_write(
                    lambda conn: q.retry_later(conn, job.id, worker=self.worker, delay_ms=delay * 1000, error=error)
                ):
                    self.send(job.id, delay)
            else:
                self._finish(job, JobStatus.FAILED, None, error)
        else:
            self._finish(job, JobStatus.SUCCEEDED, result or {}, "")
        finally:
            beating.set()
            heart.join()

    def _finish(self, job: Job, status: JobStatus, result: dict[str, Any] | None, error: str) -> None:
        self.db.run_write(
            lambda conn: q.finish(conn, job.id, worker=self.worker, status=status, result=result, error=error)
        )

    def _heartbeat(self, context: JobContext[R], done: threading.Event) -> None:
        interval = max(self.lease_ms / 3000, 0.5)
        while not done.wait(interval):
            try:
                still_mine = self.db.run_write(
                    partial(
                        q.heartbeat,
                        job_id=context.job.id,
                        worker=self.worker,
                        lease_ms=self.lease_ms,
                        progress=context._progress[0],
                        total=context._progress[1],
                    )
                )
                stop = self.db.run_read(lambda conn: q.stop_requested(conn, context.job.id))
            except Exception:
                log.exception("heartbeat of job %s failed", context.job.id)
                continue
            if not still_mine or stop:
                context._stop.set()

    def recover(self, *, stale_pending_seconds: int) -> int:
        """Enqueue jobs whose worker died or whose message was lost; return how many."""
        ids = self.db.run_read(lambda conn: q.recoverable(conn, stale_pending_ms=stale_pending_seconds * 1000))
        for job_id in ids:
            self.send(job_id, 0)
        return len(ids)
