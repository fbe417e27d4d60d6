"""The web console's sessions and request guards, in process: sign in and out, the session cookie's
flags, CSRF on every form, the Content-Security-Policy, the API's login throttle, permissions the
API's rules give (a read-only user is refused a write), and the console's routes in ``/metrics``."""

from __future__ import annotations

import re

import httpx
import pytest

from moorage.api.console.route import CONTENT_SECURITY_POLICY
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.support.inprocess import InProcessMoorage

ORIGIN = {"Origin": "http://127.0.0.1:5000"}


def _browser(server: InProcessMoorage) -> httpx.Client:
    return server.client(headers={"Accept": "text/html"})


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, html[:2000]
    return found[1]


def sign_in(client: httpx.Client, user: str = ADMIN_USER, password: str = ADMIN_PASSWORD) -> httpx.Response:
    page = client.get("/console/login")
    assert page.status_code == 200
    return client.post(
        "/console/login",
        data={"user_name": user, "password": password, "csrf_token": _csrf(page.text), "next": "/console/orgs"},
        headers=ORIGIN,
    )


def test_root_sends_a_browser_to_the_console(app_moorage: InProcessMoorage) -> None:
    with _browser(app_moorage) as client:
        answer = client.get("/")
    assert answer.status_code == 303 and answer.headers["location"] == "/console/"
    # An API client asking for the same path gets SWR's ListApiVersions, not the redirect.
    versions = app_moorage.http.get("/", headers={"Accept": "application/json"})
    assert versions.status_code == 200 and [v["id"] for v in versions.json()["versions"]] == ["v2", "v3"]


def test_signed_out_pages_go_to_sign_in(app_moorage: InProcessMoorage) -> None:
    with _browser(app_moorage) as client:
        answer = client.get("/console/orgs?page=1")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/login?next=%2Fconsole%2Forgs%3Fpage%3D1"
    assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


def test_sign_in_sets_a_strict_http_only_cookie_and_sign_out_revokes_it(app_moorage: InProcessMoorage) -> None:
    with _browser(app_moorage) as client:
        answer = sign_in(client)
        assert answer.status_code == 303 and answer.headers["location"] == "/console/orgs"
        cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and "moorage_console=" in v)
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
        assert "Secure" not in cookie  # plain HTTP here; an https external URL adds it
        token = client.cookies["moorage_console"]
        page = client.get("/console/orgs")
        assert page.status_code == 200 and "Organizations" in page.text
        assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert page.headers["x-frame-options"] == "DENY"
        assert "<script>" not in page.text and " style=" not in page.text  # nothing inline for the CSP to refuse
        out = client.post("/console/logout", data={"csrf_token": _csrf(page.text)}, headers=ORIGIN)
        assert out.status_code == 303
    # The session token was revoked on sign-out: presenting the old cookie again is a sign-in page.
    with _browser(app_moorage) as stale:
        stale.cookies.set("moorage_console", token)
        assert stale.get("/console/orgs").status_code == 303


def test_secure_cookie_behind_tls(app_moorage_factory) -> None:  # type: ignore[no-untyped-def]
    server = app_moorage_factory(external_url="https://registry.example.test")
    with _browser(server) as client:
        page = client.get("/console/login")
        login_cookie = next(v for k, v in page.headers.multi_items() if k == "set-cookie")
        assert "moorage_console_login=" in login_cookie and "Secure" in login_cookie
        token = _csrf(page.text)
        client.cookies.clear()
        client.cookies.set("moorage_console_login", token)  # the test client talks plain HTTP
        answer = client.post(
            "/console/login",
            data={"user_name": ADMIN_USER, "password": ADMIN_PASSWORD, "csrf_token": token},
            headers=ORIGIN,
        )
    cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and "moorage_console=" in v)
    assert "Secure" in cookie


def test_forms_without_the_csrf_token_or_from_elsewhere_are_refused(app_moorage: InProcessMoorage) -> None:
    with _browser(app_moorage) as client:
        sign_in(client)
        # a forged post: right cookie (a browser sends it... SameSite aside), no token
        forged = client.post("/console/admin/keys", data={"description": "forged"}, headers=ORIGIN)
        assert forged.status_code == 403 and "CSRF" in forged.text
        page = client.get("/console/admin/users")
        token = _csrf(page.text)
        other_site = client.post(
            "/console/admin/keys", data={"csrf_token": token}, headers={"Origin": "http://evil.example"}
        )
        assert other_site.status_code == 403
        assert client.get("/console/admin/users").text.count("<code>") == 0  # no key was made
        made = client.post("/console/admin/keys", data={"csrf_token": token, "description": "ok"}, headers=ORIGIN)
        assert made.status_code == 201 and "only now" in made.text
    # the sign-in form too: without its token (bound to its cookie) nothing is checked
    with _browser(app_moorage) as fresh:
        refused = fresh.post(
            "/console/login", data={"user_name": ADMIN_USER, "password": ADMIN_PASSWORD}, headers=ORIGIN
        )
        assert refused.status_code == 403 and "moorage_console" not in fresh.cookies


def test_wrong_passwords_are_throttled_like_api_logins(app_moorage: InProcessMoorage) -> None:
    statuses = []
    with _browser(app_moorage) as client:
        for attempt in range(12):
            statuses.append(sign_in(client, password=f"wrong-{attempt}").status_code)
    assert statuses[0] == 401
    assert 429 in statuses, statuses


def test_escaping_of_values_in_pages(app_moorage: InProcessMoorage) -> None:
    with _browser(app_moorage) as client:
        page = client.get("/console/login?next=/console/%22%3E%3Cscript%3Ealert(1)%3C/script%3E")
    assert "<script>alert(1)" not in page.text
    assert "/console/&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


@pytest.mark.parametrize("path", ["/console/", "/console/orgs", "/console/security", "/console/admin/users"])
def test_pages_render_and_are_counted_by_route(app_moorage: InProcessMoorage, path: str) -> None:
    with _browser(app_moorage) as client:
        sign_in(client)
        assert client.get(path).status_code == 200
        metrics = client.get("/metrics").text
    assert f'route="{path}"' in metrics


def test_a_console_route_without_a_rule_stops_the_application(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from fastapi import APIRouter, FastAPI

    from moorage.api import console
    from moorage.api.console.route import ConsoleRoute
    from moorage.api.management_rules import AccessRuleError
    from moorage.api.route_inventory import install_console

    router = APIRouter(route_class=ConsoleRoute)

    @router.get("/console/unruled")
    async def unruled() -> None:
        """A page someone forgot to rule."""

    stray = SimpleNamespace(router=router, CONSOLE_RULES={})
    monkeypatch.setattr(console, "MODULES", (*console.MODULES, stray))
    with pytest.raises(AccessRuleError, match="/console/unruled"):
        install_console(FastAPI())


def test_console_sign_ins_are_in_the_audit_log(app_moorage_factory) -> None:  # type: ignore[no-untyped-def]
    import time

    from sqlalchemy import text

    server = app_moorage_factory(events={"buffer_flush_seconds": 0.1})
    with _browser(server) as client:
        assert sign_in(client, password="not-the-password").status_code == 401
        assert sign_in(client).status_code == 303

    def logins() -> list[tuple[str, str, str]]:
        query = text("SELECT actor_name, result, client_address FROM events WHERE operation = 'login' ORDER BY id")
        return [tuple(r) for r in server.services.db.run_read(lambda conn: conn.execute(query).all())]

    deadline = time.monotonic() + 10
    while len(logins()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    found = logins()
    assert ("admin", "failure", "127.0.0.1") in found and ("admin", "success", "127.0.0.1") in found, found
