"""The write forms of an instance's operations pages: run a retention policy now, enable, disable or
delete it; run garbage collection now and set its schedule; run a replication policy now, enable or
disable it; enable, disable or delete a webhook policy.

Each form calls the one service function the handler of its SWR Enterprise API twin calls
(``ExecuteInstanceRetentionPolicy``, ``UpdateInstanceRetentionPolicy``, ``DeleteInstanceRetentionPolicy``,
``ExecuteGcSchedule``, ``UpdateGcSchedule``, ``ExecuteInstanceReplicationPolicy``,
``UpdateInstanceReplicationPolicy``, ``UpdateInstanceWebhook``, ``DeleteInstanceWebhook``) under that
route's access rule, and answers 303 back to the page. ``ConsoleRoute`` checks the session's CSRF token
and the origin first; a domain error (an invalid cron, a run already going) is the error page, in
words, with a link back to the form's page. A delete needs its confirm box ticked."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from moorage.api.console.ops_paths import (
    GC_RUN,
    GC_SCHEDULE,
    REPLICATION_ENABLED,
    REPLICATION_RUN,
    RETENTION_DELETE,
    RETENTION_ENABLED,
    RETENTION_RUN,
    WEBHOOK_DELETE,
    WEBHOOK_ENABLED,
)
from moorage.api.console.route import ConsoleRoute, form_of
from moorage.api.deps import ServicesDep
from moorage.api.management_rules import INSTANCE_ADMIN, M, access_rules, on_instance_namespace
from moorage.api.row_ids import RowId
from moorage.domain.errors import Invalid
from moorage.domain.gc import MAX_WORKERS, MIN_WORKERS, GcParameters
from moorage.domain.replication import PolicyChanges as ReplicationChanges
from moorage.services.retention.policies import PolicyChanges as RetentionChanges

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

CONSOLE_RULES = access_rules(
    {
        ("POST", RETENTION_RUN): on_instance_namespace(M),  # ExecuteInstanceRetentionPolicy
        ("POST", RETENTION_ENABLED): on_instance_namespace(M),  # UpdateInstanceRetentionPolicy
        ("POST", RETENTION_DELETE): on_instance_namespace(M),  # DeleteInstanceRetentionPolicy
        ("POST", GC_RUN): INSTANCE_ADMIN,  # ExecuteGcSchedule
        ("POST", GC_SCHEDULE): INSTANCE_ADMIN,  # UpdateGcSchedule
        ("POST", REPLICATION_RUN): INSTANCE_ADMIN,  # ExecuteInstanceReplicationPolicy
        ("POST", REPLICATION_ENABLED): INSTANCE_ADMIN,  # UpdateInstanceReplicationPolicy
        ("POST", WEBHOOK_ENABLED): on_instance_namespace(M),  # UpdateInstanceWebhook
        ("POST", WEBHOOK_DELETE): on_instance_namespace(M),  # DeleteInstanceWebhook
    }
)


def _back(path: str) -> Response:
    return RedirectResponse(path, status_code=303)


def _yes(request: Request, name: str) -> bool:
    """A checkbox (present and ``yes``) or a yes/no field."""
    value = form_of(request).get(name, "")
    if value not in ("", "yes", "no"):
        raise Invalid(f"{name} must be yes or no")
    return value == "yes"


def _confirmed(request: Request, what: str) -> None:
    if not _yes(request, "confirm"):
        raise Invalid(f"tick the box confirming that {what} is to be deleted, then press Delete again")


def _enabled(request: Request) -> bool:
    value = form_of(request).get("enabled", "")
    if value not in ("yes", "no"):
        raise Invalid("enabled must be yes or no")
    return value == "yes"


@router.post(RETENTION_RUN)
async def run_retention(
    instance_id: str, namespace_name: str, policy_id: RowId, request: Request, services: ServicesDep
) -> Response:
    """Run a retention policy now, as a dry run when the box is ticked (as the API: the policy, then
    a manual execution of it)."""
    policy = await services.retention.policies.get(
        instance_id=instance_id, namespace=namespace_name, policy_id=policy_id
    )
    await services.retention.executions.start(policy, trigger="manual", dry_run=_yes(request, "dry_run"))
    return _back(f"/console/enterprise/{instance_id}/namespaces/{namespace_name}/retention/{policy_id}")


@router.post(RETENTION_ENABLED)
async def enable_retention(
    instance_id: str, namespace_name: str, policy_id: RowId, request: Request, services: ServicesDep
) -> Response:
    """Enable or disable a retention policy (a disabled one does not run on its schedule)."""
    await services.retention.policies.update(
        instance_id=instance_id,
        namespace=namespace_name,
        policy_id=policy_id,
        changes=RetentionChanges(enabled=_enabled(request)),
    )
    return _back(f"/console/enterprise/{instance_id}/namespaces/{namespace_name}/retention/{policy_id}")


@router.post(RETENTION_DELETE)
async def delete_retention(
    instance_id: str, namespace_name: str, policy_id: RowId, request: Request, services: ServicesDep
) -> Response:
    """Delete a retention policy and its executions, once confirmed."""
    _confirmed(request, "the policy")
    await services.retention.policies.delete(instance_id=instance_id, namespace=namespace_name, policy_id=policy_id)
    return _back(f"/console/enterprise/{instance_id}/retention")


def _gc_parameters(request: Request, services: ServicesDep) -> GcParameters:
    """``GcParameters`` from the form (``Invalid`` for workers outside 1-5; absent: the default)."""
    workers = form_of(request).get("workers", "").strip()
    if workers and not (workers.isdigit() and len(workers) <= 2):
        raise Invalid(f"workers must be a number from {MIN_WORKERS} to {MAX_WORKERS}")
    return GcParameters(
        delete_untagged=_yes(request, "delete_untagged"),
        dry_run=_yes(request, "dry_run"),
        workers=int(workers) if workers else services.settings.gc.workers,
    )


@router.post(GC_RUN)
async def run_gc(instance_id: str, request: Request, services: ServicesDep) -> Response:
    """Collect the instance's garbage now (one run at a time)."""
    await services.gc.execute_instance(instance_id=instance_id, parameters=_gc_parameters(request, services))
    return _back(f"/console/enterprise/{instance_id}/gc")


