"""Scan, sync and export tasks: the items a new task is made of, the task list's filters, and
export tasks."""

from __future__ import annotations

from dataclasses import dataclass, field

from moorage.domain.security import ImageFilter


@dataclass(frozen=True, slots=True)
class NewItem:
    """An item of a task being created."""

    label: str
    image_row_id: int | None = None
    registry_id: str = ""
    manifest_digest: str = ""


@dataclass(frozen=True, slots=True)
class TaskQuery:
    """Filters of the task list (None: any)."""

    type: str | None = None
    task_type: str | None = None
    task_name: str | None = None
    task_id: str | None = None
    created_after: int | None = None
    ended_before: int | None = None
    finished: bool | None = None
    scan_scope: int | None = None


@dataclass(frozen=True, slots=True)
class ExportTask:
    """An export task (``content``: the compressed table, once done)."""

    id: str
    domain_id: str
    kind: str
    file_format: str
    status: str
    file_name: str
    content: bytes | None
    created_at: int
    finished_at: int


@dataclass(frozen=True, slots=True)
class ReportSelection:
    """Which images a report covers: every image matching ``filter`` (``operate_all``), or the
    images named in ``image_ids`` (the lists' ids)."""

    operate_all: bool
    image_ids: tuple[str, ...] = ()
    filter: ImageFilter = field(default_factory=ImageFilter)
