"""The route class of every console page: the session, the access rule, CSRF, security headers and
the error pages, once, before and around the page's handler.

``ConsoleRoute`` looks up the route's rule in ``app.state.console_rules`` (each console module's
``CONSOLE_RULES``, built with the management API's ``access_rules``, so a page is ruled exactly
as its API twin: ``on_repository(R)`` for a tag, ``ADMIN`` for ignoring a finding), resumes the
session from the cookie, and runs ``deps.admit_principal``, the same project, instance and rule
checks an API request passes. A state-changing request must come from this site (``Origin``) and
carry the session's CSRF token in its form; the sign-in form carries a token bound to a
SameSite=Strict cookie instead (there is no session yet). The form is read here (URL-encoded,
bounded by the edge's body cap) and handed to the handler in ``request.state.console_form``.

Every answer gets a strict Content-Security-Policy (scripts and styles only from ``/console/static``,
no inline code), ``X-Frame-Options: DENY``, no caching, and a referrer only within the site
(``no-referrer`` would make browsers send ``Origin: null`` on the site's own forms). A domain error
becomes an error page with the status ``api/errors.console_status`` gives; a signed-out GET goes
to the sign-in page.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from moorage.api.console.templates import render
from moorage.api.deps import admit_principal, get_services
from moorage.api.error_handlers import _validation_message
from moorage.api.errors import console_status
from moorage.api.management_route import _replaying
from moorage.api.management_rules import AccessRules, RuleKind
from moorage.domain.errors import Denied, Invalid, MoorageError, Unauthenticated
from moorage.domain.events import act_as
from moorage.domain.identity import ANONYMOUS, Principal
from moorage.services.console_sessions import ConsoleSession

Handler = Callable[[Request], Coroutine[Any, Any, Response]]

SESSION_COOKIE = "moorage_console"
LOGIN_COOKIE = "moorage_console_login"
"""The sign-in form's anti-forgery cookie (double submit: the form carries the same value)."""
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD"})
MAX_FORM_FIELDS = 200

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True, slots=True)
class Visit:
    """Who is looking at a console page, as its handler and template see them."""

    principal: Principal
    session: ConsoleSession | None
    csrf_token: str
    """The session's CSRF token (on the sign-in page: the sign-in form's)."""

    @property
    def signed_in(self) -> bool:
        """Whether a session is open."""
        return self.session is not None


def visit_of(request: Request) -> Visit:
    """The visit ``ConsoleRoute`` established."""
    found: Visit = request.state.console_visit
    return found


def form_of(request: Request) -> dict[str, str]:
    """The request's form fields (first value of each), read by ``ConsoleRoute``."""
    found: dict[str, str] = getattr(request.state, "console_form", {})
    return found


async def may(request: Request, method: str, path: str) -> bool:
    """Whether the visitor passes the access rule of another console route (``path`` as declared,
    with this request's path parameters): what a page asks before it shows a write action. The
    server checks the same rule when the form comes, so there is one rule and no copy of it."""
    visit = visit_of(request)
    rules: AccessRules = request.app.state.console_rules
    rule = rules.get((method, path))
    if rule is None or visit.session is None:
        return False
    try:
        await admit_principal(request, visit.principal, rule)
    except MoorageError:
        return False
    return True


def secure_cookies(request: Request) -> bool:
    """Whether cookies get ``Secure``: the request came over TLS (directly or, from a trusted proxy,
    as the external URL says)."""
    return request.url.scheme == "https" or get_services(request).settings.resolved_external_url.startswith("https:")


