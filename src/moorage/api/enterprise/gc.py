"""Garbage collection of an Enterprise Edition instance: run it now, show and set its schedule, list
its runs, show one with its log, stop one. Fields and types are those of ``huaweicloudsdkswr``'s
``ExecuteScheduleRequestBody``, ``UpdateScheduleRequestBody``, ``GcParameters``, ``ScheduleDetails``,
``GcTask``, ``JobParameters`` and ``PageInfo``. moorage extensions: ``show_gc_task`` also answers
the run's ``log`` (lines), and ``GET .../system/gc/{gc_id}/log`` gives it as text, as Harbor does.

A run of an instance deletes that instance's untagged manifests (when its parameters say so) and
the blobs only that instance's repositories used; blobs of the storage the instances and the shared
registry share are collected by the registry's own runs (``moorage gc``, ``MOORAGE_GC__SCHEDULE``).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from moorage.api.deps import ServicesDep, authorize
from moorage.api.enterprise.common import INSTANCE, timestamp
from moorage.api.enterprise.schemas_gc import (
    ExecutedView,
    GcParametersView,
    GcTaskDetailView,
    GcTaskPageView,
    GcTaskView,
    JobParametersView,
    PageInfoView,
    ScheduleDetailsView,
    ScheduleView,
)
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import INSTANCE_ADMIN, access_rules
from moorage.api.row_ids import RowId
from moorage.domain.errors import Invalid
from moorage.domain.gc import GcLogLine, GcParameters, GcRun

GC = INSTANCE + "/system/gc"
GC_SCHEDULE = GC + "/schedule"
GC_TASK = GC + "/{gc_id}"
GC_TASK_LOG = GC_TASK + "/log"
JOB_NAME = "GARBAGE_COLLECTION"

router = APIRouter(
    tags=["Enterprise Edition garbage collection"], dependencies=[Depends(authorize)], route_class=ManagementRoute
)

ACCESS_RULES = access_rules(
    {
        ("POST", GC_SCHEDULE): INSTANCE_ADMIN,
        ("GET", GC_SCHEDULE): INSTANCE_ADMIN,
        ("PUT", GC_SCHEDULE): INSTANCE_ADMIN,
        ("GET", GC): INSTANCE_ADMIN,
        ("GET", GC_TASK): INSTANCE_ADMIN,
        ("PUT", GC_TASK): INSTANCE_ADMIN,
        ("GET", GC_TASK_LOG): INSTANCE_ADMIN,
    }
)


class GcParametersBody(BaseModel):
    """``GcParameters`` of a request (absent fields take their defaults)."""

    model_config = ConfigDict(extra="ignore")
    delete_untagged: bool | None = None
    workers: int | None = None
    dry_run: bool | None = None

    def parameters(self, default_workers: int) -> GcParameters:
        """The domain form (``Invalid`` for workers outside 1-5)."""
        return GcParameters(
            delete_untagged=bool(self.delete_untagged),
            dry_run=bool(self.dry_run),
            workers=default_workers if self.workers is None else self.workers,
        )


class ExecuteScheduleBody(BaseModel):
    """``ExecuteScheduleObj``."""

    model_config = ConfigDict(extra="ignore")
    type: str = Field(max_length=32)


class ExecuteBody(BaseModel):
    """``ExecuteScheduleRequestBody``."""

    model_config = ConfigDict(extra="ignore")
    schedule: ExecuteScheduleBody
    parameters: GcParametersBody | None = None


class ScheduleBody(BaseModel):
    """``ScheduleObj``."""

    model_config = ConfigDict(extra="ignore")
    type: str = Field(max_length=32)
    cron: str | None = Field(default=None, max_length=128)


class UpdateBody(BaseModel):
    """``UpdateScheduleRequestBody``."""

    model_config = ConfigDict(extra="ignore")
    schedule: ScheduleBody
    parameters: GcParametersBody | None = None


def task_view(run: GcRun) -> GcTaskView:
    """A run as ``GcTask``."""
    figures = run.figures
    parameters = JobParametersView(
        delete_untagged=run.parameters.delete_untagged,
        workers=run.parameters.workers,
        dry_run=run.parameters.dry_run,
        purged_blobs=figures.blobs,
        purged_manifests=figures.manifests,
        freed_space=figures.freed_bytes,
    )
    return GcTaskView(
        id=run.id,
        job_name=JOB_NAME,
        job_kind=run.trigger.value,
        job_parameters=parameters,
        job_status=run.status.value,
        creation_time=timestamp(run.created_at),
        update_time=timestamp(run.updated_at),
    )


def log_line(line: GcLogLine) -> str:
    """``2026-12-08T10:00:00.123Z [info] message``."""
    return f"{timestamp(line.at)} [{line.level}] {line.message}"


@router.post(GC_SCHEDULE, status_code=201, response_model=ExecutedView)
async def execute_gc_schedule(instance_id: str, body: ExecuteBody, services: ServicesDep) -> ExecutedView:
    """Collect the instance's garbage now (one run at a time)."""
    if body.schedule.type != "Manual":
        raise Invalid(
            f"schedule type must be Manual to run now, got {body.schedule.type!r}", reason="invalid_parameter"
        )
    parameters = (body.parameters or GcParametersBody()).parameters(services.settings.gc.workers)
    return ExecutedView(id=await services.gc.execute_instance(instance_id=instance_id, parameters=parameters))


