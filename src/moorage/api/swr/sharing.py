"""Sharing repositories with other accounts (``.../repositories/{repository}/access-domains``) and the
shared-repository listings (``/v2/manage/shared-repositories``, ``/v3/manage/shared-repositories``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response

from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import AUTHENTICATED, M, R, access_rules, on_repository
from moorage.api.swr import schemas as s
from moorage.api.swr.listing import ListingRules, content_range, parse_listing
from moorage.api.swr.repositories import list_item, v3_item
from moorage.api.swr.wire import (
    format_deadline,
    format_time,
    instance_id,
    parse_deadline,
    refuse_nul_characters,
    repository_name,
)
from moorage.domain.clock import now_ms
from moorage.domain.errors import Invalid
from moorage.domain.management import RepositoryQuery, ShareRecord
from moorage.services.sharing import CENTERS

router = APIRouter(
    tags=["SWR sharing"], dependencies=[Depends(refuse_nul_characters), Depends(authorize)], route_class=ManagementRoute
)

DOMAINS = "/v2/manage/namespaces/{namespace}/repositories/{repository}/access-domains"
ACCESS_RULES = access_rules(
    {
        ("POST", DOMAINS): on_repository(M),
        ("GET", DOMAINS): on_repository(R),
        ("GET", DOMAINS + "/{access_domain}"): on_repository(R),
        ("PATCH", DOMAINS + "/{access_domain}"): on_repository(M),
        ("DELETE", DOMAINS + "/{access_domain}"): on_repository(M),
        ("GET", "/v2/manage/shared-repositories"): AUTHENTICATED,
        ("GET", "/v3/manage/shared-repositories"): AUTHENTICATED,
    }
)

SHARED_RULES = ListingRules(
    keys=frozenset({"namespace", "name", "center"}),
    order_columns={
        "name": "name",
        "updated_time": "updated_at",
        "updated_at": "updated_at",
        "tag_count": "tag_count",
        "created_at": "created_at",
    },
    default_order=("updated_at", True),
    default_limit=None,
    max_limit=1000,
    offset_multiple=True,
)


def share_view(share: ShareRecord) -> s.ShareView:
    """A share as the API shows it."""
    return s.ShareView(
        namespace=share.namespace,
        repository=share.repository,
        access_domain=share.domain_name,
        permit=share.permit,
        deadline=format_deadline(share.deadline),
        description=share.description,
        creator_id=share.creator_id,
        creator_name=share.creator_name,
        created=format_time(share.created_at),
        updated=format_time(share.updated_at),
        status=share.valid_at(now_ms()),
    )


@router.post(DOMAINS, status_code=201, response_class=Response)
async def create_repo_domains(
    namespace: str,
    repository: str,
    body: s.CreateShareBody,
    request: Request,
    principal: PrincipalDep,
    services: ServicesDep,
) -> Response:
    """Share a repository with another account: its users may pull it until the deadline."""
    await services.sharing.create(
        principal,
        instance_id=instance_id(request),
        name=repository_name(namespace, repository),
        access_domain=body.access_domain,
        permit=body.permit,
        deadline=parse_deadline(body.deadline),
        description=body.description,
    )
    return Response(status_code=201)


@router.get(DOMAINS, response_model=list[s.ShareView])
async def list_repo_domains(
    namespace: str, repository: str, request: Request, services: ServicesDep
) -> list[s.ShareView]:
    """Every account a repository is shared with."""
    shares = await services.sharing.of_repository(
        instance_id=instance_id(request), name=repository_name(namespace, repository)
    )
    return [share_view(share) for share in shares]


@router.get(DOMAINS + "/{access_domain}", response_model=s.ShareExistence)
async def show_access_domain(
    namespace: str, repository: str, access_domain: str, request: Request, services: ServicesDep
) -> s.ShareExistence:
    """Whether a repository is shared with an account (``exist``), and how."""
    name = repository_name(namespace, repository)
    share = await services.sharing.show(instance_id=instance_id(request), name=name, access_domain=access_domain)
    if share is None:
        return s.ShareExistence(
            exist=False,
            namespace=name.namespace,
            repository=name.repository,
            access_domain=access_domain,
            permit="",
            deadline="",
            description="",
            creator_id="",
            creator_name="",
            created="",
            updated="",
            status=False,
        )
    return s.ShareExistence(exist=True, **share_view(share).model_dump())


@router.patch(DOMAINS + "/{access_domain}", status_code=201, response_class=Response)
async def update_repo_domains(
    namespace: str,
    repository: str,
    access_domain: str,
    body: s.UpdateShareBody,
    request: Request,
    services: ServicesDep,
) -> Response:
    """Change a share's permission, deadline or description."""
    await services.sharing.update(
        instance_id=instance_id(request),
        name=repository_name(namespace, repository),
        access_domain=access_domain,
        permit=body.permit,
        deadline=parse_deadline(body.deadline) if body.deadline is not None else None,
        set_deadline=body.deadline is not None,
        description=body.description,
    )
    return Response(status_code=201)


