"""Administration: the account's users (administrators), the signed-in user's access keys (a new
key's secret is shown once, with its long-term login command)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from moorage.api.console.route import ConsoleRoute, form_of, visit_of
from moorage.api.console.templates import render
from moorage.api.deps import ServicesDep
from moorage.api.management_rules import AUTHENTICATED, access_rules
from moorage.domain.errors import Denied

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

CONSOLE_RULES = access_rules(
    {
        ("GET", "/console/admin/users"): AUTHENTICATED,
        ("POST", "/console/admin/keys"): AUTHENTICATED,
    }
)
MAX_DESCRIPTION = 255


@router.get("/console/admin/users")
async def users(request: Request, services: ServicesDep) -> Response:
    """Users of the account (for an administrator) and the user's own access keys."""
    visit = visit_of(request)
    found = await services.users.users(caller=visit.principal) if visit.principal.is_admin else []
    keys = await services.access_keys.access_keys(caller=visit.principal)
    context = {
        "users": found,
        "keys": keys,
        "created": None,
        "login": None,
        "registry": services.settings.registry_host,
    }
    return render(request, "users.html", visit, context, section="users")


@router.post("/console/admin/keys")
async def create_key(request: Request, services: ServicesDep) -> Response:
    """A new access key of the signed-in user, its secret shown on this page only."""
    visit = visit_of(request)
    if visit.principal.user_id is None:
        raise Denied("a user is required")
    created, login = await services.access_keys.create_with_login(
        visit.principal.user_id,
        caller=visit.principal,
        description=form_of(request).get("description", "")[:MAX_DESCRIPTION],
        region=services.settings.auth.region,
    )
    keys = await services.access_keys.access_keys(caller=visit.principal)
    found = await services.users.users(caller=visit.principal) if visit.principal.is_admin else []
    context = {
        "users": found,
        "keys": keys,
        "created": created,
        "login": login,
        "registry": services.settings.registry_host,
    }
    return render(request, "users.html", visit, context, section="users", status=201)
