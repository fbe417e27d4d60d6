"""Image synchronisation of a repository to peer sites (``.../repos/{repository}/sync_repo``,
``sync_images``, ``sync_job``): SWR's regions are the peers of ``MOORAGE_SYNC__PEERS``. See
docs/replication.md."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import M, W, access_rules, on_repository
from moorage.api.swr.listing import ListingRules, content_range, parse_listing
from moorage.api.swr.schemas_sync import (
    CreateSyncRepoBody,
    DeleteSyncRepoBody,
    ManualSyncBody,
    SyncJobModel,
    SyncRepoModel,
)
from moorage.api.swr.wire import instance_id, refuse_nul_characters, repository_name
from moorage.domain.errors import Invalid

router = APIRouter(
    tags=["SWR image synchronisation"],
    dependencies=[Depends(refuse_nul_characters), Depends(authorize)],
    route_class=ManagementRoute,
)

BASE = "/v2/manage/namespaces/{namespace}/repos/{repository}"
RULES = BASE + "/sync_repo"
IMAGES = BASE + "/sync_images"
JOBS = BASE + "/sync_job"

ACCESS_RULES = access_rules(
    {
        ("POST", RULES): on_repository(M),
        ("DELETE", RULES): on_repository(M),
        ("GET", RULES): on_repository(W),
        ("POST", IMAGES): on_repository(W),
        ("GET", JOBS): on_repository(W),
    }
)

JOB_LISTING = ListingRules(
    keys=frozenset({"order"}),
    default_limit=100,
    max_limit=1000,
    default_order=("id", True),
    order_columns={"id": "id"},
    offset_multiple=False,
)


@router.post(RULES, status_code=201, response_class=Response)
async def create_image_sync_repo(
    namespace: str,
    repository: str,
    body: CreateSyncRepoBody,
    request: Request,
    principal: PrincipalDep,
    services: ServicesDep,
) -> Response:
    """Sync the repository to a namespace of a peer (automatically on push with ``syncAuto``)."""
    await services.image_sync.create_rule(
        principal, instance_id=instance_id(request), name=repository_name(namespace, repository), fields=body.fields()
    )
    return Response(status_code=201)


@router.delete(RULES, status_code=204, response_class=Response)
async def delete_image_sync_repo(
    namespace: str, repository: str, body: DeleteSyncRepoBody, request: Request, services: ServicesDep
) -> Response:
    """Stop syncing the repository to a namespace of a peer."""
    await services.image_sync.delete_rule(
        instance_id=instance_id(request),
        name=repository_name(namespace, repository),
        remote_region_id=body.remote_region_id,
        remote_namespace=body.remote_namespace,
    )
    return Response(status_code=204)


@router.get(RULES, response_model=list[SyncRepoModel], response_model_by_alias=True)
async def list_image_auto_sync_repos_details(
    namespace: str, repository: str, request: Request, services: ServicesDep
) -> list[SyncRepoModel]:
    """The repository's sync rules."""
    found = await services.image_sync.list_rules(
        instance_id=instance_id(request), name=repository_name(namespace, repository)
    )
    return [SyncRepoModel.of(rule) for rule in found]


@router.post(IMAGES, response_model=list[str])
async def create_manual_image_sync_repo(
    namespace: str,
    repository: str,
    body: ManualSyncBody,
    request: Request,
    principal: PrincipalDep,
    services: ServicesDep,
) -> list[str]:
    """Sync chosen tags now, one job each; the answer lists the sync jobs' ids (``ShowSyncJob``)."""
    made = await services.image_sync.sync_now(
        principal,
        instance_id=instance_id(request),
        name=repository_name(namespace, repository),
        tags=body.image_tag,
        remote_region_id=body.remote_region_id,
        remote_namespace=body.remote_namespace,
        override=body.override,
    )
    return [str(job.id) for job in made]


@router.get(JOBS, response_model=list[SyncJobModel], response_model_by_alias=True)
async def show_sync_job(
    namespace: str,
    repository: str,
    request: Request,
    response: Response,
    services: ServicesDep,
    filter: str | None = None,
) -> list[SyncJobModel]:
    """The repository's sync jobs, newest first (``filter=limit::N|offset::N|order::asc``)."""
    listing = parse_listing({}, filter, JOB_LISTING)
    order = listing.fields.get("order", "desc")
    if order not in ("asc", "desc"):
        raise Invalid(f"order must be asc or desc, got {order[:32]!r}", reason="invalid_filter")
    found, total = await services.image_sync.list_jobs(
        instance_id=instance_id(request),
        name=repository_name(namespace, repository),
        limit=listing.limit or 100,
        offset=listing.offset,
        descending=order != "asc",
    )
    response.headers["Content-Range"] = content_range(listing.offset, len(found), total)
    return [SyncJobModel.of(job) for job in found]
