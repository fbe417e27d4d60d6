"""Repositories (``/v2/manage/namespaces/{namespace}/repos``, ``/v2/manage/repos``, ``/v3/manage/repos``):
create before the first push, show, change, delete with its tags, and list with SWR's filters."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response

from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import AUTHENTICATED, M, R, W, access_rules, on_namespace, on_repository
from moorage.api.swr import schemas as s
from moorage.api.swr.listing import ListingRules, content_range, parse_listing
from moorage.api.swr.wire import format_time, instance_id, pull_path, refuse_nul_characters, repository_name
from moorage.domain.management import RepositoryDetail, RepositoryQuery
from moorage.domain.names import RepositoryName

router = APIRouter(
    tags=["SWR repositories"],
    dependencies=[Depends(refuse_nul_characters), Depends(authorize)],
    route_class=ManagementRoute,
)

REPO = "/v2/manage/namespaces/{namespace}/repos/{repository}"
ACCESS_RULES = access_rules(
    {
        ("POST", "/v2/manage/namespaces/{namespace}/repos"): on_namespace(W),
        ("GET", REPO): on_repository(R),
        ("PATCH", REPO): on_repository(M),
        ("DELETE", REPO): on_repository(M),
        ("GET", "/v2/manage/repos"): AUTHENTICATED,  # filtered to what the caller may see
        ("GET", "/v3/manage/repos"): AUTHENTICATED,
    }
)

LIST_RULES = ListingRules(
    keys=frozenset({"namespace", "name", "category"}),
    order_columns={
        "name": "name",
        "updated_time": "updated_at",
        "updated_at": "updated_at",
        "tag_count": "tag_count",
        "created_at": "created_at",
    },
    default_order=("updated_at", True),
    default_limit=100,
    max_limit=1000,
    offset_multiple=True,
)


def list_item(
    repo: RepositoryDetail, tags: list[str], *, total: int, status: bool, external: str, internal: str
) -> s.RepositoryListItem:
    """A repository as the v2 listings show it."""
    name = RepositoryName(repo.namespace, repo.name)
    return s.RepositoryListItem(
        name=repo.name,
        category=repo.category,
        description=repo.description,
        size=repo.size,
        is_public=repo.is_public,
        num_images=repo.tag_count,
        num_download=repo.download_count,
        created_at=format_time(repo.created_at),
        updated_at=format_time(repo.updated_at),
        logo="",
        url="",
        path=pull_path(external, name),
        internal_path=pull_path(internal, name),
        domain_name=repo.domain_name,
        namespace=repo.namespace,
        tags=tags,
        status=status,
        total_range=total,
    )


def v3_item(repo: RepositoryDetail, *, status: bool) -> s.RepositoryV3Item:
    """A repository as the v3 listings show it."""
    return s.RepositoryV3Item(
        id=repo.id,
        name=repo.name,
        category=repo.category,
        description=repo.description,
        size=repo.size,
        is_public=repo.is_public,
        num_images=repo.tag_count,
        num_download=repo.download_count,
        created_at=format_time(repo.created_at),
        updated_at=format_time(repo.updated_at),
        domain_name=repo.domain_name,
        namespace_name=repo.namespace,
        status=status,
    )


@router.post("/v2/manage/namespaces/{namespace}/repos", status_code=201, response_class=Response)
async def create_repo(
    namespace: str, body: s.CreateRepositoryBody, request: Request, principal: PrincipalDep, services: ServicesDep
) -> Response:
    """Create a repository in an organization, before any push."""
    name = repository_name(namespace, body.repository)
    await services.repository_management.create(
        principal,
        instance_id=instance_id(request),
        name=name,
        is_public=body.is_public,
        category=body.category,
        description=body.description,
    )
    return Response(status_code=201)


@router.get(REPO, response_model=s.RepositoryView)
async def show_repository(namespace: str, repository: str, request: Request, services: ServicesDep) -> s.RepositoryView:
    """One repository with its counters and pull paths."""
    name = repository_name(namespace, repository)
    repo = await services.repository_management.show(instance_id=instance_id(request), name=name)
    settings = services.settings
    return s.RepositoryView(
        id=repo.id,
        ns_id=repo.namespace_id,
        name=repo.name,
        category=repo.category,
        description=repo.description,
        creator_id=repo.creator_id,
        creator_name=repo.creator_name,
        size=repo.size,
        is_public=repo.is_public,
        num_images=repo.tag_count,
        num_download=repo.download_count,
        url="",
        path=pull_path(settings.registry_host, name),
        internal_path=pull_path(settings.internal_host, name),
        created=format_time(repo.created_at),
        updated=format_time(repo.updated_at),
        domain_id=repo.domain_id or "",
        priority=0,
    )


@router.patch(REPO, status_code=201, response_class=Response)
async def update_repo(
    namespace: str, repository: str, body: s.UpdateRepositoryBody, request: Request, services: ServicesDep
) -> Response:
    """Change a repository's visibility, category or description."""
    await services.repository_management.update(
        instance_id=instance_id(request),
        name=repository_name(namespace, repository),
        is_public=body.is_public,
        category=body.category,
        description=body.description,
    )
    return Response(status_code=201)


