"""Immutable tag rules: list (per instance, optionally one namespace), create, update, delete. Fields
and types are those of ``ImmutableRule``, ``CreateImmutableRuleBody``/``UpdateImmutableRuleBody``
and ``RuleSelector``; what a rule does is in ``services/enterprise/immutability.py``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.enterprise.common import INSTANCE, NAMESPACE, page
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import INSTANCE_MEMBER, RULES, M, on_instance_namespace
from moorage.domain.enterprise import Selector
from moorage.domain.immutable_rules import ImmutableRule
from moorage.services.enterprise.immutable_rules import RuleFields

RULES_OF_INSTANCE = INSTANCE + "/immutabletagrules"
RULES_OF_NAMESPACE = NAMESPACE + "/immutabletagrules"
RULE = RULES_OF_NAMESPACE + "/{immutable_rule_id}"

router = APIRouter(tags=["Enterprise Edition immutable tag rules"], dependencies=[Depends(authorize)],
                   route_class=ManagementRoute)

RULES.update({
    ("GET", RULES_OF_INSTANCE): INSTANCE_MEMBER,  # filtered to the namespaces the caller may see
    ("POST", RULES_OF_NAMESPACE): on_instance_namespace(M),
    ("PUT", RULE): on_instance_namespace(M),
    ("DELETE", RULE): on_instance_namespace(M),
})


class RuleSelectorModel(BaseModel):
    """``RuleSelector``: every field but ``extras`` is required in a request."""

    model_config = ConfigDict(extra="ignore")
    kind: str = Field(max_length=32)
    decoration: str = Field(max_length=32)
    pattern: str = Field(max_length=512)
    extras: str | None = Field(default=None, max_length=512)

    def selector(self) -> Selector:
        """The domain form."""
        return Selector(self.kind, self.decoration, self.pattern, self.extras or "")

    @classmethod
    def of(cls, selector: Selector) -> RuleSelectorModel:
        """The wire form."""
        return cls(kind=selector.kind, decoration=selector.decoration, pattern=selector.pattern,
                   extras=selector.extras)


class RuleBody(BaseModel):
    """``CreateImmutableRuleBody`` / ``UpdateImmutableRuleBody``."""

    model_config = ConfigDict(extra="ignore")
    priority: int | None = None
    disabled: bool | None = None
    action: str | None = Field(default=None, max_length=32)
    template: str | None = Field(default=None, max_length=64)
    tag_selectors: list[RuleSelectorModel] = Field(max_length=20)
    scope_selectors: dict[str, list[RuleSelectorModel]] = Field(max_length=8)

    def fields(self) -> RuleFields:
        """What the request sets."""
        return RuleFields(tag_selectors=[s.selector() for s in self.tag_selectors],
                          scope_selectors={kind: [s.selector() for s in selectors]
                                           for kind, selectors in self.scope_selectors.items()},
                          priority=self.priority, disabled=self.disabled, action=self.action, template=self.template)


class ImmutableRuleView(BaseModel):
    """``ImmutableRule``."""

    id: int
    namespace_id: int
    namespace_name: str
    priority: int
    disabled: bool
    action: str
    template: str
    tag_selectors: list[RuleSelectorModel]
    scope_selectors: dict[str, list[RuleSelectorModel]]

    @classmethod
    def of(cls, rule: ImmutableRule) -> ImmutableRuleView:
        """The wire form of a rule."""
        return cls(id=rule.id, namespace_id=rule.namespace_id, namespace_name=rule.namespace_name,
                   priority=rule.priority, disabled=rule.disabled, action=rule.action, template=rule.template,
                   tag_selectors=[RuleSelectorModel.of(s) for s in rule.tag_selectors],
                   scope_selectors={"repository": [RuleSelectorModel.of(s) for s in rule.repository_selectors]})


class ImmutableRuleList(BaseModel):
    """``ListImmutableRulesResponse``."""

    immutable_rules: list[ImmutableRuleView]
    total: int


class CreatedRule(BaseModel):
    """``CreateImmutableRuleResponse``."""

    id: int


@router.get(RULES_OF_INSTANCE, response_model=ImmutableRuleList)
async def list_immutable_rules(instance_id: str, principal: PrincipalDep, services: ServicesDep,
                               namespace_id: int | None = Query(default=None),
                               offset: int | None = Query(default=None),
                               limit: int | None = Query(default=None)) -> ImmutableRuleList:
    """Rules of the namespaces of the instance the caller may see (of one namespace with ``namespace_id``)."""
    found = await services.enterprise.immutable_rules.list_rules(principal, instance_id=instance_id,
                                                                 namespace_id=namespace_id, page=page(offset, limit))
    return ImmutableRuleList(immutable_rules=[ImmutableRuleView.of(r) for r in found.items], total=found.total)


@router.post(RULES_OF_NAMESPACE, status_code=201, response_model=CreatedRule)
async def create_immutable_rule(instance_id: str, namespace_name: str, body: RuleBody,
                                services: ServicesDep) -> CreatedRule:
    """Create a rule in a namespace."""
    created = await services.enterprise.immutable_rules.create(instance_id=instance_id, namespace=namespace_name,
                                                               fields=body.fields())
    return CreatedRule(id=created.id)


@router.put(RULE)
async def update_immutable_rule(instance_id: str, namespace_name: str, immutable_rule_id: int, body: RuleBody,
                                services: ServicesDep) -> Response:
    """Replace a rule's selectors and the other fields given."""
    await services.enterprise.immutable_rules.update(instance_id=instance_id, namespace=namespace_name,
                                                     rule_id=immutable_rule_id, fields=body.fields())
    return Response(status_code=200)


@router.delete(RULE, status_code=204)
async def delete_immutable_rule(instance_id: str, namespace_name: str, immutable_rule_id: int,
                                services: ServicesDep) -> Response:
    """Delete a rule: the tags it covered may move and go again."""
    await services.enterprise.immutable_rules.delete(instance_id=instance_id, namespace=namespace_name,
                                                     rule_id=immutable_rule_id)
    return Response(status_code=204)
