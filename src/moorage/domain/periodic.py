"""Periodic chores: the work every process of every node offers to do each period and exactly one
does (``services/periodic.py`` claims the periods, ``metadata/queries/periodic_runs.py`` stores them)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Chore(StrEnum):
    """The chores the processes share (the names are stored)."""

    UPLOAD_PURGE = "upload-purge"
    """Stale upload sessions, orphaned upload data and temporary files (``moorage serve``)."""
    JOB_RECOVERY = "job-recovery"
    """Jobs whose worker died or whose queue message was lost are sent again (workers)."""
    IMAGE_SECURITY = "image-security"
    """Due advisory database updates, re-matches and scheduled scans are queued (workers)."""


@dataclass(frozen=True, slots=True)
class PeriodicRun:
    """A chore's record (times in epoch milliseconds)."""

    name: str
    next_run_at: int
    """No process runs the chore before this."""
    last_run_at: int
    holder: str
    """``<host>:<pid>`` of the process that ran it last."""
    runs: int
    """How many times it ran, on every node together."""