def _same_origin(request: Request) -> bool:
    """A state-changing request must name this site as its origin (``Origin``, else ``Referer``);
    browsers send one of them on every form post."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return False
    return urlsplit(source).netloc.lower() == request.headers.get("host", "").lower()


async def _read_form(request: Request) -> tuple[bytes, dict[str, str]]:
    body = await request.body()
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if body and content_type != "application/x-www-form-urlencoded":
        raise Denied("console forms are sent URL-encoded")
    fields: dict[str, str] = {}
    for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)[:MAX_FORM_FIELDS]:
        fields.setdefault(key, value)
    return body, fields


def _form_page(request: Request) -> str:
    """The console page a refused form was posted from (its ``Referer`` on this site), to link back
    to; empty for a GET or a post from elsewhere."""
    if request.method in SAFE_METHODS or not _same_origin(request):
        return ""
    source = urlsplit(request.headers.get("referer", ""))
    if source.netloc.lower() != request.headers.get("host", "").lower() or not source.path.startswith("/console/"):
        return ""
    return source.path + (f"?{source.query}" if source.query else "")


def error_page(request: Request, error: MoorageError) -> Response:
    """The console's page for a domain error (forbidden, not found, throttled...); for a refused
    form, with a link back to the page it came from."""
    status, title = console_status(error)
    visit = getattr(request.state, "console_visit", None) or Visit(ANONYMOUS, None, "")
    context = {"status": status, "title": title, "message": error.message, "back": _form_page(request)}
    return render(request, "error.html", visit, context, status=status)


def console_error(request: Request, error: MoorageError) -> Response:
    """The error page of a console path no route took (404, 405), with the console's headers."""
    response = error_page(request, error)
    response.headers.update(SECURITY_HEADERS)
    return response


def _to_sign_in(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/console/login?next={quote(target, safe='')}", status_code=303)


class ConsoleRoute(APIRoute):
    """See the module docstring."""

    def get_route_handler(self) -> Handler:
        """FastAPI's handler behind the session, rule and CSRF checks, with the headers added."""
        handler = super().get_route_handler()
        path = self.path

        async def guarded(request: Request) -> Response:
            try:
                response = await _admit(request, handler, path)
            except Unauthenticated as exc:
                response = _to_sign_in(request) if request.method in SAFE_METHODS else error_page(request, exc)
                response.delete_cookie(SESSION_COOKIE, path="/console")
            except MoorageError as exc:
                response = error_page(request, exc)
            except RequestValidationError as exc:
                response = error_page(request, Invalid(_validation_message(exc)))
            response.headers.update(SECURITY_HEADERS)
            return response

        return guarded


async def _admit(request: Request, handler: Handler, path: str) -> Response:
    services = get_services(request)
    rules: AccessRules = request.app.state.console_rules
    rule = rules.get((request.method, path))
    if rule is None:
        raise Denied("this console page has no access rule")
    cookie = request.cookies.get(SESSION_COOKIE, "")
    session: ConsoleSession | None = None
    if rule.kind is RuleKind.PUBLIC:
        if cookie:
            try:
                session = await services.console_sessions.resume(cookie)
            except Unauthenticated:
                session = None
    else:
        session = await services.console_sessions.resume(cookie)
    principal = ANONYMOUS
    if session is not None:
        principal = session.principal
    receive = request.receive
    form: dict[str, str] = {}
    login_token = request.cookies.get(LOGIN_COOKIE, "")
    if request.method not in SAFE_METHODS:
        if not _same_origin(request):
            raise Denied("the form was not sent from this console")
        body, form = await _read_form(request)
        receive = _replaying(body, request.receive)
        presented = form.get(CSRF_FIELD, "")
        if session is not None and rule.kind is not RuleKind.PUBLIC:
            if not services.console_sessions.csrf_matches(session, presented):
                raise Denied("the form's CSRF token is missing or wrong: reload the page and try again")
        elif not (login_token and hmac.compare_digest(login_token.encode(), presented.encode())):
            raise Denied("the form's CSRF token is missing or wrong: reload the page and try again")
    if rule.kind is not RuleKind.PUBLIC:
        # after the CSRF check: a forged request is refused as forged, whoever it would act for
        principal = await admit_principal(request, principal, rule)
        act_as(principal)  # events this request records name the signed-in user
    csrf = session.csrf_token if session is not None and rule.kind is not RuleKind.PUBLIC else login_token
    new_login_token = ""
    if not csrf:
        csrf = new_login_token = secrets.token_urlsafe(24)
    inner = Request(request.scope, receive)
    inner.state.console_visit = Visit(principal, session, csrf)
    inner.state.console_form = form
    response = await handler(inner)
    if new_login_token:
        response.set_cookie(
            LOGIN_COOKIE,
            new_login_token,
            path="/console",
            httponly=True,
            samesite="strict",
            secure=secure_cookies(request),
        )
    return response
