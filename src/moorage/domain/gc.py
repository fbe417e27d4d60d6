"""Garbage collection's value types: what a run is asked to do, what it found or freed, and the
runs and schedules the Enterprise Edition's GC API shows (``GcTask``, ``ScheduleDetails``,
``JobParameters`` of ``huaweicloudsdkswr``). The collector itself is ``moorage.services.lifecycle``."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from enum import StrEnum

from moorage.domain.errors import Invalid

MIN_WORKERS = 1
MAX_WORKERS = 5
"""The SDK's bounds of ``workers`` (parallel storage deletions of one run)."""
MAX_RUN_ID = (1 << 63) - 1
"""The largest run id the databases can hold (a 64-bit signed integer): a larger ``gc_id`` names no run."""


class GcRunStatus(StrEnum):
    """A run's state, in the SDK's words (``job_status``)."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCESS = "Success"
    ERROR = "Error"
    STOPPED = "Stopped"

    @property
    def finished(self) -> bool:
        """True once the run will not change any more."""
        return self in (GcRunStatus.SUCCESS, GcRunStatus.ERROR, GcRunStatus.STOPPED)

    @classmethod
    def parse(cls, text: str | None) -> GcRunStatus | None:
        """A status filter of the listing (None when absent; ``Invalid`` for an unknown one)."""
        if text is None or text == "":
            return None
        try:
            return cls(text)
        except ValueError:
            raise Invalid(
                f"status must be one of {', '.join(s.value for s in cls)}, got {text!r}", reason="invalid_parameter"
            ) from None


class GcTrigger(StrEnum):
    """What started a run (the SDK's ``job_kind``)."""

    MANUAL = "MANUAL"
    SCHEDULE = "SCHEDULE"


class ScheduleType(StrEnum):
    """``ScheduleObj.type``: ``None`` (no schedule) or ``Custom`` (the cron expression)."""

    NONE = "None"
    CUSTOM = "Custom"


@dataclass(frozen=True, slots=True)
class GcParameters:
    """What a run does (``GcParameters``)."""

    delete_untagged: bool = False
    """Collect manifests no tag reaches (through indexes and ``subject`` links), once older than the
    grace period; False: only blobs no manifest references."""
    workers: int = 1
    """Storage deletions in flight at once (1-5)."""
    dry_run: bool = False
    """Find and count, change nothing."""

    def __post_init__(self) -> None:
        if not MIN_WORKERS <= self.workers <= MAX_WORKERS:
            raise Invalid(
                f"workers must be between {MIN_WORKERS} and {MAX_WORKERS}, got {self.workers}",
                reason="invalid_parameter",
            )


@dataclass(slots=True)
class GcFigures:
    """What a run freed (or, in a dry run, would free). Counters only grow while the run goes."""

    manifests: int = 0
    """Manifests deleted (untagged, unreachable)."""
    links: int = 0
    """Repository links to blobs removed (a repository no manifest of which uses the blob)."""
    blobs: int = 0
    """Blobs removed (their metadata, and their bytes when storage still had them)."""
    bytes: int = 0
    """Bytes of blob data removed from storage."""
    uploads: int = 0
    """Expired upload sessions (and upload data no session owns) removed."""
    upload_bytes: int = 0
    """Bytes of those uploads."""
    orphans: int = 0
    """Blob files in storage that no metadata knew (left by a process killed mid-push), removed."""
    orphan_bytes: int = 0
    """Bytes of those files."""
    errors: int = 0
    """Storage errors met (each logged; the run went on)."""

    def to_json(self) -> dict[str, int]:
        """Every counter by name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> GcFigures:
        """The counters of ``to_json`` (unknown keys ignored, missing ones zero)."""
        figures = cls()
        for f in fields(cls):
            value = data.get(f.name)
            if isinstance(value, int):
                setattr(figures, f.name, value)
        return figures

    @property
    def freed_bytes(self) -> int:
        """Every byte of storage freed: blobs, uploads and orphaned files."""
        return self.bytes + self.upload_bytes + self.orphan_bytes


@dataclass(frozen=True, slots=True)
class GcRun:
    """One run (``GcTask``): the whole registry's (``instance_id`` None) or one instance's."""

    id: int
    instance_id: str | None
    trigger: GcTrigger
    status: GcRunStatus
    parameters: GcParameters
    figures: GcFigures = field(compare=False)
    job_id: str | None
    stop_requested: bool
    created_at: int
    updated_at: int
    started_at: int | None
    finished_at: int | None


@dataclass(frozen=True, slots=True)
class GcLogLine:
    """One line of a run's log."""

    at: int
    level: str
    message: str


@dataclass(frozen=True, slots=True)
class GcSchedule:
    """An instance's GC schedule (``ScheduleDetails`` and its ``GcParameters``)."""

    type: ScheduleType = ScheduleType.NONE
    cron: str = ""
    parameters: GcParameters = GcParameters()
    updated_at: int = 0

    def with_parameters(self, parameters: GcParameters) -> GcSchedule:
        """The same schedule with other parameters."""
        return replace(self, parameters=parameters)


@dataclass(frozen=True, slots=True)
class GcPage:
    """A page of runs, newest first, and the marker of the next page (None: the last page)."""

    items: tuple[GcRun, ...]
    next_marker: str | None
