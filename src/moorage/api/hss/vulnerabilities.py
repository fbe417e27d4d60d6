"""Vulnerabilities, software and malicious files across an account's images: the general
(``/images/vulnerabilities``) and global (``/image/vulnerabilities``) vulnerability lists, the
repositories and images a vulnerability affects, the packages of one image it is in, its CVEs;
global apps, malware and files. Handling them is ``vulnerability_handling``.

Included after part one's and the baseline router (``/image/registries/images`` and
``/image/build-command-risks/images`` must win over ``/image/{vul_id}/images``)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.hss import account_schemas as ac
from moorage.api.hss import detail_schemas as d
from moorage.api.hss.fields import ByType, Paged, Short, Text, VulId, image_fields, row_image_type
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import ACCOUNT, access_rules
from moorage.api.swr.wire import refuse_nul_characters
from moorage.domain.security_findings import CveFacts, VulnerabilityFilter
from moorage.services.security.detail_vocabulary import (
    HANDLE_STATUSES,
    NECESSITIES,
    RISK_LEVELS,
    VUL_TYPES,
    choice,
    necessity_filter,
    risk_level,
)
from moorage.services.security.detail_vocabulary import repair_necessity as necessity_of  # a query field's name

router = APIRouter(
    tags=["HSS vulnerabilities"],
    dependencies=[Depends(refuse_nul_characters), Depends(authorize)],
    route_class=ManagementRoute,
)

GENERAL = "/v5/{project_id}/images/vulnerabilities"
GLOBAL = "/v5/{project_id}/image/vulnerabilities"
REPO_IMAGES = "/v5/{project_id}/image/{vul_id}/images"
AFFECTED_IMAGES = "/v5/{project_id}/vulnerability/images"
AFFECTED_APPS = "/v5/{project_id}/image/vulnerability/{image_id}/apps"
CVES = "/v5/{project_id}/image/vulnerability/{vul_id}/cve"
APPS = "/v5/{project_id}/image/apps"
MALWARE = "/v5/{project_id}/image/malwares"
FILES = "/v5/{project_id}/image/files"
ACCESS_RULES = access_rules(
    {
        ("GET", p): ACCOUNT
        for p in (GENERAL, GLOBAL, REPO_IMAGES, AFFECTED_IMAGES, AFFECTED_APPS, CVES, APPS, MALWARE, FILES)
    }
)


@router.get(GENERAL, response_model=ac.GeneralImageVulList)
async def list_general_image_vuls(
    project_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    paging: Paged,
    type: Short = None,
    handle_status: Short = None,
    image_type: Short = None,
    severity_level: Short = None,
    vul_id: VulId = None,
    vul_name: Text = None,
    cve_id: VulId = None,
    label_list: Annotated[list[str] | None, Query(max_length=20)] = None,
    status: Short = None,
    cluster_id: Text = None,
) -> ac.GeneralImageVulList:
    """Every vulnerability of the account's images, the most severe first (``image_num``: images that have it)."""
    flt = VulnerabilityFilter(
        vul_id=vul_id or None,
        vul_name=vul_name or None,
        cve_id=cve_id or None,
        kind=choice("type", type, VUL_TYPES),
        image_type=row_image_type(image_type),
        severity_level=choice("severity_level", severity_level, RISK_LEVELS),
        handle_status=choice("handle_status", handle_status, HANDLE_STATUSES),
    )
    entries, total = await services.security.vulnerabilities.general(
        principal, flt, offset=paging.offset, limit=paging.limit
    )
    items = []
    for e, facts in entries:
        cves = [ac.CveScore(cve_id=c.cve_id, cvss=c.cvss_score) for c in facts.cves]
        items.append(
            ac.GeneralImageVul(
                vul_name=facts.title or e.title,
                vul_id=e.vul_id,
                type=e.type,
                image_type=",".join(sorted(e.image_types)),
                label_list=[],
                severity_level=risk_level(e.severity),
                image_num=len(e.images),
                cve_list=cves,
                max_cvss_score=max([c.cvss for c in cves] + [e.score or 0.0]),
                scan_time=e.scan_time,
                description=facts.description,
                url=facts.url,
                solution_detail=e.solution,
                cluster_num=0,
            )
        )
    return ac.GeneralImageVulList(total_num=total, data_list=items)


