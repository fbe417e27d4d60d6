"""ListInstanceProjectTags (``GET /v2/{project_id}/instances/tags``): every tag key, with its values,
on the caller's domain's instances. A router of its own, included before the instances router, whose
``/v2/{project_id}/instances/{instance_id}`` would take the path (the other tag operations are in
``resource_tags``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.enterprise.schemas_tags import ProjectTagList
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import AUTHENTICATED, access_rules

PROJECT_TAGS = "/v2/{project_id}/instances/tags"

router = APIRouter(
    tags=["Enterprise Edition resource tags"], dependencies=[Depends(authorize)], route_class=ManagementRoute
)

ACCESS_RULES = access_rules({("GET", PROJECT_TAGS): AUTHENTICATED})  # the caller's domain's instances only


@router.get(PROJECT_TAGS, response_model=ProjectTagList)
async def list_project_tags(principal: PrincipalDep, services: ServicesDep) -> ProjectTagList:
    """Every key, with its values, on the instances of the caller's domain."""
    return ProjectTagList.of(await services.enterprise.tags.project_tags(principal))
