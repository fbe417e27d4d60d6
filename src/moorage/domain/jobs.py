"""Background jobs: the value type and statuses every job kind shares, and the interface between the
job runner (``moorage.jobs``) and the services whose methods are the jobs' bodies.

Services never import ``moorage.jobs``: they submit jobs through a ``JobSubmitter`` (the queue the
application builds) and their long-running methods take a ``JobControl`` (the runner's context of
the running job). The runner imports the services; nothing imports back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class JobStatus(StrEnum):
    """Where a job is in its life."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"

    @property
    def finished(self) -> bool:
        """True once the job will not run again."""
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED)


class JobKind(StrEnum):
    """Every kind of job moorage runs; the value is what a job row's ``kind`` holds."""

    PURGE_UPLOADS = "registry.purge_uploads"
    SIGN_EXECUTION = "enterprise.sign_execution"
    GARBAGE_COLLECTION = "registry.gc"
    RETENTION_RUN = "registry.retention_run"
    RETENTION_EXECUTION = "enterprise.retention_execution"
    SCAN_TASK = "security.scan_task"
    SYNC_TASK = "security.sync_task"
    SCAN_ON_PUSH = "security.scan_on_push"
    SCAN_ARTIFACT = "security.scan_artifact"
    REMATCH = "security.rematch"
    VULNDB_UPDATE = "security.vulndb_update"
    WEBHOOK_DELIVERY = "events.webhook_delivery"
    EVENTS_PRUNE = "events.prune"
    REPLICATION_EXECUTION = "enterprise.replication_execution"
    IMAGE_SYNC = "registry.image_sync"


@dataclass(frozen=True, slots=True)
class Job:
    """One job's row."""

    id: str
    kind: str
    """A ``JobKind`` value (a row written by another version may hold a kind this one does not know)."""
    status: JobStatus
    params: dict[str, Any] = field(hash=False, compare=False)
    result: dict[str, Any] | None = field(hash=False, compare=False)
    error: str
    progress: int
    total: int
    attempts: int
    max_attempts: int
    stop_requested: bool
    domain_id: str | None
    created_at: int
    started_at: int | None
    finished_at: int | None


class JobStopped(Exception):
    """Raised inside a job's body (by ``JobControl.check_stopped``) when the job was asked to stop or
    its worker lost the lease; the runner records the job ``stopped``."""


class RetryLater(Exception):
    """Raised by a job's body to be run again after ``delay_seconds`` (its own backoff) rather than the
    runner's; the runner still stops at the job's ``max_attempts``."""

    def __init__(self, message: str, *, delay_seconds: float) -> None:
        super().__init__(message)
        self.delay_seconds = delay_seconds


class JobControl(Protocol):
    """What a job's body may do with the job it runs as: read its row, report progress, and check
    between steps whether it must stop (``moorage.jobs.runner.JobContext`` is one)."""

    @property
    def job(self) -> Job:
        """The job's row as claimed (id, parameters, attempt number)."""
        ...

    def progress(self, done: int, total: int | None = None) -> None:
        """Record progress (written with the next heartbeat)."""
        ...

    def check_stopped(self) -> None:
        """Raise ``JobStopped`` if a stop was requested or the lease was lost."""
        ...


class JobSubmitter(Protocol):
    """What services need of the job queue (``moorage.jobs.queue.JobQueue`` is one)."""

    async def submit(
        self,
        kind: JobKind,
        params: dict[str, Any],
        *,
        dedupe_key: str | None = None,
        domain_id: str | None = None,
        max_attempts: int = 3,
    ) -> Job:
        """Create (or, with ``dedupe_key``, find) a job and send it to the workers."""
        ...

    def send(self, job_id: str, *, delay_seconds: float = 0) -> None:
        """Send a job that exists (created in the caller's transaction) to the workers."""
        ...

    async def stop(self, job_id: str) -> Job:
        """Ask a job to stop (a pending one stops at once)."""
        ...
