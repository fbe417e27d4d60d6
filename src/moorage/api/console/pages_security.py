"""The image-security pages: the account's scanned images, and one tag's vulnerabilities (filtered,
sorted, paged; ignore / stop ignoring one, whitelist / stop whitelisting one), malicious files,
sensitive information and SBOM."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from moorage.api.console.route import ConsoleRoute, form_of, may, visit_of
from moorage.api.console.templates import path_segment, render
from moorage.api.deps import ServicesDep
from moorage.api.management_rules import ACCOUNT, ADMIN, R, access_rules, on_repository
from moorage.domain.errors import Invalid
from moorage.domain.names import RepositoryName
from moorage.domain.security import ImageFilter
from moorage.services.security.tag_security import SEVERITIES, VulnerabilityQuery

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

TAG = "/console/orgs/{namespace}/repos/{repository}/tags/{tag}"
CONSOLE_RULES = access_rules(
    {
        ("GET", "/console/security"): ACCOUNT,
        ("GET", TAG + "/security"): on_repository(R),
        ("POST", TAG + "/security/handling"): ADMIN,
        ("POST", TAG + "/security/whitelist"): ADMIN,
        ("POST", TAG + "/security/unwhitelist"): ADMIN,  # as DeleteImageWhiteLists
        ("POST", TAG + "/security/rescan"): ADMIN,
        ("GET", TAG + "/sbom"): on_repository(R),
    }
)
Page = Annotated[int, Query(ge=1, le=100_000)]
Short = Annotated[str, Query(max_length=64)]
LEVELS = ("", "High", "Medium", "Low", "Security")
MAX_REMARK = 512


def _flag(value: str, name: str) -> bool | None:
    if value in ("", "any"):
        return None
    if value in ("yes", "no"):
        return value == "yes"
    raise Invalid(f"{name} must be yes, no or any")


@router.get("/console/security")
async def images(request: Request, services: ServicesDep, level: Short = "", page: Page = 1) -> Response:
    """The account's images as the image-security lists show them (those the user may pull)."""
    visit = visit_of(request)
    if level not in LEVELS:
        raise Invalid(f"level must be one of {', '.join(LEVELS[1:])}")
    size = services.settings.console.page_size
    rows, total = await services.security.images.page(
        visit.principal,
        ImageFilter(image_types=("private_image",), severity_level=level or None),
        sort_key="latest_scan_time",
        descending=True,
        offset=(page - 1) * size,
        limit=size,
    )
    context = {"rows": rows, "total": total, "level": level, "levels": LEVELS, "page": page, "size": size}
    return render(request, "security.html", visit, context, section="security")


@router.get(TAG + "/security")
async def tag_security(
    namespace: str,
    repository: str,
    tag: str,
    request: Request,
    services: ServicesDep,
    severity: Short = "",
    fixable: Short = "",
    package: Short = "",
    status: Short = "",
    sort: Short = "severity",
    page: Page = 1,
) -> Response:
    """One tag's findings."""
    visit = visit_of(request)
    name = RepositoryName.from_api_path(namespace, repository)
    size = services.settings.console.page_size
    query = VulnerabilityQuery(
        severity=severity or None,
        fixable=_flag(fixable, "fixable"),
        package=package or None,
        handled={"": None, "any": None, "open": False, "ignored": True}.get(status),
        sort=sort,
    )
    view = await services.security.tag_security.view(
        visit.principal,
        namespace=name.namespace,
        repository=name.repository,
        tag=tag,
        query=query,
        offset=(page - 1) * size,
        limit=size,
    )
    context = {
        "name": name,
        "tag": tag,
        "view": view,
        "filters": {
            "severity": severity,
            "fixable": fixable,
            "package": package,
            "status": status,
            "sort": sort,
        },
        "severities": SEVERITIES,
        "page": page,
        "size": size,
        "may_handle": await may(request, "POST", TAG + "/security/handling"),
        "may_whitelist": await may(request, "POST", TAG + "/security/whitelist"),
        "may_unwhitelist": await may(request, "POST", TAG + "/security/unwhitelist"),
        "may_rescan": await may(request, "POST", TAG + "/security/rescan"),
    }
    return render(request, "tag_security.html", visit, context, section="orgs")


