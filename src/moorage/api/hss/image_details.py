"""One image's scan details (``/v5/{project_id}/image/{image_id}/...``): vulnerabilities, installed
software, files and their totals, malicious files, sensitive information, software that cannot be
checked, and the base image. ``image_id`` is the image lists' ``id`` (a row id), a manifest
digest, or the image id (config digest hex, 12 characters at least); the other query fields
narrow which image is meant. Lists answer ``{"total_num", "data_list"}`` paged by
``offset``/``limit``; an image not scanned successfully has empty lists.

Included after part one's routers: ``/image/registries/images`` and the like must win over
``/image/{image_id}/...``."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends

from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.hss import detail_schemas as d
from moorage.api.hss.fields import ByTag, ByVersion, Paged, Short, Text
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import ACCOUNT, access_rules
from moorage.api.swr.wire import refuse_nul_characters
from moorage.domain.security_findings import ImageVulnerabilityQuery
from moorage.services.security.detail_vocabulary import HANDLE_STATUSES, NECESSITIES, VUL_TYPES, choice

router = APIRouter(
    tags=["HSS image details"],
    dependencies=[Depends(refuse_nul_characters), Depends(authorize)],
    route_class=ManagementRoute,
)

BASE = "/v5/{project_id}/image/{image_id}"
VULNERABILITIES = f"{BASE}/vulnerabilities"
APPS = f"{BASE}/apps"
FILES = f"{BASE}/files"
FILES_STATISTICS = f"{BASE}/files-statistics"
MALWARES = f"{BASE}/malwares"
SENSITIVE = f"{BASE}/sensitive"
NON_COMPLIANT = f"{BASE}/non-compliant-app"
BASIC_IMAGE = f"{BASE}/basic-image"
ACCESS_RULES = access_rules(
    {
        ("GET", path): ACCOUNT
        for path in (VULNERABILITIES, APPS, FILES, FILES_STATISTICS, MALWARES, SENSITIVE, NON_COMPLIANT, BASIC_IMAGE)
    }
)

SENSITIVE_SEVERITIES = ("critical", "high", "medium", "low", "negligible", "unknown")


@router.get(VULNERABILITIES, response_model=d.ImageVulList)
async def list_image_vulnerabilities(
    project_id: str,
    image_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    naming: ByTag,
    paging: Paged,
    repair_necessity: Short = None,
    vul_id: Text = None,
    app_name: Text = None,
    type: Short = None,
    handle_status: Short = None,
) -> d.ImageVulList:
    """The image's vulnerabilities, most severe first (``vul_id``, ``app_name``: a part matches)."""
    handled = choice("handle_status", handle_status, HANDLE_STATUSES)
    query = ImageVulnerabilityQuery(
        necessity=choice("repair_necessity", repair_necessity, NECESSITIES),
        vul_id=vul_id or None,
        package=app_name or None,
        kind=choice("type", type, VUL_TYPES),
        handled=None if handled is None else handled == "handled",
    )
    found = await services.security.details.vulnerability_page(
        principal, naming.of(image_id), query, offset=paging.offset, limit=paging.limit
    )
    return d.ImageVulList(
        total_num=found.matching,
        data_list=[
            d.ImageVulInfo(
                vul_id=v.vul_id,
                repair_necessity=v.repair_necessity,
                description=v.description,
                position=v.position,
                app_name=v.app_name,
                app_path=v.app_path,
                version=v.version,
                solution=v.solution,
                url=v.url,
            )
            for v in found.items
        ],
    )


@router.get(APPS, response_model=d.ImageAppList)
async def list_image_apps(
    project_id: str,
    image_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    naming: ByTag,
    paging: Paged,
    app_name: Text = None,
) -> d.ImageAppList:
    """The image's installed software, those with the most vulnerabilities first."""
    found = await services.security.details.apps(principal, naming.of(image_id), app_name=app_name or None)
    return d.ImageAppList(total_num=len(found), data_list=[d.ImageAppsInfo(**asdict(a)) for a in paging.of(found)])


@router.get(FILES, response_model=d.ImageFileList)
async def list_image_files(
    project_id: str,
    image_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    naming: ByTag,
    paging: Paged,
    file_name: Text = None,
) -> d.ImageFileList:
    """The regular files of the image's final filesystem, by path."""
    found = await services.security.details.files(principal, naming.of(image_id), file_name=file_name or None)
    return d.ImageFileList(total_num=len(found), data_list=[d.ImageFileInfo(**asdict(f)) for f in paging.of(found)])


@router.get(FILES_STATISTICS, response_model=d.ImageFilesStat)
async def show_image_files_stat(
    project_id: str,
    image_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    naming: ByTag,
    enterprise_project_id: Text = None,
) -> d.ImageFilesStat:
    """How many files the image has and their total size."""
    number, size = await services.security.details.files_statistics(principal, naming.of(image_id))
    return d.ImageFilesStat(total_files_num=number, total_files_size=size)


@router.get(MALWARES, response_model=d.ImageMalwareList)
async def list_image_malware(
    project_id: str,
    image_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    naming: ByTag,
    paging: Paged,
    file_name: Text = None,
) -> d.ImageMalwareList:
    """The image's malicious files."""
    found = await services.security.details.malware(principal, naming.of(image_id), file_name=file_name or None)
    return d.ImageMalwareList(
        total_num=len(found), data_list=[d.ImageMalwareInfo(**asdict(m)) for m in paging.of(found)]
    )


@router.get(SENSITIVE, response_model=d.ImageSensitiveList)
async def list_image_sensitive(
    project_id: str,
    image_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    naming: ByVersion,
    paging: Paged,
    file_path: Text = None,
    severity: Short = None,
    handle_status: Short = None,
) -> d.ImageSensitiveList:
    """The image's sensitive information, without the account's allowlisted file paths."""
    found = await services.security.details.sensitive(
        principal,
        naming.of(image_id),
        file_path=file_path or None,
        severity=choice("severity", severity, SENSITIVE_SEVERITIES),
        handle_status=choice("handle_status", handle_status, HANDLE_STATUSES),
    )
    return d.ImageSensitiveList(
        total_num=len(found), data_list=[d.ImageSensitiveInfo(**asdict(i)) for i in paging.of(found)]
    )


@router.get(NON_COMPLIANT, response_model=d.ImageNonCompliantAppList)
async def list_image_non_compliant_app(
    project_id: str,
    image_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    naming: ByVersion,
    paging: Paged,
    app_name: Text = None,
) -> d.ImageNonCompliantAppList:
    """Software of the image whose versions the scanner could not check."""
    found = await services.security.details.non_compliant_apps(
        principal, naming.of(image_id), app_name=app_name or None
    )
    return d.ImageNonCompliantAppList(
        total_num=len(found), data_list=[d.ImageNonCompliantAppInfo(**asdict(a)) for a in paging.of(found)]
    )


@router.get(BASIC_IMAGE, response_model=d.ImageBasicImageList)
async def list_image_basic_image(
    project_id: str,
    image_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    naming: ByVersion,
    paging: Paged,
    os_name: Text = None,
) -> d.ImageBasicImageList:
    """The operating system the image is built on."""
    found = await services.security.details.basic_image(principal, naming.of(image_id), os_name=os_name or None)
    return d.ImageBasicImageList(
        total_num=len(found), data_list=[d.ImageBasicImageInfo(**asdict(b)) for b in paging.of(found)]
    )
