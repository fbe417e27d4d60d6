"""The Enterprise Edition pages: the account's instances, an instance's namespaces, and a namespace's
signature policies with their executions' live progress (the page reloads its table while one runs)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from moorage.api.console.route import ConsoleRoute, may, visit_of
from moorage.api.console.templates import render
from moorage.api.deps import ServicesDep
from moorage.api.management_rules import (
    AUTHENTICATED,
    INSTANCE_MEMBER,
    M,
    R,
    access_rules,
    on_instance_namespace,
)
from moorage.api.row_ids import RowId
from moorage.domain.enterprise import PageRequest
from moorage.domain.errors import Invalid

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

INSTANCE = "/console/enterprise/{instance_id}"
SIGNING = INSTANCE + "/namespaces/{namespace_name}/signing"
RUN = SIGNING + "/{policy_id}/executions"
CONSOLE_RULES = access_rules(
    {
        ("GET", "/console/enterprise"): AUTHENTICATED,
        ("GET", INSTANCE): INSTANCE_MEMBER,
        ("GET", SIGNING): on_instance_namespace(R),
        ("POST", RUN): on_instance_namespace(M),
    }
)
SHOWN = 100


SECTIONS = {
    "retention": ("Retention", "/retention"),
    "gc": ("Garbage collection", "/gc"),
    "replication": ("Replication", "/replication"),
    "webhooks": ("Webhooks", "/webhooks"),
    "audit": ("Audit logs", "/audit"),
}
"""The per-instance operations pages (``pages_operations``): the navigation's entry of each lists
the instances with a link to that page of each."""


@router.get("/console/enterprise")
async def instances(request: Request, services: ServicesDep, section: str = "") -> Response:
    """The account's registry instances (``section``: with a link to that page of each)."""
    if section and section not in SECTIONS:
        raise Invalid(f"section must be one of {', '.join(SECTIONS)}")
    visit = visit_of(request)
    page = await services.enterprise.instances.list_instances(visit.principal, status=None, page=PageRequest(0, SHOWN))
    context = {"page": page, "shown": section, "sections": SECTIONS}
    return render(request, "instances.html", visit, context, section=section or "instances")


@router.get(INSTANCE)
async def instance(instance_id: str, request: Request, services: ServicesDep) -> Response:
    """An instance's namespaces the user may see."""
    visit = visit_of(request)
    page = await services.enterprise.namespaces.list_namespaces(
        visit.principal,
        instance_id=instance_id,
        name=None,
        public=None,
        order_column="name",
        order_type="asc",
        page=PageRequest(0, SHOWN),
    )
    context = {"instance_id": instance_id, "page": page, "sections": SECTIONS}
    return render(request, "instance.html", visit, context, section="instances")


@router.get(SIGNING)
async def signing(
    instance_id: str, namespace_name: str, request: Request, services: ServicesDep, fragment: bool = False
) -> Response:
    """A namespace's signature policies and their latest executions (``fragment``: the table alone,
    what the page's script fetches to show progress)."""
    visit = visit_of(request)
    view = await services.enterprise.signing.view(visit.principal, instance_id=instance_id, namespace=namespace_name)
    context = {
        "instance_id": instance_id,
        "namespace": namespace_name,
        "view": view,
        "may_run": await may(request, "POST", RUN),
    }
    template = "signing_table.html" if fragment else "signing.html"
    return render(request, template, visit, context, section="instances")


@router.post(RUN)
async def run_policy(
    instance_id: str, namespace_name: str, policy_id: RowId, request: Request, services: ServicesDep
) -> Response:
    """Run a policy now (namespace managers, as ``CreateInstanceSignatureExecution``)."""
    await services.enterprise.signing.run_now(instance_id=instance_id, namespace=namespace_name, policy_id=policy_id)
    return RedirectResponse(f"/console/enterprise/{instance_id}/namespaces/{namespace_name}/signing", status_code=303)
