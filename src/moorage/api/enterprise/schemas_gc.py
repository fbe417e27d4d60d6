"""Answers of the garbage collection operations (ExecuteGcSchedule, ShowGcSchedule, ListGcTasks,
ShowGcTask), field for field as ``huaweicloudsdkswr`` reads them."""

from __future__ import annotations

from moorage.api.response_model import ResponseModel


class GcParametersView(ResponseModel):
    """``GcParameters``."""

    delete_untagged: bool
    workers: int
    dry_run: bool


class JobParametersView(GcParametersView):
    """``JobParameters``: the run's parameters and what it freed (or, in a dry run, would free)."""

    purged_blobs: int
    purged_manifests: int
    freed_space: int


class GcTaskView(ResponseModel):
    """``GcTask``."""

    id: int
    job_name: str
    job_kind: str
    job_parameters: JobParametersView
    job_status: str
    creation_time: str
    update_time: str


class GcTaskDetailView(GcTaskView):
    """``ShowGcTaskResponse`` and the run's log (a moorage extension)."""

    log: list[str]


class PageInfoView(ResponseModel):
    """``PageInfo``: no ``next_marker`` on the last page."""

    next_marker: str | None = None


class GcTaskPageView(ResponseModel):
    """``ListGcTasksResponse``."""

    page_info: PageInfoView
    tasks: list[GcTaskView]


class ExecutedView(ResponseModel):
    """``ExecuteGcScheduleResponse``."""

    id: int


class ScheduleDetailsView(ResponseModel):
    """``ScheduleDetails``."""

    type: str
    cron: str
    next_scheduled_time: str


class ScheduleView(ResponseModel):
    """``ShowGcScheduleResponse``."""

    schedule: ScheduleDetailsView
    parameters: GcParametersView