@router.get(GC_SCHEDULE, response_model=ScheduleView)
async def show_gc_schedule(instance_id: str, services: ServicesDep) -> ScheduleView:
    """The instance's schedule (``None`` until one is set) and its next run."""
    schedule, following = await services.gc.schedule(instance_id=instance_id)
    return ScheduleView(
        schedule=ScheduleDetailsView(type=schedule.type.value, cron=schedule.cron, next_scheduled_time=following),
        parameters=GcParametersView(
            delete_untagged=schedule.parameters.delete_untagged,
            workers=schedule.parameters.workers,
            dry_run=schedule.parameters.dry_run,
        ),
    )


@router.put(GC_SCHEDULE)
async def update_gc_schedule(instance_id: str, body: UpdateBody, services: ServicesDep) -> Response:
    """Set the schedule: ``Custom`` with a six-field cron expression (UTC), or ``None``. An invalid
    request changes nothing."""
    parameters = body.parameters.parameters(services.settings.gc.workers) if body.parameters else None
    await services.gc.set_schedule(
        instance_id=instance_id, type_=body.schedule.type, cron=body.schedule.cron, parameters=parameters
    )
    return Response(status_code=200)


@router.get(GC, response_model=GcTaskPageView, response_model_exclude_none=True)
async def list_gc_tasks(
    instance_id: str,
    services: ServicesDep,
    marker: str | None = Query(default=None, max_length=64),
    limit: int | None = Query(default=None),
    status: str | None = Query(default=None, max_length=16),
) -> GcTaskPageView:
    """The instance's runs, newest first (``marker``: the previous page's ``next_marker``)."""
    page = await services.gc.list_runs(instance_id=instance_id, status=status, marker=marker, limit=limit)
    return GcTaskPageView(
        page_info=PageInfoView(next_marker=page.next_marker), tasks=[task_view(run) for run in page.items]
    )


@router.get(GC_TASK, response_model=GcTaskDetailView)
async def show_gc_task(instance_id: str, gc_id: RowId, services: ServicesDep) -> GcTaskDetailView:
    """One run, with its log."""
    run = await services.gc.get(instance_id=instance_id, run_id=gc_id)
    lines = await services.gc.log(instance_id=instance_id, run_id=gc_id)
    return GcTaskDetailView(**task_view(run).model_dump(), log=[log_line(line) for line in lines])


@router.put(GC_TASK)
async def stop_gc_task(instance_id: str, gc_id: RowId, services: ServicesDep) -> Response:
    """Stop a run: a pending one at once, a running one after its current batch."""
    await services.gc.stop(instance_id=instance_id, run_id=gc_id)
    return Response(status_code=200)


@router.get(GC_TASK_LOG, response_class=PlainTextResponse)
async def show_gc_task_log(instance_id: str, gc_id: RowId, services: ServicesDep) -> PlainTextResponse:
    """A run's log as text, one line per event (a moorage extension, as Harbor's GC log)."""
    lines = await services.gc.log(instance_id=instance_id, run_id=gc_id)
    return PlainTextResponse("".join(log_line(line) + "\n" for line in lines))