@router.delete(REPO, status_code=204, response_class=Response)
async def delete_repo(namespace: str, repository: str, request: Request, services: ServicesDep) -> Response:
    """Delete a repository with its tags and manifests."""
    await services.repository_management.delete(
        instance_id=instance_id(request), name=repository_name(namespace, repository)
    )
    return Response(status_code=204)


@router.get("/v2/manage/repos", response_model=list[s.RepositoryListItem])
async def list_repos_details(
    request: Request,
    response: Response,
    principal: PrincipalDep,
    services: ServicesDep,
    namespace: str | None = Query(default=None, max_length=64),
    name: str | None = Query(default=None, max_length=128),
    category: str | None = Query(default=None, max_length=64),
    limit: str | None = Query(default=None, max_length=20),
    offset: str | None = Query(default=None, max_length=20),
    order_column: str | None = Query(default=None, max_length=32),
    order_type: str | None = Query(default=None, max_length=8),
    filter: str | None = Query(default=None, max_length=1024),
) -> list[s.RepositoryListItem]:
    """The repositories of the caller's account they may see, one offset page (``Content-Range``)."""
    listing = parse_listing(
        {
            "namespace": namespace,
            "name": name,
            "category": category,
            "limit": limit,
            "offset": offset,
            "order_column": order_column,
            "order_type": order_type,
        },
        filter,
        LIST_RULES,
    )
    assert listing.limit is not None
    query = RepositoryQuery(listing.fields.get("namespace"), listing.fields.get("name"), listing.fields.get("category"))
    page = await services.repository_management.list_page(
        principal,
        instance_id=instance_id(request),
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
            status=False,
            external=settings.registry_host,
            internal=settings.internal_host,
        )
        for r in page.items
    ]


@router.get("/v3/manage/repos", response_model=s.RepositoryV3List, response_model_exclude_none=True)
async def list_repo_details(
    request: Request,
    principal: PrincipalDep,
    services: ServicesDep,
    namespace: str | None = Query(default=None, max_length=64),
    name: str | None = Query(default=None, max_length=128),
    category: str | None = Query(default=None, max_length=64),
    limit: int = Query(default=100, ge=1, le=1000),
    marker: int = Query(default=0, ge=0, le=2**62),
    is_public: bool | None = None,
) -> s.RepositoryV3List:
    """The repositories the caller may see, by id, from ``marker`` on (``nextMarker`` while more remain)."""
    items, next_marker = await services.repository_management.list_after(
        principal,
        instance_id=instance_id(request),
        query=RepositoryQuery(namespace or None, name or None, category or None, is_public),
        marker=marker,
        limit=limit,
    )
    return s.RepositoryV3List(repos=[v3_item(r, status=False) for r in items], next_marker=next_marker)
