"""The endpoint policy of an instance (CreateInstanceEndpointPolicy: turn the public endpoint on or
off; ShowInstanceEndpointPolicy; UpdateInstanceEndpointPolicy: its address allowlist). The policy is
enforced by ``endpoint_guard.EndpointGuardMiddleware`` before authentication."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.enterprise.common import INSTANCE
from moorage.api.enterprise.schemas_access import EndpointPolicyView, EndpointSwitchBody, WhiteListBody
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import INSTANCE_ADMIN, INSTANCE_MEMBER, access_rules

POLICY = INSTANCE + "/endpoint-policy"

router = APIRouter(
    tags=["Enterprise Edition endpoint policies"], dependencies=[Depends(authorize)], route_class=ManagementRoute
)

ACCESS_RULES = access_rules(
    {
        ("POST", POLICY): INSTANCE_ADMIN,
        ("GET", POLICY): INSTANCE_MEMBER,
        ("PUT", POLICY): INSTANCE_ADMIN,
    }
)


@router.post(POLICY)
async def create_endpoint_policy(
    instance_id: str, body: EndpointSwitchBody, principal: PrincipalDep, services: ServicesDep
) -> Response:
    """Turn the instance's public endpoint on or off (off: every request to its host names is refused)."""
    await services.enterprise.endpoint_policies.set_enabled(principal, instance_id, body.enable)
    return Response(status_code=200)


@router.get(POLICY, response_model=EndpointPolicyView)
async def show_endpoint_policy(instance_id: str, principal: PrincipalDep, services: ServicesDep) -> EndpointPolicyView:
    """The public endpoint's state and allowlist."""
    return EndpointPolicyView.of(await services.enterprise.endpoint_policies.show(principal, instance_id))


@router.put(POLICY)
async def update_endpoint_policy(
    instance_id: str, body: WhiteListBody, principal: PrincipalDep, services: ServicesDep
) -> Response:
    """Replace the allowlist (addresses or CIDR networks; empty: every address)."""
    await services.enterprise.endpoint_policies.set_allowlist(
        principal, instance_id, [(entry.ip, entry.description) for entry in body.ip_list]
    )
    return Response(status_code=200)
