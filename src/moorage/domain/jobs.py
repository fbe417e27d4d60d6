"""Background jobs: the value type and statuses every job kind shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


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


@dataclass(frozen=True, slots=True)
class Job:
    """One job's row."""

    id: str
    kind: str
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
