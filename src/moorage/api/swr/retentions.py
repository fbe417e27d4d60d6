"""Retention of a repository (``.../repos/{repository}/retentions``): create, list, show, change,
delete, and the log of the tags retention deleted (CreateRetention ... ListRetentionHistories).
What a rule keeps is in ``services/retention/rules.py``; a run in ``services/retention/shared.py``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response

from moorage.api.deps import ServicesDep, authorize
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import M, R, access_rules, on_repository
from moorage.api.row_ids import RowId
from moorage.api.swr import schemas_retention as s
from moorage.api.swr.listing import ListingRules, content_range, parse_listing
from moorage.api.swr.wire import instance_id, refuse_nul_characters, repository_name

router = APIRouter(
    tags=["SWR retention"],
    dependencies=[Depends(refuse_nul_characters), Depends(authorize)],
    route_class=ManagementRoute,
)

RETENTIONS = "/v2/manage/namespaces/{namespace}/repos/{repository}/retentions"
RETENTION = RETENTIONS + "/{retention_id}"
HISTORIES = RETENTIONS + "/histories"
ACCESS_RULES = access_rules(
    {
        ("POST", RETENTIONS): on_repository(M),
        ("GET", RETENTIONS): on_repository(R),
        ("GET", HISTORIES): on_repository(R),
        ("GET", RETENTION): on_repository(R),
        ("PATCH", RETENTION): on_repository(M),
        ("DELETE", RETENTION): on_repository(M),
    }
)

HISTORY_RULES = ListingRules(
    keys=frozenset(),
    order_columns={},
    default_order=("id", True),
    default_limit=None,
    max_limit=1000,
    offset_multiple=True,
)
"""ListRetentionHistories: ``offset`` and ``limit`` (plain or in ``filter``), the offset 0 or a
multiple of the limit; without a limit, the whole log."""


@router.post(RETENTIONS, status_code=201, response_model=s.CreatedRetention)
async def create_retention(
    namespace: str, repository: str, body: s.RetentionBody, request: Request, services: ServicesDep
) -> s.CreatedRetention:
    """Give a repository its retention (it runs at once, then on the schedule)."""
    created = await services.retention.shared.create(
        instance_id=instance_id(request),
        name=repository_name(namespace, repository),
        algorithm=body.algorithm,
        fields=[r.fields() for r in body.rules],
    )
    return s.CreatedRetention(id=created)


@router.get(RETENTIONS, response_model=list[s.RetentionView])
async def list_retentions(
    namespace: str, repository: str, request: Request, services: ServicesDep
) -> list[s.RetentionView]:
    """The repository's retentions (none or one)."""
    found = await services.retention.shared.list_retentions(
        instance_id=instance_id(request), name=repository_name(namespace, repository)
    )
    return [s.RetentionView.of(r) for r in found]


@router.get(HISTORIES, response_model=s.RetentionLogList)
async def list_retention_histories(
    namespace: str,
    repository: str,
    request: Request,
    response: Response,
    services: ServicesDep,
    limit: str | None = Query(default=None, max_length=20),
    offset: str | None = Query(default=None, max_length=20),
    filter: str | None = Query(default=None, max_length=1024),
) -> s.RetentionLogList:
    """The tags retention deleted, newest first (``Content-Range: offset-count/total``)."""
    listing = parse_listing({"limit": limit, "offset": offset}, filter, HISTORY_RULES)
    found = await services.retention.shared.histories(
        instance_id=instance_id(request),
        name=repository_name(namespace, repository),
        offset=listing.offset,
        limit=listing.limit,
    )
    response.headers["Content-Range"] = content_range(listing.offset, len(found.items), found.total)
    return s.RetentionLogList(retention_log=[s.RetentionLogView.of(e) for e in found.items], total=found.total)


@router.get(RETENTION, response_model=s.RetentionView)
async def show_retention(
    namespace: str, repository: str, retention_id: RowId, request: Request, services: ServicesDep
) -> s.RetentionView:
    """One retention."""
    return s.RetentionView.of(
        await services.retention.shared.get(
            instance_id=instance_id(request), name=repository_name(namespace, repository), retention_id=retention_id
        )
    )


@router.patch(RETENTION, status_code=201, response_class=Response)
async def update_retention(
    namespace: str, repository: str, retention_id: RowId, body: s.RetentionBody, request: Request, services: ServicesDep
) -> Response:
    """Replace a retention's rules (it runs at once)."""
    await services.retention.shared.update(
        instance_id=instance_id(request),
        name=repository_name(namespace, repository),
        retention_id=retention_id,
        algorithm=body.algorithm,
        fields=[r.fields() for r in body.rules],
    )
    return Response(status_code=201)


@router.delete(RETENTION, status_code=204, response_class=Response)
async def delete_retention(
    namespace: str, repository: str, retention_id: RowId, request: Request, services: ServicesDep
) -> Response:
    """Delete a retention (its log stays)."""
    await services.retention.shared.delete(
        instance_id=instance_id(request), name=repository_name(namespace, repository), retention_id=retention_id
    )
    return Response(status_code=204)
