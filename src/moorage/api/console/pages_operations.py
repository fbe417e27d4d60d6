"""An Enterprise instance's operations pages: retention policies, their executions and tasks, the
garbage-collection schedule and runs, replication registries, policies and executions, webhook
policies and their deliveries, and the audit log.

Each page calls the service function its API twin's handler calls (``ListInstanceRetentionPolicies``,
``ShowGcSchedule`` and ``ListGcTasks``, ``ListInstanceRegistries``, ``ListInstanceWebhooks``,
``ListAuditLogs`` ...) under that route's access rule, one page of 20 rows at a time from the
database. The forms these pages show (run now, enable, delete, the GC schedule) post to
``pages_actions``; a page shows a form only when ``may()`` says its route's rule admits the user.
Policies and registries are created and edited through the API."""

from __future__ import annotations

import datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from moorage.api.console.ops_paths import (
    AUDIT,
    GC,
    GC_RUN,
    GC_SCHEDULE,
    REPLICATION,
    REPLICATION_ENABLED,
    REPLICATION_EXECUTIONS,
    REPLICATION_POLICIES,
    REPLICATION_RUN,
    RETENTION,
    RETENTION_DELETE,
    RETENTION_ENABLED,
    RETENTION_POLICY,
    RETENTION_RUN,
    RETENTION_TASKS,
    WEBHOOK_DELETE,
    WEBHOOK_ENABLED,
    WEBHOOK_JOBS,
    WEBHOOKS,
)
from moorage.api.console.route import ConsoleRoute, may, visit_of
from moorage.api.console.templates import render
from moorage.api.deps import ServicesDep
from moorage.api.management_rules import (
    INSTANCE_ADMIN,
    INSTANCE_MEMBER,
    R,
    W,
    access_rules,
    on_instance_namespace,
)
from moorage.api.row_ids import RowId
from moorage.domain.enterprise import PageRequest
from moorage.domain.errors import Invalid
from moorage.domain.events import Operation, ResourceType
from moorage.services.enterprise.paging import MAX_OFFSET

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

