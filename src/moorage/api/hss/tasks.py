"""Scans and synchronisations: image-sync tasks and their registries, batch scans of SWR images,
manual scan tasks, the task list, stopping a task, and the scheduled-scan policy."""

from __future__ import annotations

import contextlib
from enum import StrEnum
from typing import Annotated, assert_never

from fastapi import APIRouter, Depends, Query
from pydantic import BeforeValidator

from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.hss import schemas as s
from moorage.api.hss.images import SCAN_STATUSES
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import ACCOUNT, ADMIN, access_rules
from moorage.api.swr.wire import refuse_nul_characters
from moorage.domain.errors import Invalid, NotFound, NotServed
from moorage.domain.identity import Principal
from moorage.domain.security import (
    IMAGE_TYPES,
    SWR_IMAGE_TYPES,
    ConnectedRegistry,
    ImageFilter,
    SecurityTask,
    TaskItem,
    TaskItemStatus,
    TaskStatus,
)
from moorage.domain.security_images import ImageSelector
from moorage.domain.security_registries import RegistryQuery
from moorage.domain.security_tasks import TaskQuery
from moorage.services.security.detail_vocabulary import choice
from moorage.services.security.registries import RegistryService

router = APIRouter(
    tags=["HSS scans"], dependencies=[Depends(refuse_nul_characters), Depends(authorize)], route_class=ManagementRoute
)

IMAGE = "/v5/{project_id}/image"
ACCESS_RULES = access_rules(
    {
        ("POST", IMAGE + "/image-sync/tasks"): ADMIN,
        ("GET", IMAGE + "/image-sync/tasks/{task_id}/registries"): ACCOUNT,
        ("POST", IMAGE + "/batch-scan"): ADMIN,
        ("POST", IMAGE + "/image-scan/tasks"): ADMIN,
        ("PUT", IMAGE + "/image-scan/tasks/{task_id}/stop"): ADMIN,
        ("GET", IMAGE + "/tasks"): ACCOUNT,
        ("GET", IMAGE + "/scanner-policies"): ACCOUNT,
        ("PUT", IMAGE + "/scanner-policies"): ADMIN,
    }
)


def _hexadecimal(value: object) -> object:
    """A scan scope as HSS documents them (``0x7fffffff``, ``0x000f0000``...), or a plain integer."""
    if isinstance(value, str) and value[:2].lower() == "0x":
        with contextlib.suppress(ValueError):
            return int(value[2:], 16)
    return value


ScanScope = Annotated[int | None, BeforeValidator(_hexadecimal), Query(ge=0, le=0x7FFFFFFF)]


class SyncStatus(StrEnum):
    """HSS's ``sync_status`` of a sync task's registry (a stopped one reads as failed)."""

    FINISHED = "finished"
    RUNNING = "running"
    FAILED = "failed"


def registry_sync_status(status: TaskItemStatus) -> SyncStatus:
    """The ``sync_status`` of a sync task's item."""
    match status:
        case TaskItemStatus.WAITING | TaskItemStatus.RUNNING:
            return SyncStatus.RUNNING
        case TaskItemStatus.SUCCESS:
            return SyncStatus.FINISHED
        case TaskItemStatus.FAILED | TaskItemStatus.STOPPED:
            return SyncStatus.FAILED
        case _:
            assert_never(status)


@router.post(IMAGE + "/image-sync/tasks", response_model=s.Created)
async def create_image_synchronize_task(
    project_id: str,
    body: s.CreateSyncTaskRequest,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: str | None = Query(default=None, max_length=256),
) -> s.Created:
    """Synchronise the registries named (or every registry) in the background."""
    ids = [r.registry_id for r in body.registry_info if r.registry_id]
    if not body.sync_all_registries and not ids:
        raise Invalid("name registries in registry_info or set sync_all_registries")
    task = await services.security.tasks.create_sync_task(principal, registry_ids=ids, every=body.sync_all_registries)
    return s.Created(task_id=task.id)