@router.get(GLOBAL, response_model=ac.GlobalVulList)
async def list_global_vulnerabilities(
    project_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    paging: Paged,
    repair_necessity: Short = None,
    vul_id: VulId = None,
    type: Short = None,
) -> ac.GlobalVulList:
    """Every vulnerability of the account's images (``history_number``: images that have it;
    ``undeal_number``: those where it is not handled)."""
    flt = VulnerabilityFilter(
        vul_id=vul_id or None,
        kind=choice("type", type, VUL_TYPES),
        necessity=choice("repair_necessity", repair_necessity, NECESSITIES),
    )
    entries, total = await services.security.vulnerabilities.general(
        principal, flt, offset=paging.offset, limit=paging.limit
    )
    return ac.GlobalVulList(
        total_num=total,
        data_list=[
            ac.GlobalVul(
                vul_name=facts.title or e.title,
                vul_id=e.vul_id,
                repair_necessity=necessity_of(e.severity),
                decription=facts.description,
                description=facts.description,
                solution=e.solution,
                url=facts.url,
                history_number=len(e.images),
                undeal_number=len(e.unhandled_images),
                data_list=[_cve(c) for c in facts.cves],
            )
            for e, facts in entries
        ],
    )


def _cve(cve: CveFacts) -> ac.CveInfo:
    return ac.CveInfo(
        cve_id=cve.cve_id, cvss_score=cve.cvss_score, publish_time=cve.publish_time, description=cve.description
    )


@router.get(CVES, response_model=ac.CveList)
async def list_vulnerability_cve(
    project_id: str,
    vul_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    paging: Paged,
) -> ac.CveList:
    """The CVEs behind a vulnerability id, from the advisory database."""
    facts = await services.security.vulnerabilities.cves(principal, vul_id[:128])
    return ac.CveList(
        total_num=len(facts.cves),
        data_list=[_cve(c) for c in paging.of(facts.cves)],
    )


@router.get(REPO_IMAGES, response_model=ac.VulRepoImageList)
async def list_vul_repo_image(
    project_id: str,
    vul_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    paging: Paged,
    namespace: Text = None,
    image_name: Text = None,
    image_id: Text = None,
    app_name: Text = None,
) -> ac.VulRepoImageList:
    """The repositories a vulnerability affects, with their affected tags."""
    groups = await services.security.vulnerabilities.repository_images(
        principal,
        vul_id[:128],
        namespace=namespace or None,
        image_name=image_name or None,
        image=image_id or None,
        app_name=app_name or None,
    )
    return ac.VulRepoImageList(
        total_num=len(groups),
        data_list=[
            ac.VulRepoImage(
                namespace=first.namespace,
                image_id=first.image_id,
                image_name=first.image_name,
                app_name=app,
                version=version,
                tag_count=len(tags),
                image_type=first.image_type,
                data_list=[
                    ac.VulRepoTag(
                        tag_id=str(a.image.tag_row_id),
                        tag_name=a.image.image_version,
                        size=a.image.image_size,
                        app_name=app,
                    )
                    for a in tags
                ],
            )
            for first, app, version, tags in paging.of(groups)
        ],
    )


AFFECTED_IMAGE_STATUSES = MappingProxyType({"vul_status_unfix": False, "vul_status_ignored": True})
"""``status`` of ``ListVulAffectImages``: an image's handling of the vulnerability (ignored: handled)."""


@router.get(AFFECTED_IMAGES, response_model=ac.VulAffectImageList)
async def list_vul_affect_images(
    project_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    paging: Paged,
    vul_id: str = Query(max_length=128),
    is_handled: bool | None = None,
    type: Short = None,
    image_type: Short = None,
    repair_necessity: Short = None,
    image_id: Text = None,
    image_name: Text = None,
    registry_name: Text = None,
    registry_type: Short = None,
    status: Short = None,
    cluster_id: Text = None,
) -> ac.VulAffectImageList:
    """The images a vulnerability is found in (``is_handled``, or ``status`` in HSS's spelling: only
    handled, or unhandled, ones; both given and disagreeing: none)."""
    necessity, level = necessity_filter(repair_necessity)
    handled = is_handled
    by_status = choice("status", status, tuple(AFFECTED_IMAGE_STATUSES))
    if by_status is not None:
        if handled is not None and handled != AFFECTED_IMAGE_STATUSES[by_status]:
            return ac.VulAffectImageList(total_num=0, data_list=[])
        handled = AFFECTED_IMAGE_STATUSES[by_status]
    found = await services.security.vulnerabilities.affected_images(
        principal,
        vul_id,
        handled=handled,
        kind=choice("type", type, VUL_TYPES),
        image_type=row_image_type(image_type),
        necessity=necessity,
        level=level,
        image=image_id or None,
        image_name=image_name or None,
        registry_name=registry_name or None,
        registry_type=registry_type or None,
    )
    return ac.VulAffectImageList(
        total_num=len(found),
        data_list=[
            ac.VulAffectImage(
                image_id=a.image.image_id,
                image_name=a.image.image_name,
                vul_id=a.finding.vul_id,
                repair_necessity=necessity_of(a.finding.severity),
                container_num=0,
                image_digest=a.image.image_digest,
                image_version=a.image.image_version,
                agent_id="",
                status="handled" if a.handled else "unhandled",
                first_scan_time=str(a.image.created_at),
                latest_scan_time=str(a.image.latest_scan_time),
                image_type=a.image.image_type,
                image_size=str(a.image.image_size),
                organization=a.image.namespace,
                registry_type=a.image.registry_type,
                registry_name=a.image.registry_name,
                is_multi_arch=str(a.image.is_multiple_arch).lower(),
                cluster_id="",
                cluster_name="",
            )
            for a in paging.of(found)
        ],
    )