ROWS = 20
"""Rows per page of every listing here."""
PageNumber = Annotated[int, Query(ge=1, le=MAX_OFFSET // ROWS + 1)]

CONSOLE_RULES = access_rules(
    {
        # as ListInstanceRetentionPolicies: filtered to the namespaces the user may see
        ("GET", RETENTION): INSTANCE_MEMBER,
        ("GET", RETENTION_POLICY): on_instance_namespace(R),  # ListInstanceRetentionPolicyExecutions
        ("GET", RETENTION_TASKS): on_instance_namespace(R),  # ListInstanceRetentionPolicyExecTasks
        ("GET", GC): INSTANCE_ADMIN,  # ShowGcSchedule, ListGcTasks
        ("GET", REPLICATION): INSTANCE_ADMIN,  # ListInstanceRegistries
        ("GET", REPLICATION_POLICIES): INSTANCE_ADMIN,  # ListInstanceReplicationPolicies
        ("GET", REPLICATION_EXECUTIONS): INSTANCE_ADMIN,  # ListInstanceReplicationPolicyExecutions
        # as ListInstanceWebhooks: filtered to the namespaces the user may write to
        ("GET", WEBHOOKS): INSTANCE_MEMBER,
        ("GET", WEBHOOK_JOBS): on_instance_namespace(W),  # ShowInstanceWebhook, ListInstanceWebhookJobs
        ("GET", AUDIT): INSTANCE_ADMIN,  # ListAuditLogs
    }
)


def _page(number: int) -> PageRequest:
    return PageRequest((number - 1) * ROWS, ROWS)


@router.get(RETENTION)
async def retention(instance_id: str, request: Request, services: ServicesDep, page: PageNumber = 1) -> Response:
    """The retention policies of the instance's namespaces the user may see."""
    visit = visit_of(request)
    found = await services.retention.policies.list_policies(
        visit.principal, instance_id=instance_id, namespace_id=None, name=None, page=_page(page)
    )
    context = {"instance_id": instance_id, "found": found, "page": page, "size": ROWS}
    return render(request, "ops_retention.html", visit, context, section="retention")


@router.get(RETENTION_POLICY)
async def retention_policy(
    instance_id: str,
    namespace_name: str,
    policy_id: RowId,
    request: Request,
    services: ServicesDep,
    page: PageNumber = 1,
) -> Response:
    """A retention policy and its executions, newest first (as its API twin: the policy, then its page)."""
    visit = visit_of(request)
    policy = await services.retention.policies.get(
        instance_id=instance_id, namespace=namespace_name, policy_id=policy_id
    )
    found = await services.retention.executions.counted_page(policy, page=_page(page))
    context = {
        "instance_id": instance_id,
        "policy": policy,
        "found": found,
        "page": page,
        "size": ROWS,
        "may_run": await may(request, "POST", RETENTION_RUN),
        "may_enable": await may(request, "POST", RETENTION_ENABLED),
        "may_delete": await may(request, "POST", RETENTION_DELETE),
    }
    return render(request, "ops_retention_policy.html", visit, context, section="retention")


@router.get(RETENTION_TASKS)
async def retention_tasks(
    instance_id: str,
    namespace_name: str,
    policy_id: RowId,
    execution_id: RowId,
    request: Request,
    services: ServicesDep,
    page: PageNumber = 1,
) -> Response:
    """An execution's tasks, one per repository: artifacts found and kept (as its API twin: the
    policy, then the page of tasks)."""
    visit = visit_of(request)
    policy = await services.retention.policies.get(
        instance_id=instance_id, namespace=namespace_name, policy_id=policy_id
    )
    found = await services.retention.executions.tasks(policy, execution_id, status=None, page=_page(page))
    context = {
        "instance_id": instance_id,
        "policy": policy,
        "execution_id": execution_id,
        "found": found,
        "page": page,
        "size": ROWS,
    }
    return render(request, "ops_retention_tasks.html", visit, context, section="retention")


@router.get(GC)
async def garbage_collection(
    instance_id: str,
    request: Request,
    services: ServicesDep,
    marker: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The instance's GC schedule and its runs, newest first (``marker``: the runs after that one, as
    ``ListGcTasks`` pages)."""
    visit = visit_of(request)
    schedule, following = await services.gc.schedule(instance_id=instance_id)
    runs = await services.gc.list_runs(instance_id=instance_id, status=None, marker=marker, limit=ROWS)
    context = {
        "instance_id": instance_id,
        "schedule": schedule,
        "following": following,
        "runs": runs,
        "first": not marker,
        "may_run": await may(request, "POST", GC_RUN),
        "may_schedule": await may(request, "POST", GC_SCHEDULE),
    }
    return render(request, "ops_gc.html", visit, context, section="gc")


@router.get(REPLICATION)
async def replication_registries(
    instance_id: str, request: Request, services: ServicesDep, page: PageNumber = 1
) -> Response:
    """The instance's replication registries (never their credentials: the record holds none in clear)."""
    visit = visit_of(request)
    found = await services.replication.registries.list_registries(
        instance_id=instance_id, name=None, kind=None, order_column=None, order_type=None, page=_page(page)
    )
    context = {"instance_id": instance_id, "found": found, "page": page, "size": ROWS}
    return render(request, "ops_registries.html", visit, context, section="replication")


@router.get(REPLICATION_POLICIES)
async def replication_policies(
    instance_id: str, request: Request, services: ServicesDep, page: PageNumber = 1
) -> Response:
    """The instance's replication policies."""
    visit = visit_of(request)
    found = await services.replication.policies.list_policies(
        instance_id=instance_id, name=None, registry_id=None, order_column=None, order_type=None, page=_page(page)
    )
    context = {
        "instance_id": instance_id,
        "found": found,
        "page": page,
        "size": ROWS,
        "may_run": await may(request, "POST", REPLICATION_RUN),
        "may_enable": await may(request, "POST", REPLICATION_ENABLED),
    }
    return render(request, "ops_replication_policies.html", visit, context, section="replication")


@router.get(REPLICATION_EXECUTIONS)
async def replication_executions(
    instance_id: str,
    request: Request,
    services: ServicesDep,
    policy_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    page: PageNumber = 1,
) -> Response:
    """Replication executions of the instance (of one policy), newest first."""
    visit = visit_of(request)
    found = await services.replication.executions.list_executions(
        instance_id=instance_id, policy_id=policy_id, page=_page(page)
    )
    context = {"instance_id": instance_id, "policy_id": policy_id, "found": found, "page": page, "size": ROWS}
    return render(request, "ops_replication_executions.html", visit, context, section="replication")


@router.get(WEBHOOKS)
async def webhooks(instance_id: str, request: Request, services: ServicesDep, page: PageNumber = 1) -> Response:
    """The webhook policies of the namespaces the user may write to (auth headers come masked)."""
    visit = visit_of(request)
    found = await services.events.webhooks.list_policies(
        visit.principal,
        instance_id=instance_id,
        namespace_id=None,
        name=None,
        order_column=None,
        order_type=None,
        page=_page(page),
    )
    context = {"instance_id": instance_id, "found": found, "page": page, "size": ROWS}
    return render(request, "ops_webhooks.html", visit, context, section="webhooks")


@router.get(WEBHOOK_JOBS)
async def webhook_jobs(
    instance_id: str,
    namespace_name: str,
    policy_id: RowId,
    request: Request,
    services: ServicesDep,
    page: PageNumber = 1,
) -> Response:
    """A webhook policy (auth headers masked, not shown) and its deliveries, newest first."""
    visit = visit_of(request)
    policy = await services.events.webhooks.get(instance_id=instance_id, namespace=namespace_name, policy_id=policy_id)
    found = await services.events.webhooks.deliveries(
        instance_id=instance_id, namespace=namespace_name, policy_id=policy_id, status=None, page=_page(page)
    )
    context = {
        "instance_id": instance_id,
        "namespace": namespace_name,
        "policy_id": policy_id,
        "policy": policy,
        "found": found,
        "page": page,
        "size": ROWS,
        "may_enable": await may(request, "POST", WEBHOOK_ENABLED),
        "may_delete": await may(request, "POST", WEBHOOK_DELETE),
    }
    return render(request, "ops_webhook_jobs.html", visit, context, section="webhooks")


def _day(value: str, name: str, *, end: bool) -> int | None:
    """A ``YYYY-MM-DD`` field (the form's date input) as epoch milliseconds: the start of that UTC day,
    or of the next one for the end of a range (exclusive)."""
    if not value:
        return None
    try:
        day = datetime.date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{name} must be a date as YYYY-MM-DD, got {value[:32]!r}") from None
    start = datetime.datetime.combine(day, datetime.time(), datetime.UTC)
    if end:
        start += datetime.timedelta(days=1)
    return int(start.timestamp() * 1000)


@router.get(AUDIT)
async def audit(
    instance_id: str,
    request: Request,
    services: ServicesDep,
    operation: Annotated[str, Query(max_length=32)] = "",
    resource_type: Annotated[str, Query(max_length=32)] = "",
    user: Annotated[str, Query(max_length=255)] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
    page: PageNumber = 1,
) -> Response:
    """The instance's audit log, newest first: ``ListAuditLogs``' operation filter, and the resource
    type, the user's name and a range of UTC days (``since`` to ``until``, both included)."""
    visit = visit_of(request)
    found = await services.events.audit.page(
        instance_id=instance_id,
        operation=operation or None,
        page=_page(page),
        resource_type=resource_type or None,
        actor_name=user or None,
        since=_day(since, "since", end=False),
        until=_day(until, "until", end=True),
    )
    filters = {"operation": operation, "resource_type": resource_type, "user": user, "since": since, "until": until}
    context = {
        "instance_id": instance_id,
        "filters": filters,
        "query": urlencode({k: v for k, v in filters.items() if v}),
        "operations": tuple(Operation),
        "resource_types": tuple(ResourceType),
        "found": found,
        "page": page,
        "size": ROWS,
    }
    return render(request, "ops_audit.html", visit, context, section="audit")