@router.post(GC_SCHEDULE)
async def schedule_gc(instance_id: str, request: Request, services: ServicesDep) -> Response:
    """Set the schedule: a six-field cron expression (UTC), or none when the field is empty."""
    cron = form_of(request).get("cron", "").strip()[:128]
    await services.gc.set_schedule(
        instance_id=instance_id,
        type_="Custom" if cron else "None",
        cron=cron or None,
        parameters=_gc_parameters(request, services),
    )
    return _back(f"/console/enterprise/{instance_id}/gc")


@router.post(REPLICATION_RUN)
async def run_replication(instance_id: str, policy_id: RowId, services: ServicesDep) -> Response:
    """Run a replication policy now; its executions page shows the new one."""
    await services.replication.start_manual(instance_id=instance_id, policy_id=policy_id)
    return _back(f"/console/enterprise/{instance_id}/replication/executions?policy_id={policy_id}")


@router.post(REPLICATION_ENABLED)
async def enable_replication(instance_id: str, policy_id: RowId, request: Request, services: ServicesDep) -> Response:
    """Enable or disable a replication policy (nothing about its registries changes)."""
    await services.replication.policies.update(
        instance_id=instance_id, policy_id=policy_id, changes=ReplicationChanges(enabled=_enabled(request))
    )
    return _back(f"/console/enterprise/{instance_id}/replication/policies")


@router.post(WEBHOOK_ENABLED)
async def enable_webhook(
    instance_id: str, namespace_name: str, policy_id: RowId, request: Request, services: ServicesDep
) -> Response:
    """Enable or disable a webhook policy, its targets and auth headers kept."""
    await services.events.webhooks.set_enabled(
        instance_id=instance_id, namespace=namespace_name, policy_id=policy_id, enabled=_enabled(request)
    )
    return _back(f"/console/enterprise/{instance_id}/namespaces/{namespace_name}/webhooks/{policy_id}/jobs")


@router.post(WEBHOOK_DELETE)
async def delete_webhook(
    instance_id: str, namespace_name: str, policy_id: RowId, request: Request, services: ServicesDep
) -> Response:
    """Delete a webhook policy with its delivery records, once confirmed."""
    _confirmed(request, "the webhook policy")
    await services.events.webhooks.delete(instance_id=instance_id, namespace=namespace_name, policy_id=policy_id)
    return _back(f"/console/enterprise/{instance_id}/webhooks")
