"""Signing in and out of the console, and ``/`` sending a browser to it."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from moorage.api.client_address import client_address
from moorage.api.console.route import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    ConsoleRoute,
    error_page,
    form_of,
    secure_cookies,
    visit_of,
)
from moorage.api.console.templates import render
from moorage.api.deps import ServicesDep
from moorage.api.management_rules import AUTHENTICATED, PUBLIC, access_rules
from moorage.domain.errors import TooManyRequests, Unauthenticated

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

CONSOLE_RULES = access_rules(
    {
        ("GET", "/console/login"): PUBLIC,
        ("POST", "/console/login"): PUBLIC,
        ("POST", "/console/logout"): AUTHENTICATED,
    }
)
MAX_NAME = 64
MAX_PASSWORD = 1024


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path on this site, never elsewhere."""
    if not target or not target.startswith("/console/") or not all("!" <= c <= "~" for c in target):
        return "/console/"  # also no whitespace or control characters, which URL parsers drop
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target:
        return "/console/"
    return target


@router.get("/console/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    """The sign-in form (a signed-in browser goes straight on)."""
    visit = visit_of(request)
    if visit.signed_in:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", visit, {"next": safe_next(next), "failure": "", "user_name": ""})


@router.post("/console/login")
async def sign_in(request: Request, services: ServicesDep) -> Response:
    """Check the password (throttled as API logins are) and open a session."""
    form = form_of(request)
    user_name = form.get("user_name", "")[:MAX_NAME]
    target = safe_next(form.get("next"))
    try:
        session = await services.console_sessions.sign_in(
            user_name=user_name, password=form.get("password", "")[:MAX_PASSWORD], client=client_address(request)
        )
    except TooManyRequests as exc:
        return error_page(request, exc)
    except Unauthenticated:
        page = render(
            request,
            "login.html",
            visit_of(request),
            {"next": target, "failure": "The user name or password is wrong.", "user_name": user_name},
            status=401,
        )
        return page
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        max_age=services.settings.console.session_seconds,
        path="/console",
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
    )
    response.delete_cookie(LOGIN_COOKIE, path="/console")
    return response


@router.post("/console/logout")
async def sign_out(request: Request, services: ServicesDep) -> Response:
    """Revoke the session and forget the cookie."""
    visit = visit_of(request)
    if visit.session is not None:
        await services.console_sessions.sign_out(visit.session.token)
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/console")
    return response
