"""Webhook policies of instance namespaces: create, list (per instance), show, update, delete, and
their deliveries (``ListInstanceWebhookJobs``). Fields are the SDK's (``CreateWebhookPolicyRequestBody``,
``WebhookPolicyDetail``, ``Target``, ``ScopeRule``, ``Job``); the create answer adds the signing secret.
What a policy does is in ``services/events`` and docs/events.md."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.enterprise.common import INSTANCE, NAMESPACE, page
from moorage.api.enterprise.schemas_events import (
    CreatedWebhook,
    WebhookJob,
    WebhookJobList,
    WebhookPolicyBody,
    WebhookPolicyList,
    WebhookPolicyView,
)
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import INSTANCE_MEMBER, M, W, access_rules, on_instance_namespace
from moorage.api.row_ids import RowId

POLICIES_OF_INSTANCE = INSTANCE + "/webhook/policies"
POLICIES = NAMESPACE + "/webhook/policies"
POLICY = POLICIES + "/{policy_id}"

router = APIRouter(tags=["Enterprise Edition webhooks"], dependencies=[Depends(authorize)], route_class=ManagementRoute)

ACCESS_RULES = access_rules(
    {
        ("GET", POLICIES_OF_INSTANCE): INSTANCE_MEMBER,  # filtered to the namespaces the caller may write to
        ("POST", POLICIES): on_instance_namespace(M),
        ("GET", POLICY): on_instance_namespace(W),
        ("PUT", POLICY): on_instance_namespace(M),
        ("DELETE", POLICY): on_instance_namespace(M),
        ("GET", POLICY + "/jobs"): on_instance_namespace(W),
    }
)


@router.get(POLICIES_OF_INSTANCE, response_model=WebhookPolicyList)
async def list_instance_webhooks(
    instance_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    order_column: str | None = Query(default=None, max_length=32),
    order_type: str | None = Query(default=None, max_length=8),
    name: str | None = Query(default=None, max_length=256),
    namespace_id: int | None = Query(default=None),
    offset: int | None = Query(default=None),
    limit: int | None = Query(default=None),
) -> WebhookPolicyList:
    """Policies of the instance's namespaces the caller may write to (all for an administrator)."""
    found = await services.events.webhooks.list_policies(
        principal,
        instance_id=instance_id,
        namespace_id=namespace_id,
        name=name,
        order_column=order_column,
        order_type=order_type,
        page=page(offset, limit),
    )
    return WebhookPolicyList(policies=[WebhookPolicyView.of(p) for p in found.items], total=found.total)


@router.post(POLICIES, status_code=201, response_model=CreatedWebhook)
async def create_instance_webhook(
    instance_id: str, namespace_name: str, body: WebhookPolicyBody, principal: PrincipalDep, services: ServicesDep
) -> CreatedWebhook:
    """Create a policy; the answer holds its signing secret, shown this once."""
    created = await services.events.webhooks.create(
        principal, instance_id=instance_id, namespace=namespace_name, fields=body.fields()
    )
    return CreatedWebhook(id=created.policy.id, signing_secret=created.secret)


@router.get(POLICY, response_model=WebhookPolicyView)
async def show_instance_webhook(
    instance_id: str, namespace_name: str, policy_id: RowId, services: ServicesDep
) -> WebhookPolicyView:
    """One policy (auth headers shown as ``******``)."""
    found = await services.events.webhooks.get(instance_id=instance_id, namespace=namespace_name, policy_id=policy_id)
    return WebhookPolicyView.of(found)


@router.put(POLICY)
async def update_instance_webhook(
    instance_id: str, namespace_name: str, policy_id: RowId, body: WebhookPolicyBody, services: ServicesDep
) -> Response:
    """Replace a policy's fields (an auth header sent back as ``******`` keeps the stored one)."""
    await services.events.webhooks.update(
        instance_id=instance_id, namespace=namespace_name, policy_id=policy_id, fields=body.fields()
    )
    return Response(status_code=200)


@router.delete(POLICY, status_code=204)
async def delete_instance_webhook(
    instance_id: str, namespace_name: str, policy_id: RowId, services: ServicesDep
) -> Response:
    """Delete a policy with its delivery records."""
    await services.events.webhooks.delete(instance_id=instance_id, namespace=namespace_name, policy_id=policy_id)
    return Response(status_code=204)


@router.get(POLICY + "/jobs", response_model=WebhookJobList)
async def list_instance_webhook_jobs(
    instance_id: str,
    namespace_name: str,
    policy_id: RowId,
    services: ServicesDep,
    status: str | None = Query(default=None, max_length=32),
    offset: int | None = Query(default=None),
    limit: int | None = Query(default=None),
) -> WebhookJobList:
    """A policy's deliveries, newest first, optionally of one status."""
    found = await services.events.webhooks.deliveries(
        instance_id=instance_id, namespace=namespace_name, policy_id=policy_id, status=status, page=page(offset, limit)
    )
    return WebhookJobList(jobs=[WebhookJob.of(d) for d in found.items], total=found.total)
