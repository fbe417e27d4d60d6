"""The registry pages: the overview, organizations, an organization's repositories, a repository's
tags (searched, sorted and paged at the database), and one tag."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from moorage.api.console.route import ConsoleRoute, form_of, may, visit_of
from moorage.api.console.templates import path_segment, render
from moorage.api.deps import ServicesDep
from moorage.api.management_rules import ACCOUNT, M, R, access_rules, on_namespace, on_repository
from moorage.api.swr.wire import instance_id, parse_deadline
from moorage.domain.errors import Invalid
from moorage.domain.identity import PERMISSION_LEVELS
from moorage.domain.management import RepositoryQuery
from moorage.domain.names import RepositoryName, validate_namespace

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

REPOSITORY = "/console/orgs/{namespace}/repos/{repository}"
CONSOLE_RULES = access_rules(
    {
        ("GET", "/console/"): ACCOUNT,
        ("GET", "/console/orgs"): ACCOUNT,
        ("GET", "/console/orgs/{namespace}"): ACCOUNT,
        ("GET", "/console/orgs/{namespace}/access"): on_namespace(R),
        ("POST", "/console/orgs/{namespace}/access"): on_namespace(M),
        ("GET", REPOSITORY): on_repository(R),
        ("GET", REPOSITORY + "/tags/{tag}"): on_repository(R),
        ("GET", REPOSITORY + "/sharing"): on_repository(R),
        ("POST", REPOSITORY + "/sharing"): on_repository(M),
    }
)
TAG_ORDERS = {"updated": "updated_at", "created": "created_at", "name": "tag"}
REPOSITORY_ORDERS = {"name": "name", "updated": "updated_at", "tags": "tag_count"}
MAX_OFFSET = 10_000_000
Page = Annotated[int, Query(ge=1, le=MAX_OFFSET)]
Search = Annotated[str, Query(max_length=128)]


def _order(value: str, allowed: dict[str, str]) -> str:
    if value not in allowed:
        raise Invalid(f"sort must be one of {', '.join(allowed)}")
    return allowed[value]


@router.get("/console/")
async def overview(request: Request, services: ServicesDep) -> Response:
    """Counts, storage against the quota, and the image-security summary."""
    visit = visit_of(request)
    summary = await services.console_overview.summary(visit.principal, instance_id=instance_id(request))
    return render(request, "overview.html", visit, {"summary": summary}, section="overview")


@router.get("/console/orgs")
async def organizations(request: Request, services: ServicesDep) -> Response:
    """The organizations the user may see, with their level on each."""
    visit = visit_of(request)
    views = await services.namespaces.visible(visit.principal, instance_id=instance_id(request))
    return render(request, "orgs.html", visit, {"views": views}, section="orgs")


@router.get("/console/orgs/{namespace}")
async def organization(
    namespace: str,
    request: Request,
    services: ServicesDep,
    q: Search = "",
    sort: str = "name",
    page: Page = 1,
) -> Response:
    """One page of an organization's repositories the user may see."""
    visit = visit_of(request)
    name = validate_namespace(namespace)
    size = services.settings.console.page_size
    found = await services.repository_management.list_page(
        visit.principal,
        instance_id=instance_id(request),
        query=RepositoryQuery(name=q or None, namespace_is=name),
        order=_order(sort, REPOSITORY_ORDERS),
        descending=sort != "name",
        offset=(page - 1) * size,
        limit=size,
        with_tag_names=False,
    )
    context = {"namespace": name, "found": found, "q": q, "sort": sort, "page": page, "size": size}
    return render(request, "org.html", visit, context, section="orgs")