@router.get(IMAGE + "/image-sync/tasks/{task_id}/registries", response_model=s.AssociateRegistryList)
async def list_associate_registries(
    project_id: str,
    task_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: str | None = Query(default=None, max_length=256),
    registry_name: str | None = Query(default=None, max_length=128),
    registry_type: str | None = Query(default=None, max_length=128),
    offset: int = Query(default=0, ge=0, le=2_000_000),
    limit: int = Query(default=10, ge=1, le=200),
    sync_status: str | None = Query(default=None, max_length=16),
) -> s.AssociateRegistryList:
    """The registries of an image-sync task with how their synchronisation went."""
    wanted_status = choice("sync_status", sync_status, tuple(SyncStatus))
    types = {t.strip() for t in (registry_type or "").split(",") if t.strip()}
    task, items = await services.security.tasks.items(principal, task_id)
    if task.type != "image_sync":
        raise Invalid(f"task {task_id} is not an image-sync task")
    registries = {r.id: r for r in await _registries(services.security.registries, principal, items)}
    rows = []
    for item in items:
        registry = registries.get(item.registry_id)
        kind = registry.type.value if registry else ""
        status = registry_sync_status(item.status)
        if registry_name and registry_name not in item.label:
            continue
        if types and kind not in types:
            continue
        if wanted_status and status != wanted_status:
            continue
        reason = item.failed_reason or ("stopped" if item.status is TaskItemStatus.STOPPED else "")
        rows.append(
            s.AssociateRegistriesResponseInfo(
                registry_id=item.registry_id,
                registry_name=item.label,
                registry_type=kind,
                sync_status=status,
                failed_reason=reason,
            )
        )
    return s.AssociateRegistryList(data_list=rows[offset : offset + limit], total_num=len(rows))


async def _registries(
    registries: RegistryService, principal: Principal, items: list[TaskItem]
) -> list[ConnectedRegistry]:
    found = []
    for registry_id in {i.registry_id for i in items}:
        try:
            found.append(await registries.get(principal, registry_id))
        except NotFound:
            continue  # a deleted registry keeps its item, without a type
    return found


def _label_parts(label: str) -> tuple[str, str, str]:
    """``namespace/name:tag`` -> (namespace, name, tag)."""
    path, _, tag = label.rpartition(":")
    namespace, sep, name = path.partition("/")
    return (namespace, name, tag) if sep else ("", namespace, tag)


@router.post(IMAGE + "/batch-scan", response_model=s.Created)
async def batch_scan_swr_image(
    project_id: str,
    body: s.BatchScanRequest,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: str | None = Query(default=None, max_length=256),
) -> s.Created:
    """Scan SWR images: those listed, or every one matching the filters (``operate_all``)."""
    if body.operate_all:
        kind = choice("image_type", body.image_type, SWR_IMAGE_TYPES)
        everything = ImageFilter(
            image_types=(kind,) if kind else SWR_IMAGE_TYPES,
            **body.filter_fields(),
            scan_status=choice("scan_status", body.scan_status, SCAN_STATUSES),
            latest_version=body.latest_version,
        )
        task = await services.security.tasks.create_scan_task(principal, everything=everything)
    else:
        if not body.image_info_list:
            raise Invalid("image_info_list is empty and operate_all is false")
        kind = choice("image_type", body.image_type, SWR_IMAGE_TYPES) or ""
        selectors = [
            ImageSelector(
                namespace=i.namespace,
                image_name=i.image_name,
                image_version=i.image_version,
                image_type="instance_image" if i.instance_id else kind,
            )
            for i in body.image_info_list
        ]
        task = await services.security.tasks.create_scan_task(principal, selectors=selectors)
    return s.Created(task_id=task.id)


