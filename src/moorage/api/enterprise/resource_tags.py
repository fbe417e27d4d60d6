"""Resource tags of instances and namespaces (the TMS-style operations). Their paths are the SDK's,
all parameters (``/v2/{project_id}/{resource_type}/{resource_id}/tags``): ``resource_type`` must be
``instances`` and ``sub_resource_type`` ``namespaces`` (else 400). This router is included after every
other Enterprise Edition router, so its parametrised paths take no other operation's path;
ListInstanceProjectTags (``/v2/{project_id}/instances/tags``, which ShowInstance would take) is in
``project_tags``, included before the instances router."""

from __future__ import annotations

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import Response

from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.enterprise.common import INSTANCE
from moorage.api.enterprise.schemas_tags import (
    FilterBody,
    ProjectTagList,
    ResourceCount,
    ResourceList,
    ResourceTagList,
    ResourceView,
    TagsBody,
)
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import ADMIN, AUTHENTICATED, INSTANCE_MEMBER, access_rules
from moorage.domain.enterprise import PageRequest
from moorage.domain.errors import Invalid
from moorage.domain.resource_tags import resource_type as check_type
from moorage.domain.resource_tags import sub_resource_type as check_sub_type
from moorage.domain.resource_tags import validate_filters

NAMESPACE_TAGS = INSTANCE + "/namespaces-tags"
RESOURCES = "/v2/{project_id}/{resource_type}/resource-instances"
RESOURCE_TAGS = "/v2/{project_id}/{resource_type}/{resource_id}/tags"
SUB_RESOURCES = "/v2/{project_id}/{resource_type}/{resource_id}/{sub_resource_type}/resource-instances"
SUB_RESOURCE_TAGS = "/v2/{project_id}/{resource_type}/{resource_id}/{sub_resource_type}/{sub_resource_id}/tags"
DEFAULT_LIMIT = MAX_LIMIT = 200

router = APIRouter(
    tags=["Enterprise Edition resource tags"], dependencies=[Depends(authorize)], route_class=ManagementRoute
)

# Tags are changed by a domain administrator; read by any user of the domain (the services check that
# the instance is the caller's domain's and leave out namespaces the caller may not see).
ACCESS_RULES = access_rules(
    {
        ("GET", NAMESPACE_TAGS): INSTANCE_MEMBER,
        ("POST", RESOURCES + "/filter"): AUTHENTICATED,
        ("POST", RESOURCES + "/count"): AUTHENTICATED,
        ("GET", RESOURCE_TAGS): AUTHENTICATED,
        ("POST", RESOURCE_TAGS + "/create"): ADMIN,
        ("DELETE", RESOURCE_TAGS + "/delete"): ADMIN,
        ("POST", SUB_RESOURCES + "/filter"): AUTHENTICATED,
        ("POST", SUB_RESOURCES + "/count"): AUTHENTICATED,
        ("GET", SUB_RESOURCE_TAGS): AUTHENTICATED,
        ("POST", SUB_RESOURCE_TAGS + "/create"): ADMIN,
        ("DELETE", SUB_RESOURCE_TAGS + "/delete"): ADMIN,
    }
)


def _page(offset: int | None, limit: int | None) -> PageRequest:
    """ListInstanceResourceInstances' paging: ``offset`` from 0, ``limit`` 1-200 (default 200)."""
    start = 0 if offset is None else offset
    size = DEFAULT_LIMIT if limit is None else limit
    if not 1 <= size <= MAX_LIMIT:
        raise Invalid(f"limit must be between 1 and {MAX_LIMIT}, got {size}")
    if not 0 <= start <= 2**62:
        raise Invalid(f"offset must be from 0 to {2**62}, got {start}")
    return PageRequest(start, size)


@router.get(NAMESPACE_TAGS, response_model=ProjectTagList)
async def list_namespace_tags(instance_id: str, principal: PrincipalDep, services: ServicesDep) -> ProjectTagList:
    """Every key, with its values, on the instance's namespaces the caller may see."""
    return ProjectTagList.of(await services.enterprise.tags.namespace_summary(principal, instance_id))


@router.post(RESOURCES + "/filter", response_model=ResourceList)
async def list_resource_instances(
    resource_type: str,
    principal: PrincipalDep,
    services: ServicesDep,
    offset: int | None = Query(default=None),
    limit: int | None = Query(default=None),
    body: FilterBody = Body(default_factory=FilterBody),
) -> ResourceList:
    """The caller's domain's instances carrying every tag of the filter."""
    check_type(resource_type)
    found = await services.enterprise.tags.find_instances(
        principal, validate_filters(body.filters()), _page(offset, limit)
    )
    return ResourceList(resources=[ResourceView.of(r) for r in found.items], total_count=found.total)