@router.post(TAG + "/security/handling")
async def handle(namespace: str, repository: str, tag: str, request: Request, services: ServicesDep) -> Response:
    """Ignore one vulnerability of this image, or stop ignoring it (domain administrators, as the
    HSS API's ``HandleImageVulnerability``)."""
    visit = visit_of(request)
    form = form_of(request)
    name = RepositoryName.from_api_path(namespace, repository)
    row_id = form.get("image", "")
    if not row_id.isdigit() or len(row_id) > 18:
        raise Invalid("image must be an image row id")
    vul_id = form.get("vul_id", "")[:128]
    if not vul_id:
        raise Invalid("vul_id is required")
    await services.security.tag_security.set_ignored(
        visit.principal,
        image_row_id=int(row_id),
        vul_id=vul_id,
        ignored=form.get("action") != "unignore",
        remark=form.get("remark", "")[:MAX_REMARK] or "ignored in the console",
    )
    target = f"/console/orgs/{name.namespace}/repos/{path_segment(name.repository)}/tags/{tag}/security"
    return RedirectResponse(target, status_code=303)


@router.post(TAG + "/security/whitelist")
async def whitelist(namespace: str, repository: str, tag: str, request: Request, services: ServicesDep) -> Response:
    """Whitelist one vulnerability in this image or in every image of the account (domain
    administrators, as ``AddVulnerabilityWhiteList`` and ``HandleImageVulnerability``)."""
    visit = visit_of(request)
    form = form_of(request)
    name = RepositoryName.from_api_path(namespace, repository)
    row_id = form.get("image", "")
    if not row_id.isdigit() or len(row_id) > 18:
        raise Invalid("image must be an image row id")
    vul_id = form.get("vul_id", "")[:128]
    if not vul_id:
        raise Invalid("vul_id is required")
    scope = form.get("scope", "")
    if scope not in ("image", "all"):
        raise Invalid("scope must be image or all")
    await services.security.tag_security.whitelist(
        visit.principal,
        image_row_id=int(row_id),
        vul_id=vul_id,
        everywhere=scope == "all",
        remark=form.get("remark", "")[:MAX_REMARK] or "whitelisted in the console",
    )
    target = f"/console/orgs/{name.namespace}/repos/{path_segment(name.repository)}/tags/{tag}/security"
    return RedirectResponse(target, status_code=303)


@router.post(TAG + "/security/unwhitelist")
async def unwhitelist(namespace: str, repository: str, tag: str, request: Request, services: ServicesDep) -> Response:
    """Stop whitelisting: remove one whitelist the page listed under a finding (domain
    administrators, as ``DeleteImageWhiteLists``; one already gone is no error, as there)."""
    visit = visit_of(request)
    name = RepositoryName.from_api_path(namespace, repository)
    whitelist_id = form_of(request).get("whitelist", "")
    if not whitelist_id or len(whitelist_id) > 64:
        raise Invalid("whitelist must be the id of a whitelist")
    await services.security.whitelists.delete(visit.principal, [whitelist_id])
    target = f"/console/orgs/{name.namespace}/repos/{path_segment(name.repository)}/tags/{tag}/security"
    return RedirectResponse(target, status_code=303)


@router.post(TAG + "/security/rescan")
async def rescan(namespace: str, repository: str, tag: str, request: Request, services: ServicesDep) -> Response:
    """Scan the image again (domain administrators, as ``CreateManualImageScanTask``)."""
    visit = visit_of(request)
    name = RepositoryName.from_api_path(namespace, repository)
    row_id = form_of(request).get("image", "")
    if not row_id.isdigit() or len(row_id) > 18:
        raise Invalid("image must be an image row id")
    await services.security.tag_security.rescan(visit.principal, image_row_id=int(row_id))
    target = f"/console/orgs/{name.namespace}/repos/{path_segment(name.repository)}/tags/{tag}/security"
    return RedirectResponse(target, status_code=303)


@router.get(TAG + "/sbom")
async def sbom(
    namespace: str, repository: str, tag: str, request: Request, services: ServicesDep, format: Short = "cyclonedx"
) -> Response:
    """The image's SBOM (CycloneDX or SPDX JSON) from its last scan, as a download."""
    visit = visit_of(request)
    name = RepositoryName.from_api_path(namespace, repository)
    document = await services.security.tag_security.sbom_document(
        visit.principal, namespace=name.namespace, repository=name.repository, tag=tag, format_name=format
    )
    return Response(
        document.text,
        media_type=document.media_type,
        headers={"Content-Disposition": f'attachment; filename="{document.file_name}"'},
    )
