"""Tags (``.../repos/{repository}/tags``, v2 and v3), one tag with its manifest, tagging again,
deleting, and a tag's accessories (signatures, SBOMs...) and references."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response

from moorage.api.deps import ServicesDep, authorize
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import M, R, W, access_rules, on_repository
from moorage.api.swr import schemas as s
from moorage.api.swr.listing import ListingRules, content_range, parse_listing
from moorage.api.swr.wire import (
    decode_tag_marker,
    encode_tag_marker,
    format_time,
    instance_id,
    pull_path,
    refuse_nul_characters,
    repository_name,
)
from moorage.domain import mediatypes as mt
from moorage.domain.errors import Invalid
from moorage.domain.management import TagDetail
from moorage.domain.registry import Repository
from moorage.settings import Settings

router = APIRouter(
    tags=["SWR tags"], dependencies=[Depends(refuse_nul_characters), Depends(authorize)], route_class=ManagementRoute
)

TAGS = "/v2/manage/namespaces/{namespace}/repos/{repository}/tags"
ACCESS_RULES = access_rules(
    {
        ("GET", TAGS): on_repository(R),
        ("POST", TAGS): on_repository(W),
        ("GET", TAGS + "/{tag}"): on_repository(R),
        ("DELETE", TAGS + "/{tag}"): on_repository(M),
        ("GET", "/v3/manage/namespaces/{namespace}/repos/{repository}/tags"): on_repository(R),
        ("GET", "/v2/manage/namespaces/{namespace}/repos/{repository}/{tag}/accessories"): on_repository(R),
        ("GET", "/v2/manage/namespaces/{namespace}/repos/{repository}/{tag}/references"): on_repository(R),
    }
)

LIST_RULES = ListingRules(
    keys=frozenset({"tag"}),
    order_columns={"updated_at": "updated_at", "created_at": "created_at", "tag": "tag"},
    default_order=("updated_at", True),
    default_limit=100,
    max_limit=1000,
    offset_multiple=False,
)
V3_ORDER_COLUMNS = {"updated_at": "updated_at", "created_at": "created_at", "tag": "tag"}


def _fields(repository: Repository, tag: TagDetail, settings: Settings) -> dict[str, object]:
    """What every tag view shares."""
    name = f"{repository.namespace}/{repository.name}"
    return {
        "id": tag.id,
        "repo_id": repository.id,
        "tag": tag.name,
        "image_id": tag.config_digest.partition(":")[2] if tag.config_digest else "",
        "manifest": tag.payload.decode("utf-8", errors="replace"),
        "digest": tag.digest,
        "schema_version": 2,
        "path": pull_path(settings.registry_host, name, tag.name),
        "internal_path": pull_path(settings.internal_host, name, tag.name),
        "size": tag.image_size,
        "is_trusted": False,
        "created": format_time(tag.created_at),
        "updated": format_time(tag.updated_at),
        "domain_id": repository.domain_id or "",
        "tag_type": 1 if tag.media_type in mt.INDEXES else 0,
    }


@router.get(TAGS, response_model=list[s.TagListItem])
async def list_repository_tags(
    namespace: str,
    repository: str,
    request: Request,
    response: Response,
    services: ServicesDep,
    limit: str | None = Query(default=None, max_length=20),
    offset: str | None = Query(default=None, max_length=20),
    order_column: str | None = Query(default=None, max_length=32),
    order_type: str | None = Query(default=None, max_length=8),
    tag: str | None = Query(default=None, max_length=128),
    filter: str | None = Query(default=None, max_length=1024),
) -> list[s.TagListItem]:
    """Tags with their manifests, one offset page (``Content-Range: offset-count/total``)."""
    listing = parse_listing(
        {"limit": limit, "offset": offset, "order_column": order_column, "order_type": order_type, "tag": tag},
        filter,
        LIST_RULES,
    )
    assert listing.limit is not None
    page = await services.tag_management.list_page(
        instance_id=instance_id(request),
        name=repository_name(namespace, repository),
        order=listing.order_column,
        descending=listing.descending,
        offset=listing.offset,
        limit=listing.limit,
        name_contains=listing.fields.get("tag"),
    )
    response.headers["Content-Range"] = content_range(listing.offset, len(page.items), page.total)
    return [
        s.TagListItem(**_fields(page.repository, t, services.settings), deleted=None, scanned=False) for t in page.items
    ]


@router.get(
    "/v3/manage/namespaces/{namespace}/repos/{repository}/tags",
    response_model=s.TagV3List,
    response_model_exclude_none=True,
)
async def list_repository_tag(
    namespace: str,
    repository: str,
    request: Request,
    services: ServicesDep,
    limit: int = Query(default=100, ge=1, le=1000),
    marker: str | None = Query(default=None, max_length=160),
    tag: str | None = Query(default=None, max_length=128),
    order_column: str | None = Query(default=None, max_length=32),
    order_type: str | None = Query(default=None, max_length=8),
    with_manifest: bool = False,
) -> s.TagV3List:
    """Tags, one keyset page after ``marker`` (``nextMarker`` and ``has_more`` say whether more remain)."""
    if order_column is not None and order_column not in V3_ORDER_COLUMNS:
        raise Invalid(f"order_column must be one of {', '.join(V3_ORDER_COLUMNS)}", reason="invalid_filter")
    if order_type is not None and order_type not in ("asc", "desc"):
        raise Invalid("order_type must be asc or desc", reason="invalid_filter")
    column = V3_ORDER_COLUMNS[order_column or "updated_at"]
    start = decode_tag_marker(marker, by_name=column == "tag") if marker else None
    repo, items, next_key = await services.tag_management.list_after(
        instance_id=instance_id(request),
        name=repository_name(namespace, repository),
        order=column,
        descending=(order_type or "desc") == "desc",
        start=start,
        limit=limit,
        name_contains=tag or None,
        with_payload=with_manifest,
    )
    views = []
    for item in items:
        fields = _fields(repo, item, services.settings)
        if not with_manifest:
            fields["manifest"] = None
        views.append(s.TagV3Item(**fields))
    return s.TagV3List(
        tags=views, next_marker=encode_tag_marker(next_key) if next_key else None, has_more=next_key is not None
    )


@router.post(TAGS, status_code=201, response_class=Response)
async def create_repo_tag(
    namespace: str, repository: str, body: s.CreateTagBody, request: Request, services: ServicesDep
) -> Response:
    """Tag the image ``source_tag`` names again, as ``destination_tag``."""
    await services.tag_management.copy(
        instance_id=instance_id(request),
        name=repository_name(namespace, repository),
        source=body.source_tag,
        destination=body.destination_tag,
        override=body.override,
    )
    return Response(status_code=201)


@router.get(TAGS + "/{tag}", response_model=s.TagView)
async def show_repo_tag(
    namespace: str, repository: str, tag: str, request: Request, services: ServicesDep
) -> s.TagView:
    """One tag: its manifest exactly as the registry serves it, digest, sizes, pull paths."""
    repo, found = await services.tag_management.show(
        instance_id=instance_id(request), name=repository_name(namespace, repository), tag=tag
    )
    return s.TagView(**_fields(repo, found, services.settings))


@router.delete(TAGS + "/{tag}", status_code=204, response_class=Response)
async def delete_repo_tag(
    namespace: str, repository: str, tag: str, request: Request, services: ServicesDep
) -> Response:
    """Delete a tag (gone from ``/v2/<name>/tags/list`` too; the manifest stays, reachable by digest)."""
    await services.tag_management.delete(
        instance_id=instance_id(request), name=repository_name(namespace, repository), tag=tag
    )
    return Response(status_code=204)


@router.get("/v2/manage/namespaces/{namespace}/repos/{repository}/{tag}/accessories", response_model=s.AccessoryList)
async def list_repo_accessories(
    namespace: str,
    repository: str,
    tag: str,
    request: Request,
    services: ServicesDep,
    limit: int = Query(default=10, ge=1, le=100),
    offset: int = Query(default=0, ge=0, le=2**31),
) -> s.AccessoryList:
    """Signatures, SBOMs, attestations and other artifacts attached to the image a tag names."""
    repo, items, total = await services.tag_management.accessories(
        instance_id=instance_id(request),
        name=repository_name(namespace, repository),
        tag=tag,
        offset=offset,
        limit=limit,
    )
    return s.AccessoryList(
        total=total,
        accessories=[
            s.AccessoryItem(
                id=a.id,
                domain_id=repo.domain_id or "",
                namespace_name=repo.namespace,
                repo_name=repo.name,
                sig_tag=a.tag,
                sig_digest=a.digest,
                target_digest=a.target_digest,
                size=a.size,
                type=a.kind,
                created_at=format_time(a.created_at),
                updated_at=format_time(a.created_at),
            )
            for a in items
        ],
    )


@router.get(
    "/v2/manage/namespaces/{namespace}/repos/{repository}/{tag}/references",
    response_model=s.ReferenceList,
    response_model_exclude_none=True,
)
async def list_references(
    namespace: str,
    repository: str,
    tag: str,
    request: Request,
    services: ServicesDep,
    limit: int = Query(default=10, ge=1, le=10),
    marker: str | None = Query(default=None, max_length=128),
) -> s.ReferenceList:
    """The tags of the image that the accessory tagged ``tag`` (a signature, an SBOM...) refers to."""
    names, next_marker = await services.tag_management.references(
        instance_id=instance_id(request),
        name=repository_name(namespace, repository),
        tag=tag,
        after=marker or None,
        limit=limit,
    )
    return s.ReferenceList(next_marker=next_marker, has_more=next_marker is not None, tags=names)
