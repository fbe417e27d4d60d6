"""Account-wide operations (``/v2/manage/overview``, quotas, feature gates, regions, resource reports,
the CCE agency) and the API-version documents (``GET /``, ``GET /{api_version}``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import ADMIN, AUTHENTICATED, PUBLIC, access_rules
from moorage.api.swr import schemas as s
from moorage.api.swr.wire import instance_id, refuse_nul_characters
from moorage.domain.errors import NotFound

router = APIRouter(
    tags=["SWR account"], dependencies=[Depends(refuse_nul_characters), Depends(authorize)], route_class=ManagementRoute
)

ACCESS_RULES = access_rules(
    {
        ("GET", "/v2/manage/overview"): AUTHENTICATED,
        ("GET", "/v2/manage/projects/{project_id}/quotas"): AUTHENTICATED,  # the project must be the caller's
        ("GET", "/v2/manage/projects/{project_id}/feature-gates"): AUTHENTICATED,
        ("GET", "/v2/manage/regions"): AUTHENTICATED,
        ("GET", "/v2/manage/reports/{resource_type}/{frequency}"): AUTHENTICATED,
        ("GET", "/v2/manage/agency"): AUTHENTICATED,
        ("POST", "/v2/manage/agency"): ADMIN,
        ("GET", "/"): PUBLIC,
        ("GET", "/{api_version}"): PUBLIC,
    }
)

API_VERSIONS = {
    "v2": ("CURRENT", "2020-07-09T00:00:00Z"),
    "v3": ("SUPPORTED", "2023-01-01T00:00:00Z"),
}
"""The management API versions served: status and release date."""


@router.get("/v2/manage/overview", response_model=s.OverviewView)
async def show_domain_overview(request: Request, principal: PrincipalDep, services: ServicesDep) -> s.OverviewView:
    """What the account holds: organizations, repositories, images, bytes stored and bytes pulled."""
    overview = await services.account.overview(principal, instance_id=instance_id(request))
    totals = overview.totals
    return s.OverviewView(
        domain_id=overview.domain_id,
        domain_name=overview.domain_name,
        namspace_num=totals.namespaces,
        repo_num=totals.repositories,
        image_num=totals.images,
        store_space=float(totals.storage),
        downflow_size=float(totals.download_bytes),
    )


@router.get("/v2/manage/projects/{project_id}/quotas", response_model=s.QuotaList)
async def list_quotas(project_id: str, request: Request, principal: PrincipalDep, services: ServicesDep) -> s.QuotaList:
    """The quotas on the account (organizations), with their use."""
    quotas = await services.account.quotas(principal, instance_id=instance_id(request))
    return s.QuotaList(
        quotas=[s.QuotaView(quota_key=q.key, quota_limit=q.limit, used=q.used, unit=q.unit) for q in quotas]
    )


@router.get("/v2/manage/projects/{project_id}/feature-gates", response_model=s.FeatureGatesView)
async def show_share_feature_gates(project_id: str, services: ServicesDep) -> s.FeatureGatesView:
    """Which optional SWR features this deployment has."""
    gates = services.account.feature_gates
    return s.FeatureGatesView(
        enable_experience=gates.experience,
        enable_hss_service=gates.hss_service,
        enable_image_scan=gates.image_scan,
        enable_sm3=gates.sm3,
        enable_image_sync=gates.image_sync,
        enable_cci_service=gates.cci_service,
        enable_image_label=gates.image_label,
        enable_pipeline=gates.pipeline,
        enable_authorization_token=gates.authorization_token,
        enable_resource=gates.resource,
        enable_list_v3=gates.list_v3,
        enable_image_quota=gates.image_quota,
    )


@router.get("/v2/manage/regions", response_model=list[s.RegionView])
async def list_sync_regions(principal: PrincipalDep, services: ServicesDep) -> list[s.RegionView]:
    """The regions: this deployment's own, then the image sync peers (``MOORAGE_SYNC__PEERS``) the
    caller's account may sync to."""
    return [s.RegionView(region_id=region) for region in services.image_sync.regions(principal)]


@router.get("/v2/manage/reports/{resource_type}/{frequency}", response_model=list[s.ReportPointView])
async def show_domain_resource_reports(
    resource_type: str, frequency: str, request: Request, principal: PrincipalDep, services: ServicesDep
) -> list[s.ReportPointView]:
    """One resource of the account over time (``namespace``, ``repository``, ``image``, ``storage``,
    ``download``, ``downflow``), ``daily`` (30 days) or ``monthly`` (12 months)."""
    points = await services.account.report(
        principal, instance_id=instance_id(request), resource=resource_type, frequency=frequency
    )
    return [s.ReportPointView(date=p.date, value=p.value) for p in points]


@router.get("/v2/manage/agency", response_model=s.AgencyView)
async def check_agency(principal: PrincipalDep, services: ServicesDep) -> s.AgencyView:
    """Whether the account created the CCE agency (stored only: there is no CCE here)."""
    return s.AgencyView(domain_id=principal.domain_id or "", is_agency=await services.account.agency(principal))


@router.post("/v2/manage/agency", status_code=201, response_class=Response)
async def create_agency(principal: PrincipalDep, services: ServicesDep) -> Response:
    """Record the CCE agency of the account (idempotent)."""
    await services.account.create_agency(principal)
    return Response(status_code=201)


def _version(request: Request, version_id: str) -> s.VersionView:
    status, updated = API_VERSIONS[version_id]
    base = str(request.base_url).rstrip("/")
    return s.VersionView(
        id=version_id,
        links=s.VersionLink(href=f"{base}/{version_id}/", rel="self"),
        version="",
        status=status,
        updated=updated,
        min_version="",
    )


@router.get("/", response_model=s.VersionList)
async def list_api_versions(request: Request, services: ServicesDep) -> s.VersionList | Response:
    """Every management API version served; a browser asking for the site (``Accept: text/html``) is
    sent to the web console instead, when it is served. One route for ``/``, so the SDK's
    ListApiVersions is never taken by the console's redirect."""
    if services.settings.console.enabled and "text/html" in request.headers.get("accept", ""):
        return RedirectResponse("/console/", status_code=303)
    return s.VersionList(versions=[_version(request, v) for v in API_VERSIONS])


@router.get("/{api_version}", response_model=s.VersionShow)
async def show_api_version(api_version: str, request: Request) -> s.VersionShow:
    """One management API version."""
    if api_version not in API_VERSIONS:
        raise NotFound(f"API version {api_version[:32]!r} is not served here", reason="version_not_found")
    return s.VersionShow(version=_version(request, api_version))