@router.post(RESOURCES + "/count", response_model=ResourceCount)
async def count_resource_instances(
    resource_type: str,
    principal: PrincipalDep,
    services: ServicesDep,
    body: FilterBody = Body(default_factory=FilterBody),
) -> ResourceCount:
    """How many of the caller's domain's instances carry every tag of the filter."""
    check_type(resource_type)
    found = await services.enterprise.tags.find_instances(
        principal, validate_filters(body.filters()), PageRequest(0, 1)
    )
    return ResourceCount(total_count=found.total)


@router.get(RESOURCE_TAGS, response_model=ResourceTagList)
async def list_resource_tags(
    resource_type: str, resource_id: str, principal: PrincipalDep, services: ServicesDep
) -> ResourceTagList:
    """An instance's tags."""
    check_type(resource_type)
    return ResourceTagList.of(await services.enterprise.tags.instance_tags(principal, resource_id[:64]))


@router.post(RESOURCE_TAGS + "/create", status_code=204)
async def create_resource_tags(
    resource_type: str, resource_id: str, body: TagsBody, principal: PrincipalDep, services: ServicesDep
) -> Response:
    """Add tags to an instance (a key it has gets the new value)."""
    check_type(resource_type)
    await services.enterprise.tags.tag_instance(principal, resource_id[:64], body.pairs())
    return Response(status_code=204)


@router.delete(RESOURCE_TAGS + "/delete", status_code=204)
async def delete_resource_tags(
    resource_type: str, resource_id: str, body: TagsBody, principal: PrincipalDep, services: ServicesDep
) -> Response:
    """Remove tags from an instance by key."""
    check_type(resource_type)
    await services.enterprise.tags.untag_instance(principal, resource_id[:64], body.pairs())
    return Response(status_code=204)


@router.post(SUB_RESOURCES + "/filter", response_model=ResourceList)
async def list_sub_resource_instances(
    resource_type: str,
    resource_id: str,
    sub_resource_type: str,
    principal: PrincipalDep,
    services: ServicesDep,
    offset: int | None = Query(default=None),
    limit: int | None = Query(default=None),
    body: FilterBody = Body(default_factory=FilterBody),
) -> ResourceList:
    """The instance's namespaces the caller may see carrying every tag of the filter."""
    check_type(resource_type)
    check_sub_type(sub_resource_type)
    found = await services.enterprise.tags.find_namespaces(
        principal, resource_id[:64], validate_filters(body.filters()), _page(offset, limit)
    )
    return ResourceList(resources=[ResourceView.of(r) for r in found.items], total_count=found.total)


@router.post(SUB_RESOURCES + "/count", response_model=ResourceCount)
async def count_sub_resource_instances(
    resource_type: str,
    resource_id: str,
    sub_resource_type: str,
    principal: PrincipalDep,
    services: ServicesDep,
    body: FilterBody = Body(default_factory=FilterBody),
) -> ResourceCount:
    """How many of the instance's namespaces the caller may see carry every tag of the filter."""
    check_type(resource_type)
    check_sub_type(sub_resource_type)
    found = await services.enterprise.tags.find_namespaces(
        principal, resource_id[:64], validate_filters(body.filters()), PageRequest(0, 1)
    )
    return ResourceCount(total_count=found.total)


@router.get(SUB_RESOURCE_TAGS, response_model=ResourceTagList)
async def list_sub_resource_tags(
    resource_type: str,
    resource_id: str,
    sub_resource_type: str,
    sub_resource_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
) -> ResourceTagList:
    """A namespace's tags (named by its id or its name)."""
    check_type(resource_type)
    check_sub_type(sub_resource_type)
    return ResourceTagList.of(
        await services.enterprise.tags.namespace_tags(principal, resource_id[:64], sub_resource_id[:64])
    )


@router.post(SUB_RESOURCE_TAGS + "/create", status_code=204)
async def create_sub_resource_tags(
    resource_type: str,
    resource_id: str,
    sub_resource_type: str,
    sub_resource_id: str,
    body: TagsBody,
    principal: PrincipalDep,
    services: ServicesDep,
) -> Response:
    """Add tags to a namespace (a key it has gets the new value)."""
    check_type(resource_type)
    check_sub_type(sub_resource_type)
    await services.enterprise.tags.tag_namespace(principal, resource_id[:64], sub_resource_id[:64], body.pairs())
    return Response(status_code=204)


@router.delete(SUB_RESOURCE_TAGS + "/delete", status_code=204)
async def delete_sub_resource_tags(
    resource_type: str,
    resource_id: str,
    sub_resource_type: str,
    sub_resource_id: str,
    body: TagsBody,
    principal: PrincipalDep,
    services: ServicesDep,
) -> Response:
    """Remove tags from a namespace by key."""
    check_type(resource_type)
    check_sub_type(sub_resource_type)
    await services.enterprise.tags.untag_namespace(principal, resource_id[:64], sub_resource_id[:64], body.pairs())
    return Response(status_code=204)
