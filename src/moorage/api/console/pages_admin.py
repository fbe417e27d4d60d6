"""Administration: the account's users (administrators), the signed-in user's access keys (a new
key's secret is shown once, with its long-term login command)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from moorage.api.console.route import ConsoleRoute, form_of, visit_of
from moorage.api.console.templates import render
from moorage.api.deps import ServicesDep
from moorage.api.management_rules import AUTHENTICATED, access_rules
from moorage.services.access_keys import CredentialsPage

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
    page = await services.access_keys.credentials_page(visit.principal)
    return render(request, "users.html", visit, _context(page, services.settings.registry_host), section="users")


@router.post("/console/admin/keys")
async def create_key(request: Request, services: ServicesDep) -> Response:
    """A new access key of the signed-in user, its secret shown on this page only."""
    visit = visit_of(request)
    page = await services.access_keys.create_for_page(
        visit.principal,
        description=form_of(request).get("description", "")[:MAX_DESCRIPTION],
        region=services.settings.auth.region,
    )
    context = _context(page, services.settings.registry_host)
    return render(request, "users.html", visit, context, section="users", status=201)


def _context(page: CredentialsPage, registry: str) -> dict[str, object]:
    return {"users": page.users, "keys": page.keys, "created": page.created, "login": page.login, "registry": registry}
