"""moorage's organization policies, beside the HSS API: scan on push, and refusing pulls of images
with findings at or above a severity, with an allowlist of vulnerability ids.

``GET /v5/{project_id}/image/organization-policies``: every organization with a policy;
``GET`` / ``PUT .../organization-policies/{namespace}``: one organization's (its defaults when it
never set one). Reading needs any user of the account, changing the domain administrator.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.hss import schemas as s
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import ACCOUNT, ADMIN, access_rules
from moorage.api.swr.wire import refuse_nul_characters
from moorage.domain.security import NamespacePolicy

router = APIRouter(
    tags=["moorage organization policies"],
    dependencies=[Depends(refuse_nul_characters), Depends(authorize)],
    route_class=ManagementRoute,
)

POLICIES = "/v5/{project_id}/image/organization-policies"
ACCESS_RULES = access_rules(
    {
        ("GET", POLICIES): ACCOUNT,
        ("GET", POLICIES + "/{namespace}"): ACCOUNT,
        ("PUT", POLICIES + "/{namespace}"): ADMIN,
    }
)


def _policy(namespace: str, policy: NamespacePolicy) -> s.OrganizationPolicy:
    return s.OrganizationPolicy(
        namespace=namespace,
        scan_on_push=policy.scan_on_push,
        block_severity=policy.block_severity,
        block_unscanned=policy.block_unscanned,
        allowlist=list(policy.allowlist),
        version=policy.version,
    )


@router.get(POLICIES, response_model=s.OrganizationPolicyList)
async def list_organization_policies(
    project_id: str, principal: PrincipalDep, services: ServicesDep
) -> s.OrganizationPolicyList:
    """Every organization of the account that has a policy."""
    found = await services.security.policies.all(principal)
    return s.OrganizationPolicyList(total_num=len(found), data_list=[_policy(n, p) for n, p in found])


@router.get(POLICIES + "/{namespace}", response_model=s.OrganizationPolicy)
async def show_organization_policy(
    project_id: str, namespace: str, principal: PrincipalDep, services: ServicesDep
) -> s.OrganizationPolicy:
    """One organization's policy."""
    return _policy(namespace, await services.security.policies.get(principal, namespace))


@router.put(POLICIES + "/{namespace}", response_model=s.OrganizationPolicy)
async def set_organization_policy(
    project_id: str, namespace: str, body: s.OrganizationPolicyRequest, principal: PrincipalDep, services: ServicesDep
) -> s.OrganizationPolicy:
    """Replace one organization's policy (pull verdicts follow at once)."""
    policy = await services.security.policies.set(
        principal,
        namespace,
        scan_on_push=body.scan_on_push,
        block_severity=body.block_severity,
        block_unscanned=body.block_unscanned,
        allowlist=body.allowlist,
    )
    return _policy(namespace, policy)
