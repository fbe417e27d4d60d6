"""Asset and scan statistics, the security report statistic and its export tasks, the baseline
export (``/v5/{project_id}/image/asset/statistics``, ``/image/pay-per-scan/statistics``,
``/image/security-report/...``, ``/image/baseline/export``), and moorage's download of an
export (``/image/export-tasks/{task_id}``, ``.../file?format=csv|html``): exports are made
before the answer; the security report downloads as HTML by default, the baseline export as CSV."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.hss import account_schemas as ac
from moorage.api.hss.fields import Short, Text
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import ACCOUNT, ADMIN, access_rules
from moorage.api.swr.wire import refuse_nul_characters
from moorage.domain.errors import Invalid
from moorage.domain.security import IMAGE_TYPES, ImageFilter, ScanStatus, SeverityLevel
from moorage.domain.security_tasks import ReportSelection
from moorage.services.security.detail_vocabulary import choice
from moorage.services.security.reports import FORMATS

router = APIRouter(
    tags=["HSS reports"], dependencies=[Depends(refuse_nul_characters), Depends(authorize)], route_class=ManagementRoute
)

ASSETS = "/v5/{project_id}/image/asset/statistics"
SCANS = "/v5/{project_id}/image/pay-per-scan/statistics"
REPORT_STATISTIC = "/v5/{project_id}/image/security-report/statistic"
REPORT_EXPORT = "/v5/{project_id}/image/security-report/export-tasks"
BASELINE_EXPORT = "/v5/{project_id}/image/baseline/export"
EXPORT_TASK = "/v5/{project_id}/image/export-tasks/{task_id}"
EXPORT_FILE = "/v5/{project_id}/image/export-tasks/{task_id}/file"
# Exports are made by domain administrators over every image of the account, so only they read them.
ACCESS_RULES = access_rules(
    {
        ("GET", ASSETS): ACCOUNT,
        ("GET", SCANS): ACCOUNT,
        ("POST", REPORT_STATISTIC): ACCOUNT,
        ("POST", REPORT_EXPORT): ADMIN,
        ("POST", BASELINE_EXPORT): ADMIN,
        ("GET", EXPORT_TASK): ADMIN,
        ("GET", EXPORT_FILE): ADMIN,
    }
)


def selection(body: ac.ReportFilterBody) -> ReportSelection:
    """The images a report body selects."""
    image_type = body.image_type if body.image_type in IMAGE_TYPES else None
    flt = ImageFilter(
        image_types=(image_type,) if image_type else (),
        **body.filter_fields(),
        scan_status=choice("scan_status", body.scan_status, tuple(s.value for s in ScanStatus)),
        latest_version=body.latest_version,
        has_malicious_file=body.has_malicious_file,
        has_vul=body.has_vul,
        has_unsafe_setting=body.has_unsafe_setting,
        risky=body.risky,
        severity_level=choice("severity_level", body.severity_level, tuple(s.value for s in SeverityLevel)),
        instance_name=body.instance_name or None,
        instance_id=body.instance_id or None,
    )
    return ReportSelection(operate_all=bool(body.operate_all), image_ids=tuple(body.image_id_list or ()), filter=flt)


async def _count(services: ServicesDep, principal: PrincipalDep, **filters: object) -> int:
    _, total = await services.security.images.page(
        principal,
        ImageFilter(**filters),  # type: ignore[arg-type]
        sort_key=None,
        descending=False,
        offset=0,
        limit=1,
    )
    return total


def _by_type(registry: int, cicd: int) -> ac.ImageTypeRisk:
    return ac.ImageTypeRisk(local=0, registriy=registry, registry=registry, cicd=cicd)


@router.get(ASSETS, response_model=ac.AssetStatistics)
async def show_image_asset_statistics(
    project_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: Text = None,
) -> ac.AssetStatistics:
    """How many images the account has: in its registries, and uploaded by its pipelines (images on
    hosts do not apply)."""
    cicd = await services.security.cicd.counts(principal)
    return ac.AssetStatistics(local_num=0, cicd_num=cicd.total, registry_num=await _count(services, principal))


@router.get(SCANS, response_model=ac.PayPerScanStatistics)
async def show_image_pay_per_scan_statistics(
    project_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: Text = None,
) -> ac.PayPerScanStatistics:
    """Scanned, risky, high-risk and unscanned images, of the registries and of the pipelines'
    uploads (moorage bills nothing: quotas are 0)."""
    scanned = await _count(services, principal, scan_status=ScanStatus.SUCCESS.value)
    cicd = await services.security.cicd.counts(principal)
    return ac.PayPerScanStatistics(
        repository_scan_num=scanned,
        cicd_scan_num=cicd.scanned,
        free_quota_num=0,
        already_given=False,
        image_free_quota=0,
        high_risk=_by_type(await _count(services, principal, severity_level=SeverityLevel.HIGH.value), cicd.high_risk),
        has_risk=_by_type(await _count(services, principal, risky=True), cicd.risky),
        total=_by_type(await _count(services, principal), cicd.total),
        unscan=_by_type(await _count(services, principal, scan_status=ScanStatus.UNSCAN.value), cicd.unscanned),
    )


@router.post(REPORT_STATISTIC, response_model=ac.ReportStatistic)
async def show_image_security_report_statistic(
    project_id: str,
    body: ac.ReportFilterBody,
    principal: PrincipalDep,
    services: ServicesDep,
    security_report_type: Annotated[str, Query(max_length=32)],
    enterprise_project_id: Text = None,
) -> ac.ReportStatistic:
    """How many rows the security report of the selected images has."""
    table = await services.security.reports.table(principal, security_report_type, selection(body))
    return ac.ReportStatistic(total_num=len(table.rows))


@router.post(REPORT_EXPORT, response_model=ac.ExportTaskId)
async def export_image_security_report_task(
    project_id: str,
    body: ac.ReportFilterBody,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: Text = None,
) -> ac.ExportTaskId:
    """Export the security report of the selected images (``export_size``: at most that many rows)."""
    if not body.security_report_type:
        raise Invalid("security_report_type is required")
    task_id, _ = await services.security.reports.export(
        principal,
        body.security_report_type,
        selection(body),
        export_size=body.export_size,
        kind="security-report",
        file_format="html",
    )
    return ac.ExportTaskId(task_id=task_id)


@router.post(BASELINE_EXPORT, response_model=ac.BaselineExport)
async def batch_export_baseline_task(
    project_id: str,
    body: ac.ReportFilterBody,
    principal: PrincipalDep,
    services: ServicesDep,
    export_size: Annotated[int | None, Query(ge=0, le=2_147_483_647)] = None,
    enterprise_project_id: Text = None,
) -> ac.BaselineExport:
    """Export the failed baseline checks of the selected images."""
    task_id, rows = await services.security.reports.export(
        principal, "risk-config", selection(body), export_size=export_size, kind="baseline", file_format="csv"
    )
    return ac.BaselineExport(record_total_num=rows, task_id=task_id)


@router.get(EXPORT_TASK, response_model=ac.ExportTaskInfo)
async def show_export_task(
    project_id: str,
    task_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
) -> ac.ExportTaskInfo:
    """An export task: its state and what it holds."""
    task, table = await services.security.reports.task(principal, task_id[:64])
    return ac.ExportTaskInfo(
        task_id=task.id,
        kind=task.kind,
        status=task.status,
        file_name=task.file_name,
        file_format=task.file_format,
        record_num=len(table.rows),
        image_num=table.images,
        created_at=task.created_at,
        finished_at=task.finished_at,
    )


@router.get(EXPORT_FILE)
async def download_export(
    project_id: str,
    task_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    format: Short = None,
) -> Response:
    """The exported file, as CSV or HTML (default: the task's own format)."""
    content, media_type, file_name = await services.security.reports.download(
        principal, task_id[:64], choice("format", format, FORMATS)
    )
    return Response(
        content, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{file_name}"'}
    )