@router.delete(DOMAINS + "/{access_domain}", status_code=204, response_class=Response)
async def delete_repo_domains(
    namespace: str, repository: str, access_domain: str, request: Request, services: ServicesDep
) -> Response:
    """Stop sharing a repository with an account."""
    await services.sharing.delete(
        instance_id=instance_id(request), name=repository_name(namespace, repository), access_domain=access_domain
    )
    return Response(status_code=204)


def _center(value: str | None) -> str:
    center = value or "self"
    if center not in CENTERS:
        raise Invalid(f"center must be one of {', '.join(CENTERS)}", reason="invalid_filter")
    return center


@router.get("/v2/manage/shared-repositories", response_model=list[s.RepositoryListItem])
async def list_shared_repos_details(
    request: Request,
    response: Response,
    principal: PrincipalDep,
    services: ServicesDep,
    namespace: str | None = Query(default=None, max_length=64),
    name: str | None = Query(default=None, max_length=128),
    center: str | None = Query(default=None, max_length=16),
    limit: str | None = Query(default=None, max_length=20),
    offset: str | None = Query(default=None, max_length=20),
    order_column: str | None = Query(default=None, max_length=32),
    order_type: str | None = Query(default=None, max_length=8),
    filter: str | None = Query(default=None, max_length=1024),
) -> list[s.RepositoryListItem]:
    """Repositories I shared (``center=self``, the default) or others shared with me (``thirdparty``;
    ``status`` says whether the share is still valid); everything unless offset/limit page it."""
    listing = parse_listing(
        {
            "namespace": namespace,
            "name": name,
            "center": center,
            "limit": limit,
            "offset": offset,
            "order_column": order_column,
            "order_type": order_type,
        },
        filter,
        SHARED_RULES,
    )
    query = RepositoryQuery(listing.fields.get("namespace"), listing.fields.get("name"))
    page = await services.sharing.shared_page(
        principal,
        instance_id=instance_id(request),
        center=_center(listing.fields.get("center")),
        query=query,
        order=listing.order_column,
        descending=listing.descending,
        offset=listing.offset,
        limit=listing.limit,
    )
    response.headers["Content-Range"] = content_range(listing.offset, len(page.items), page.total)
    settings = services.settings
    return [
        list_item(
            r,
            page.tags[r.id],
            total=page.total,
            status=page.valid.get(r.id, False),
            external=settings.registry_host,
            internal=settings.internal_host,
        )
        for r in page.items
    ]


@router.get("/v3/manage/shared-repositories", response_model=s.RepositoryV3List, response_model_exclude_none=True)
async def list_shared_repo_details(
    request: Request,
    principal: PrincipalDep,
    services: ServicesDep,
    namespace: str | None = Query(default=None, max_length=64),
    name: str | None = Query(default=None, max_length=128),
    shared_by: str | None = Query(default=None, max_length=16),
    limit: int = Query(default=100, ge=1, le=1000),
    marker: int = Query(default=0, ge=0, le=2**62),
    status: bool | None = None,
) -> s.RepositoryV3List:
    """Shared repositories by id from ``marker`` on; ``status`` picks valid (true) or expired (false)
    shares of repositories others shared with me."""
    items, valid, next_marker = await services.sharing.shared_after(
        principal,
        instance_id=instance_id(request),
        center=_center(shared_by),
        query=RepositoryQuery(namespace or None, name or None),
        valid=status,
        marker=marker,
        limit=limit,
    )
    return s.RepositoryV3List(repos=[v3_item(r, status=valid.get(r.id, False)) for r in items], next_marker=next_marker)
