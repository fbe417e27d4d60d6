"""Image signature policies: create, list (per instance, and per namespace as a moorage extension),
show, update, delete. Fields and types are those of ``SignPolicyDetail`` and
``CreateSignaturePolicyRequestBody``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.enterprise import schemas_signing as s
from moorage.api.enterprise import selector_body
from moorage.api.enterprise.common import INSTANCE, POLICIES, POLICY, page, timestamp
from moorage.api.enterprise.schemas import CreatedId
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import INSTANCE_MEMBER, M, R, access_rules, on_instance_namespace
from moorage.api.row_ids import RowId
from moorage.domain.enterprise import PolicyChanges, ScopeRule, Selector, SignPolicy, Trigger

router = APIRouter(
    tags=["Enterprise Edition signature policies"], dependencies=[Depends(authorize)], route_class=ManagementRoute
)

ACCESS_RULES = access_rules(
    {
        ("POST", POLICIES): on_instance_namespace(M),
        ("GET", POLICIES): on_instance_namespace(R),
        ("GET", INSTANCE + "/signature/policies"): INSTANCE_MEMBER,  # filtered to what the caller may see
        ("GET", POLICY): on_instance_namespace(R),
        ("PUT", POLICY): on_instance_namespace(M),
        ("DELETE", POLICY): on_instance_namespace(M),
    }
)


class SelectorBody(selector_body.SelectorBody):
    """``SignRuleSelector``: ``kind`` may be left out (``doublestar``)."""

    kind: str = Field(default="doublestar", max_length=32)


class ScopeRuleBody(BaseModel):
    """``SignScopeRule``."""

    model_config = ConfigDict(extra="ignore")
    tag_selectors: list[SelectorBody] = Field(max_length=20)
    scope_selectors: dict[str, list[SelectorBody]]
    repo_scope_mode: str = Field(default="regular", max_length=32)

    def rule(self) -> ScopeRule:
        """The domain form (repository selectors come from ``scope_selectors["repository"]``)."""
        return ScopeRule(
            tuple(s.selector() for s in self.tag_selectors),
            tuple(s.selector() for s in self.scope_selectors.get("repository", [])),
            self.repo_scope_mode,
        )


class TriggerSettingBody(BaseModel):
    """``TriggerSetting``."""

    model_config = ConfigDict(extra="ignore")
    cron: str = Field(default="", max_length=128)


class TriggerBody(BaseModel):
    """``TriggerConfig``."""

    model_config = ConfigDict(extra="ignore")
    type: str = Field(max_length=32)
    trigger_settings: TriggerSettingBody | None = None

    def trigger(self) -> Trigger:
        """The domain form."""
        return Trigger(self.type, self.trigger_settings.cron if self.trigger_settings else "")


class PolicyBody(BaseModel):
    """``CreateSignaturePolicyRequestBody`` / ``UpdateSignaturePolicyRequestBody``."""

    model_config = ConfigDict(extra="ignore")
    name: str | None = Field(default=None, max_length=256)
    description: str | None = Field(default=None, max_length=512)
    enabled: bool | None = None
    signature_method: str | None = Field(default=None, max_length=32)
    signature_algorithm: str | None = Field(default=None, max_length=32)
    signature_key: str | None = Field(default=None, max_length=64)
    trigger: TriggerBody | None = None
    scope_rules: list[ScopeRuleBody] | None = Field(default=None, max_length=20)

    def changes(self) -> PolicyChanges:
        """What the request sets."""
        return PolicyChanges(
            self.name,
            self.description,
            self.enabled,
            self.signature_method,
            self.signature_algorithm,
            self.signature_key,
            self.trigger.trigger() if self.trigger else None,
            [r.rule() for r in self.scope_rules] if self.scope_rules is not None else None,
        )


def _selector_view(selector: Selector) -> s.SignRuleSelector:
    return s.SignRuleSelector(
        kind=selector.kind, decoration=selector.decoration, pattern=selector.pattern, extras=selector.extras
    )


def policy_view(policy: SignPolicy) -> s.SignPolicyDetail:
    """A ``SignPolicyDetail`` model."""
    return s.SignPolicyDetail(
        id=policy.id,
        name=policy.name,
        description=policy.description,
        namespace_id=policy.namespace_id,
        namespace_name=policy.namespace_name,
        trigger=s.TriggerConfig(type=policy.trigger.type, trigger_settings=s.TriggerSetting(cron=policy.trigger.cron)),
        creator=policy.creator,
        enabled=policy.enabled,
        scope_rules=[
            s.SignScopeRule(
                tag_selectors=[_selector_view(t) for t in r.tag_selectors],
                scope_selectors={"repository": [_selector_view(t) for t in r.repository_selectors]},
                repo_scope_mode=r.repo_scope_mode,
            )
            for r in policy.scope_rules
        ],
        created_at=timestamp(policy.created_at),
        updated_at=timestamp(policy.updated_at),
        signature_algorithm=policy.signature_algorithm,
        signature_key=policy.signature_key,
        signature_method=policy.signature_method,
    )


@router.post(POLICIES, status_code=201, response_model=CreatedId)
async def create_policy(
    instance_id: str, namespace_name: str, body: PolicyBody, principal: PrincipalDep, services: ServicesDep
) -> CreatedId:
    """Create a signature policy in a namespace."""
    created = await services.enterprise.policies.create(
        principal, instance_id=instance_id, namespace=namespace_name, changes=body.changes()
    )
    return CreatedId(id=created.id)


@router.get(POLICIES, response_model=s.SignPolicyList)
async def list_namespace_policies(
    instance_id: str,
    namespace_name: str,
    principal: PrincipalDep,
    services: ServicesDep,
    offset: int | None = Query(default=None),
    limit: int | None = Query(default=None),
) -> s.SignPolicyList:
    """Policies of a namespace."""
    found = await services.enterprise.policies.list_policies(
        principal, instance_id=instance_id, namespace=namespace_name, page=page(offset, limit)
    )
    return s.SignPolicyList(policies=[policy_view(p) for p in found.items], total=found.total)


@router.get(INSTANCE + "/signature/policies", response_model=s.SignPolicyList)
async def list_instance_policies(
    instance_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    offset: int | None = Query(default=None),
    limit: int | None = Query(default=None),
) -> s.SignPolicyList:
    """Policies of every namespace of the instance the caller may see."""
    found = await services.enterprise.policies.list_policies(
        principal, instance_id=instance_id, namespace=None, page=page(offset, limit)
    )
    return s.SignPolicyList(policies=[policy_view(p) for p in found.items], total=found.total)


@router.get(POLICY, response_model=s.SignPolicyDetail)
async def show_policy(
    instance_id: str, namespace_name: str, policy_id: RowId, services: ServicesDep
) -> s.SignPolicyDetail:
    """One policy."""
    return policy_view(
        await services.enterprise.policies.get(instance_id=instance_id, namespace=namespace_name, policy_id=policy_id)
    )


@router.put(POLICY)
async def update_policy(
    instance_id: str, namespace_name: str, policy_id: RowId, body: PolicyBody, services: ServicesDep
) -> Response:
    """Change the fields given."""
    await services.enterprise.policies.update(
        instance_id=instance_id, namespace=namespace_name, policy_id=policy_id, changes=body.changes()
    )
    return Response(status_code=200)


@router.delete(POLICY, status_code=204)
async def delete_policy(instance_id: str, namespace_name: str, policy_id: RowId, services: ServicesDep) -> Response:
    """Delete a policy and its executions."""
    await services.enterprise.policies.delete(instance_id=instance_id, namespace=namespace_name, policy_id=policy_id)
    return Response(status_code=204)