@router.get(REPOSITORY)
async def repository_tags(
    namespace: str,
    repository: str,
    request: Request,
    services: ServicesDep,
    q: Search = "",
    sort: str = "updated",
    page: Page = 1,
) -> Response:
    """One page of a repository's tags: searched, sorted and paged by the database."""
    visit = visit_of(request)
    name = RepositoryName.from_api_path(namespace, repository)
    size = services.settings.console.page_size
    found = await services.tag_management.list_page(
        instance_id=instance_id(request),
        name=name,
        order=_order(sort, TAG_ORDERS),
        descending=sort != "name",
        offset=(page - 1) * size,
        limit=size,
        name_contains=q or None,
    )
    context = {
        "name": name,
        "found": found,
        "q": q,
        "sort": sort,
        "page": page,
        "size": size,
        "registry": services.settings.registry_host,
    }
    return render(request, "tags.html", visit, context, section="orgs")


@router.get(REPOSITORY + "/tags/{tag}")
async def tag_page(namespace: str, repository: str, tag: str, request: Request, services: ServicesDep) -> Response:
    """One tag: digest, size, platforms, layers and commands, pull commands, labels, referrers, readers."""
    visit = visit_of(request)
    name = RepositoryName.from_api_path(namespace, repository)
    view = await services.image_views.describe(instance_id=instance_id(request), name=name, tag=tag)
    context = {"name": name, "view": view, "registry": services.settings.registry_host}
    return render(request, "tag.html", visit, context, section="orgs")


@router.get("/console/orgs/{namespace}/access")
async def organization_access(namespace: str, request: Request, services: ServicesDep) -> Response:
    """Who holds which permission on the organization (as ``ShowNamespaceAuth``); managers may grant."""
    visit = visit_of(request)
    name = validate_namespace(namespace)
    _, grants = await services.namespaces.namespace_grants(instance_id=instance_id(request), name=name)
    may_manage = await may(request, "POST", "/console/orgs/{namespace}/access")
    context = {"namespace": name, "grants": grants, "may_manage": may_manage}
    return render(request, "org_access.html", visit, context, section="orgs")


@router.post("/console/orgs/{namespace}/access")
async def grant_access(namespace: str, request: Request, services: ServicesDep) -> Response:
    """Grant a user of the account a permission on the organization (as ``CreateNamespaceAuth``)."""
    form = form_of(request)
    name = validate_namespace(namespace)
    level = form.get("level", "")
    if not level.isdigit() or int(level) not in PERMISSION_LEVELS:
        raise Invalid("level must be read (1), write (3) or manage (7)")
    await services.namespaces.grant_to_user_named(
        visit_of(request).principal,
        instance_id=instance_id(request),
        name=name,
        user_name=form.get("user_name", "")[:64],
        level=int(level),
    )
    return RedirectResponse(f"/console/orgs/{name}/access", status_code=303)


@router.get(REPOSITORY + "/sharing")
async def repository_sharing(namespace: str, repository: str, request: Request, services: ServicesDep) -> Response:
    """The accounts the repository is shared with (as ``ListRepositoryDomains``); managers may share."""
    visit = visit_of(request)
    name = RepositoryName.from_api_path(namespace, repository)
    shares = await services.sharing.of_repository(instance_id=instance_id(request), name=name)
    context = {"name": name, "shares": shares, "may_manage": await may(request, "POST", REPOSITORY + "/sharing")}
    return render(request, "sharing.html", visit, context, section="orgs")


@router.post(REPOSITORY + "/sharing")
async def share_repository(namespace: str, repository: str, request: Request, services: ServicesDep) -> Response:
    """Share the repository with another account (as ``CreateRepoDomains``): its users may pull it."""
    visit = visit_of(request)
    form = form_of(request)
    name = RepositoryName.from_api_path(namespace, repository)
    await services.sharing.create(
        visit.principal,
        instance_id=instance_id(request),
        name=name,
        access_domain=form.get("account", "")[:64],
        permit="read",
        deadline=parse_deadline(form.get("deadline", "") or "forever"),
        description=form.get("description", "")[:1024],
    )
    return RedirectResponse(
        f"/console/orgs/{name.namespace}/repos/{path_segment(name.repository)}/sharing", status_code=303
    )
