"""Immutable tag rules: list (per instance, optionally one namespace), create, update, delete. Fields
and types are those of ``ImmutableRule``, ``CreateImmutableRuleBody``/``UpdateImmutableRuleBody``
and ``RuleSelector``; what a rule does is in ``services/enterprise/immutability.py``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.enterprise.common import INSTANCE, NAMESPACE, page
from moorage.api.enterprise.schemas_immutable import CreatedRule, ImmutableRuleList, ImmutableRuleView, RuleBody
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import INSTANCE_MEMBER, M, access_rules, on_instance_namespace
from moorage.api.row_ids import RowId

RULES_OF_INSTANCE = INSTANCE + "/immutabletagrules"
RULES_OF_NAMESPACE = NAMESPACE + "/immutabletagrules"
RULE = RULES_OF_NAMESPACE + "/{immutable_rule_id}"

router = APIRouter(
    tags=["Enterprise Edition immutable tag rules"], dependencies=[Depends(authorize)], route_class=ManagementRoute
)

ACCESS_RULES = access_rules(
    {
        ("GET", RULES_OF_INSTANCE): INSTANCE_MEMBER,  # filtered to the namespaces the caller may see
        ("POST", RULES_OF_NAMESPACE): on_instance_namespace(M),
        ("PUT", RULE): on_instance_namespace(M),
        ("DELETE", RULE): on_instance_namespace(M),
    }
)


@router.get(RULES_OF_INSTANCE, response_model=ImmutableRuleList)
async def list_immutable_rules(
    instance_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    namespace_id: int | None = Query(default=None),
    offset: int | None = Query(default=None),
    limit: int | None = Query(default=None),
) -> ImmutableRuleList:
    """Rules of the namespaces of the instance the caller may see (of one namespace with ``namespace_id``)."""
    found = await services.enterprise.immutable_rules.list_rules(
        principal, instance_id=instance_id, namespace_id=namespace_id, page=page(offset, limit)
    )
    return ImmutableRuleList(immutable_rules=[ImmutableRuleView.of(r) for r in found.items], total=found.total)


@router.post(RULES_OF_NAMESPACE, status_code=201, response_model=CreatedRule)
async def create_immutable_rule(
    instance_id: str, namespace_name: str, body: RuleBody, services: ServicesDep
) -> CreatedRule:
    """Create a rule in a namespace."""
    created = await services.enterprise.immutable_rules.create(
        instance_id=instance_id, namespace=namespace_name, fields=body.fields()
    )
    return CreatedRule(id=created.id)


@router.put(RULE)
async def update_immutable_rule(
    instance_id: str, namespace_name: str, immutable_rule_id: RowId, body: RuleBody, services: ServicesDep
) -> Response:
    """Replace a rule's selectors and the other fields given."""
    await services.enterprise.immutable_rules.update(
        instance_id=instance_id, namespace=namespace_name, rule_id=immutable_rule_id, fields=body.fields()
    )
    return Response(status_code=200)


@router.delete(RULE, status_code=204)
async def delete_immutable_rule(
    instance_id: str, namespace_name: str, immutable_rule_id: RowId, services: ServicesDep
) -> Response:
    """Delete a rule: the tags it covered may move and go again."""
    await services.enterprise.immutable_rules.delete(
        instance_id=instance_id, namespace=namespace_name, rule_id=immutable_rule_id
    )
    return Response(status_code=204)
