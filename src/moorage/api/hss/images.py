"""The image lists: SWR images (``GET /v5/{project_id}/image/swr-repository``, ListSwrImageRepository), every
connected registry's images (``GET /v5/{project_id}/image/registries/images``, ListRegistryImages), and
synchronising moorage's own images into them (``POST /v5/{project_id}/image/synchronize``).

Filters: ``namespace``, ``instance_id``, ``instance_name``, ``registry_name``, ``scan_status`` and
``severity_level`` match exactly; ``image_name`` and ``image_version`` match a part; ``image_size``
is an upper bound (bytes); the time pairs are inclusive ranges (epoch ms); ``latest_version=true``
keeps the newest tag of each repository (false: every tag); ``has_vul``, ``has_malicious_file``,
``has_unsafe_setting`` and ``risky`` test the counts (false: none of them); ``is_multarch`` keeps
multi-architecture images (or the others). Without a sort key, newest updates come first.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.hss import schemas as s
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import ACCOUNT, ADMIN, access_rules
from moorage.api.swr.wire import refuse_nul_characters
from moorage.domain.security import (
    IMAGE_TYPES,
    LOCAL_IMAGE,
    SWR_IMAGE_TYPES,
    ImageFilter,
    ImageRow,
    ScanStatus,
    SeverityLevel,
    failure_description,
)
from moorage.services.security.detail_vocabulary import choice

router = APIRouter(
    tags=["HSS images"], dependencies=[Depends(refuse_nul_characters), Depends(authorize)], route_class=ManagementRoute
)

SWR_LIST = "/v5/{project_id}/image/swr-repository"
REGISTRY_LIST = "/v5/{project_id}/image/registries/images"
SYNCHRONIZE = "/v5/{project_id}/image/synchronize"
ACCESS_RULES = access_rules(
    {
        ("GET", SWR_LIST): ACCOUNT,
        ("GET", REGISTRY_LIST): ACCOUNT,
        ("POST", SYNCHRONIZE): ADMIN,
    }
)

OFFSET_MAX = 2_000_000
TIME_MAX = 9_223_372_036_854_775_807
SCAN_STATUSES = tuple(status.value for status in ScanStatus)
SEVERITY_LEVELS = tuple(level.value for level in SeverityLevel)


def _text(value: str | None) -> str | None:
    return value if value else None


def _scannable(row: ImageRow) -> bool:
    return row.shared_status != "expired"


def swr_item(row: ImageRow) -> s.PrivateImageRepositoryInfo:
    """A row as ListSwrImageRepository shows it (``scan_failed_desc`` carries the failure code there)."""
    return s.PrivateImageRepositoryInfo(
        id=row.id,
        namespace=row.namespace,
        image_name=row.image_name,
        image_id=row.image_id,
        image_digest=row.image_digest,
        image_version=row.image_version,
        image_type=row.image_type,
        latest_version=row.latest_version,
        scan_status=row.scan_status,
        scan_failed_desc=row.scan_failed_code,
        image_size=row.image_size,
        latest_update_time=row.latest_update_time,
        latest_scan_time=row.latest_scan_time,
        vul_num=row.vul_num,
        unsafe_setting_num=row.unsafe_setting_num,
        malicious_file_num=row.malicious_file_num,
        domain_name=row.domain_name,
        shared_status=row.shared_status,
        scannable=_scannable(row),
        instance_name=row.instance_name,
        instance_id=row.instance_id,
        instance_url=row.instance_url,
        association_images=[
            s.AssociateImages(
                image_name=c.image_name,
                image_version=c.image_version,
                image_type=c.image_type,
                namespace=c.namespace,
                image_digest=c.image_digest,
                scan_status=c.scan_status,
            )
            for c in row.children
        ],
    )


def registry_item(row: ImageRow) -> s.RegistryImagesInfo:
    """A row as ListRegistryImages shows it."""
    return s.RegistryImagesInfo(
        id=row.id,
        namespace=row.namespace,
        image_name=row.image_name,
        image_id=row.image_id,
        image_digest=row.image_digest,
        image_version=row.image_version,
        image_type=row.image_type,
        registry_id=row.registry_id,
        registry_name=row.registry_name,
        registry_type=row.registry_type,
        latest_version=row.latest_version,
        scan_status=row.scan_status,
        scan_failed_desc=failure_description(row.scan_status, row.scan_failed_code),
        scan_failed_code=row.scan_failed_code,
        image_size=row.image_size,
        latest_update_time=row.latest_update_time,
        latest_scan_time=row.latest_scan_time,
        latest_sync_time=row.latest_sync_time,
        vul_num=row.vul_num,
        unsafe_setting_num=row.unsafe_setting_num,
        malicious_file_num=row.malicious_file_num,
        domain_name=row.domain_name,
        shared_status=row.shared_status,
        scannable=_scannable(row),
        is_multiple_arch=row.is_multiple_arch,
        instance_name=row.instance_name,
        instance_id=row.instance_id,
        instance_url=row.instance_url,
        severity_level=row.severity_level,
        association_images=[
            s.AssociateImagesInfo(
                id=c.id,
                image_id=c.image_id,
                image_name=c.image_name,
                image_version=c.image_version,
                image_type=c.image_type,
                namespace=c.namespace,
                image_digest=c.image_digest,
                scan_status=c.scan_status,
                vul_num=c.vul_num,
                unsafe_setting_num=c.unsafe_setting_num,
                malicious_file_num=c.malicious_file_num,
            )
            for c in row.children
        ],
    )


@router.get(SWR_LIST, response_model=s.SwrImageList)
async def list_swr_image_repository(
    project_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    image_type: str = Query(max_length=32),
    enterprise_project_id: str | None = Query(default=None, max_length=256),
    namespace: str | None = Query(default=None, max_length=128),
    image_name: str | None = Query(default=None, max_length=255),
    image_version: str | None = Query(default=None, max_length=128),
    latest_version: bool | None = None,
    offset: int = Query(default=0, ge=0, le=OFFSET_MAX),
    limit: int = Query(default=10, ge=1, le=200),
    scan_status: str | None = Query(default=None, max_length=32),
    instance_name: str | None = Query(default=None, max_length=128),
    image_size: int | None = Query(default=None, ge=0, le=TIME_MAX),
    start_latest_update_time: int | None = Query(default=None, ge=0, le=TIME_MAX),
    end_latest_update_time: int | None = Query(default=None, ge=0, le=TIME_MAX),
    start_latest_scan_time: int | None = Query(default=None, ge=0, le=TIME_MAX),
    end_latest_scan_time: int | None = Query(default=None, ge=0, le=TIME_MAX),
    has_malicious_file: bool | None = None,
    has_unsafe_setting: bool | None = None,
    has_vul: bool | None = None,
    instance_id: str | None = Query(default=None, max_length=128),
) -> s.SwrImageList:
    """Images of SWR repositories (private, shared, enterprise) with their security state."""
    kind = choice("image_type", image_type, (*SWR_IMAGE_TYPES, LOCAL_IMAGE))
    if kind == LOCAL_IMAGE or kind is None:
        return s.SwrImageList(total_num=0, data_list=[])  # images on hosts: not applicable to a registry
    flt = ImageFilter(
        image_types=(kind,),
        namespace=_text(namespace),
        image_name=_text(image_name),
        image_version=_text(image_version),
        latest_version=latest_version,
        scan_status=choice("scan_status", scan_status, SCAN_STATUSES),
        instance_name=_text(instance_name),
        instance_id=_text(instance_id),
        image_size=image_size,
        start_latest_update_time=start_latest_update_time,
        end_latest_update_time=end_latest_update_time,
        start_latest_scan_time=start_latest_scan_time,
        end_latest_scan_time=end_latest_scan_time,
        has_malicious_file=has_malicious_file,
        has_unsafe_setting=has_unsafe_setting,
        has_vul=has_vul,
    )
    rows, total = await services.security.images.page(
        principal, flt, sort_key=None, descending=False, offset=offset, limit=limit
    )
    return s.SwrImageList(total_num=total, data_list=[swr_item(r) for r in rows])


@router.get(REGISTRY_LIST, response_model=s.RegistryImageList)
async def list_registry_images(
    project_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: str | None = Query(default=None, max_length=256),
    namespace: str | None = Query(default=None, max_length=128),
    image_name: str | None = Query(default=None, max_length=255),
    image_version: str | None = Query(default=None, max_length=128),
    registry_name: str | None = Query(default=None, max_length=128),
    offset: int = Query(default=0, ge=0, le=OFFSET_MAX),
    image_type: str | None = Query(default=None, max_length=32),
    sort_key: str | None = Query(default=None, max_length=32),
    sort_dir: str | None = Query(default=None, max_length=8),
    limit: int = Query(default=10, ge=1, le=200),
    latest_version: bool | None = None,
    image_size: int | None = Query(default=None, ge=0, le=TIME_MAX),
    scan_status: str | None = Query(default=None, max_length=32),
    start_latest_update_time: int | None = Query(default=None, ge=0, le=TIME_MAX),
    end_latest_update_time: int | None = Query(default=None, ge=0, le=TIME_MAX),
    start_latest_scan_time: int | None = Query(default=None, ge=0, le=TIME_MAX),
    end_latest_scan_time: int | None = Query(default=None, ge=0, le=TIME_MAX),
    start_latest_sync_time: int | None = Query(default=None, ge=0, le=TIME_MAX),
    end_latest_sync_time: int | None = Query(default=None, ge=0, le=TIME_MAX),
    has_malicious_file: bool | None = None,
    has_unsafe_setting: bool | None = None,
    has_vul: bool | None = None,
    risky: bool | None = None,
    instance_id: str | None = Query(default=None, max_length=128),
    instance_name: str | None = Query(default=None, max_length=128),
    is_multarch: bool | None = None,
    severity_level: str | None = Query(default=None, max_length=16),
) -> s.RegistryImageList:
    """Images of every connected registry with their security state."""
    kind = choice("image_type", image_type, IMAGE_TYPES)
    direction = choice("sort_dir", sort_dir, ("asc", "desc"))
    flt = ImageFilter(
        image_types=(kind,) if kind else (),
        namespace=_text(namespace),
        image_name=_text(image_name),
        image_version=_text(image_version),
        registry_name=_text(registry_name),
        latest_version=latest_version,
        image_size=image_size,
        scan_status=choice("scan_status", scan_status, SCAN_STATUSES),
        start_latest_update_time=start_latest_update_time,
        end_latest_update_time=end_latest_update_time,
        start_latest_scan_time=start_latest_scan_time,
        end_latest_scan_time=end_latest_scan_time,
        start_latest_sync_time=start_latest_sync_time,
        end_latest_sync_time=end_latest_sync_time,
        has_malicious_file=has_malicious_file,
        has_unsafe_setting=has_unsafe_setting,
        has_vul=has_vul,
        risky=risky,
        instance_id=_text(instance_id),
        instance_name=_text(instance_name),
        is_multarch=is_multarch,
        severity_level=choice("severity_level", severity_level, SEVERITY_LEVELS),
    )
    rows, total = await services.security.images.page(
        principal, flt, sort_key=_text(sort_key), descending=direction == "desc", offset=offset, limit=limit
    )
    return s.RegistryImageList(total_num=total, data_list=[registry_item(r) for r in rows])


@router.post(SYNCHRONIZE, response_model=s.SynchronizeResponse)
async def run_image_synchronize(
    project_id: str,
    body: s.SynchronizeRequest,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: str | None = Query(default=None, max_length=256),
) -> s.SynchronizeResponse:
    """Record the account's current SWR images of one type (done before the answer)."""
    await services.security.images.synchronize_swr(principal, body.image_type)
    return s.SynchronizeResponse(error_code=0, error_description="")