@router.post(IMAGE + "/image-scan/tasks", response_model=s.Created)
async def create_manual_image_scan_task(
    project_id: str,
    body: s.CreateScanTaskRequest,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: str | None = Query(default=None, max_length=256),
    global_image_type: str | None = Query(default=None, max_length=16),
) -> s.Created:
    """A manual scan task over the images named, or over every registry image (``is_all``)."""
    if global_image_type == "local":
        raise NotServed(
            "scans of images on hosts (global_image_type=local) do not apply to moorage, a registry",
            reason="not_applicable",
        )
    if body.is_all:
        query = body.query_info or s.ScanQueryInfo()
        kind = choice("image_type", query.image_type, IMAGE_TYPES)
        everything = ImageFilter(
            image_types=(kind,) if kind else (),
            **query.filter_fields(),
            scan_status=choice("scan_status", query.scan_status, SCAN_STATUSES),
            has_vul=query.has_vul,
        )
        task = await services.security.tasks.create_scan_task(
            principal, everything=everything, scan_scope=body.scan_scope, rate_limit=body.rate_limit
        )
    else:
        if not body.image_info:
            raise Invalid("image_info is empty and is_all is false")
        selectors = [
            ImageSelector(
                row_id=i.id,
                namespace=i.namespace,
                image_name=i.image_name,
                image_version=i.image_version,
                image_digest=i.image_digest,
                registry_id=i.registry_id,
            )
            for i in body.image_info
        ]
        task = await services.security.tasks.create_scan_task(
            principal, selectors=selectors, scan_scope=body.scan_scope, rate_limit=body.rate_limit
        )
    return s.Created(task_id=task.id)


@router.put(IMAGE + "/image-scan/tasks/{task_id}/stop", response_model=s.Empty)
async def stop_image_scan_task(
    project_id: str,
    task_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: str | None = Query(default=None, max_length=256),
) -> s.Empty:
    """Stop a scan (or sync) task: images not scanned yet keep the state they had."""
    await services.security.tasks.stop(principal, task_id)
    return s.Empty()