@router.get(AFFECTED_APPS, response_model=ac.VulAffectAppList)
async def list_vul_affect_image_apps(
    project_id: str,
    image_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    naming: ByType,
    paging: Paged,
    is_handled: bool | None = None,
    vul_id: VulId = None,
) -> ac.VulAffectAppList:
    """The packages of one image a vulnerability is found in, with their paths and whether it is handled."""
    found = await services.security.vulnerabilities.affected_apps(
        principal, naming.of(image_id), vul_id or None, handled=is_handled
    )
    return ac.VulAffectAppList(
        total_num=len(found),
        data_list=[
            ac.VulAffectApp(
                app_name=name,
                rule=", ".join(sorted({a.finding.vul_id for a in findings})),
                paths=[
                    ac.AppPath(
                        status="handled" if a.handled else "unhandled",
                        app_version=a.finding.package_version,
                        app_path=a.finding.path,
                    )
                    for a in findings
                ],
            )
            for name, findings in paging.of(found)
        ],
    )


@router.get(APPS, response_model=ac.GlobalAppList)
async def list_global_image_apps(
    project_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    paging: Paged,
    image_type: Short = None,
    app_name: Text = None,
    is_compliant: bool | None = None,
) -> ac.GlobalAppList:
    """Installed software of every image of the account, one entry per package and image."""
    found = await services.security.vulnerabilities.apps(
        principal, image_type=row_image_type(image_type), app_name=app_name or None, compliant=is_compliant
    )
    return ac.GlobalAppList(
        total_num=len(found),
        data_list=[
            ac.GlobalApp(
                app_name=a.app_name,
                app_type=a.app_type,
                app_version=a.app_version,
                vul_num=a.vul_num,
                app_path=a.app_path,
                layer_digest=a.layer_digest,
                is_compliant=a.compliant,
                **image_fields(a.image),
            )
            for a in paging.of(found)
        ],
    )


@router.get(MALWARE, response_model=ac.GlobalMalwareList)
async def list_global_malware(
    project_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    paging: Paged,
    image_type: Short = None,
    file_name: Text = None,
) -> ac.GlobalMalwareList:
    """Malicious files of every image of the account."""
    found = await services.security.vulnerabilities.malware(
        principal, image_type=row_image_type(image_type), file_name=file_name or None
    )
    return ac.GlobalMalwareList(
        total_num=len(found),
        data_list=[
            ac.GlobalMalware(
                file_name=m.file_path.rsplit("/", 1)[-1],
                file_path=m.file_path,
                size=m.size,
                **image_fields(m.image),
                description=m.description,
                instance_id=m.image.instance_id,
            )
            for m in paging.of(found)
        ],
    )


@router.get(FILES, response_model=d.ImageFileList)
async def list_global_image_files(
    project_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    paging: Paged,
    image_type: Short = None,
    file_name: Text = None,
) -> d.ImageFileList:
    """Files of every image of the account, one entry per path."""
    found = await services.security.vulnerabilities.files(
        principal, image_type=row_image_type(image_type), file_name=file_name or None
    )
    return d.ImageFileList(
        total_num=len(found),
        data_list=[
            d.ImageFileInfo(file_name=f.file_path.rsplit("/", 1)[-1], file_path=f.file_path, size=f.size)
            for f in paging.of(found)
        ],
    )