def progress_number(task: SecurityTask) -> int:
    """HSS's progress number: 100 done, 0-99 progress, -1 stopped, -3 failed."""
    match task.status:
        case TaskStatus.FINISHED:
            return 100
        case TaskStatus.STOPPED:
            return -1
        case TaskStatus.FAILED:
            return -3
        case TaskStatus.WAITING | TaskStatus.RUNNING:
            done = task.succeeded + task.failed
            return min(99, done * 100 // task.total) if task.total else 0
        case _:
            assert_never(task.status)


def _remaining_minutes(task: SecurityTask) -> int:
    left = task.total - task.succeeded - task.failed
    if task.status.ended or left <= 0:
        return 0
    if task.rate_limit:
        return -(-left * 60 // task.rate_limit)
    return 0


@router.get(IMAGE + "/tasks", response_model=s.TaskList)
async def list_image_scan_task(
    project_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: str | None = Query(default=None, max_length=256),
    global_image_type: str | None = Query(default=None, max_length=16),
    offset: int = Query(default=0, ge=0, le=2_000_000),
    limit: int = Query(default=10, ge=1, le=200),
    type: str | None = Query(default=None, max_length=16),
    task_type: str | None = Query(default=None, max_length=16),
    task_name: str | None = Query(default=None, max_length=256),
    task_id: str | None = Query(default=None, max_length=256),
    create_time: int | None = Query(default=None, ge=0, le=4_070_880_000_000),
    end_time: int | None = Query(default=None, ge=0, le=4_070_880_000_000),
    task_status: str | None = Query(default=None, max_length=16),
    scan_scope: ScanScope = None,
) -> s.TaskList:
    """Scan and sync tasks, newest first (``task_name`` matches a part; ``create_time``: created at or
    after; ``end_time``: ended at or before; ``task_status``: scanning or finished)."""
    if global_image_type == "local":
        return s.TaskList(data_list=[], total_num=0)
    status = choice("task_status", task_status, ("scanning", "finished"))
    query = TaskQuery(
        type=choice("type", type, ("image_sync", "image_scan")),
        task_type=choice("task_type", task_type, ("cycle", "manual", "autoSync", "manualSync")),
        task_name=task_name or None,
        task_id=task_id or None,
        created_after=create_time,
        ended_before=end_time,
        finished=None if status is None else status == "finished",
        scan_scope=scan_scope,
    )
    found, total = await services.security.tasks.page(principal, query, offset=offset, limit=limit)
    registries, _ = await services.security.registries.page(principal, RegistryQuery(), offset=0, limit=1000)
    by_id = {r.id: r for r in registries}
    return s.TaskList(total_num=total, data_list=[_task_info(task, failed, by_id) for task, failed in found])


def _task_info(
    task: SecurityTask, failed: list[TaskItem], registries: dict[str, ConnectedRegistry]
) -> s.ImageScanTaskInfo:
    failed_images = []
    for item in failed if task.type == "image_scan" else []:
        namespace, name, tag = _label_parts(item.label)
        registry = registries.get(item.registry_id)
        failed_images.append(
            s.FailedImage(
                id=item.image_row_id or 0,
                registry_id=item.registry_id,
                registry_name=registry.name if registry else "",
                image_name=name,
                image_version=tag,
                namespace=namespace,
                registry_type=registry.type.value if registry else "",
                failed_reason=item.failed_reason,
            )
        )
    return s.ImageScanTaskInfo(
        task_id=task.id,
        policy_id=task.policy_id,
        task_name=task.name,
        begin_time=task.begin_time,
        end_time=task.end_time,
        remain_min=_remaining_minutes(task),
        task_type=task.task_type,
        image_type="registry",
        task_status=progress_number(task),
        scan_scope=task.scan_scope,
        rate_limit=task.rate_limit,
        is_all=task.is_all,
        failed_num=task.failed,
        success_num=task.succeeded,
        total_num=task.total,
        risky_num=task.risky,
        sync_task_type=task.task_type if task.type == "image_sync" else "",
        failed_reason=task.failed_reason,
        failed_images=failed_images,
    )


@router.get(IMAGE + "/scanner-policies", response_model=s.ScanPolicyResponse)
async def list_image_scan_policy(
    project_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: str | None = Query(default=None, max_length=256),
    global_image_type: str | None = Query(default=None, max_length=16),
    type: str | None = Query(default=None, max_length=16),
) -> s.ScanPolicyResponse:
    """The scheduled-scan policy with every registry of the account (selected or not)."""
    policy = await services.security.tasks.scan_policy(principal)
    registries, total = await services.security.registries.page(principal, RegistryQuery(), offset=0, limit=1000)
    selected = set(policy.registry_ids)
    return s.ScanPolicyResponse(
        is_all=not selected,
        enabled=policy.enabled,
        scan_cycle=policy.scan_cycle,
        scan_scope=policy.scan_scope,
        rate_limit=policy.rate_limit,
        time_scope=policy.time_scope,
        total_registry_num=total,
        registry_list=[
            s.PolicyRegistry(
                is_selected=not selected or r.id in selected,
                registry_name=r.name,
                registry_id=r.id,
                registry_type=r.type.value,
            )
            for r in registries
        ],
    )


@router.put(IMAGE + "/scanner-policies", response_model=s.Empty)
async def modify_image_scan_policy(
    project_id: str,
    body: s.ScanPolicyRequest,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: str | None = Query(default=None, max_length=256),
) -> s.Empty:
    """Replace the scheduled-scan policy (no registry named: every registry)."""
    await services.security.tasks.set_scan_policy(
        principal,
        enabled=body.enabled,
        scan_cycle=body.scan_cycle,
        scan_scope=body.scan_scope,
        rate_limit=body.rate_limit,
        time_scope=body.time_scope,
        registry_ids=[r.registry_id for r in body.registry_info if r.registry_id],
    )
    return s.Empty()
