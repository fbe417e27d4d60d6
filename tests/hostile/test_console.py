"""Hostile input to the web console: where sign-in sends a browser afterwards (never off the site),
forms that are not URL-encoded or carry thousands of fields, path parameters that are not names,
script in every value a page prints, and session cookies that are forged or expired."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
from hypothesis import given
from hypothesis import strategies as st

from moorage.api.console.pages_auth import safe_next
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.fuzz.budget import FUZZ
from tests.support.inprocess import InProcessMoorage

ORIGIN = {"Origin": "http://127.0.0.1:5000"}


@FUZZ
@given(
    st.one_of(
        st.text(max_size=80),
        st.sampled_from(
            [
                "//evil.example/console/",
                "/\\evil.example",
                "https://evil.example/console/",
                "/console/../v2/",
                "javascript:alert(1)",
                "/console\\@evil.example",
                " /console/",
            ]
        ),
    )
)
def test_after_sign_in_the_browser_stays_on_the_console(target: str) -> None:
    found = safe_next(target)
    parts = urlsplit(found)
    assert not parts.scheme and not parts.netloc and found.startswith("/console/") and "\\" not in found


def _signed_in(server: InProcessMoorage) -> tuple[httpx.Client, str]:
    client = server.client(headers={"Accept": "text/html"})
    page = client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    answer = client.post(
        "/console/login",
        data={"user_name": ADMIN_USER, "password": ADMIN_PASSWORD, "csrf_token": token[1]},
        headers=ORIGIN,
    )
    assert answer.status_code == 303
    keys = client.get("/console/admin/users")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', keys.text)
    assert csrf is not None
    return client, csrf[1]


def test_forms_must_be_url_encoded_and_bounded(app_moorage: InProcessMoorage) -> None:
    client, csrf = _signed_in(app_moorage)
    as_json = client.post(
        "/console/admin/keys",
        content=b'{"csrf_token": "%s"}' % csrf.encode(),
        headers={**ORIGIN, "Content-Type": "application/json"},
    )
    assert as_json.status_code == 403
    # thousands of fields: only the first ones are read, and the page still answers
    flood = "&".join(f"f{i}=x" for i in range(20_000)) + f"&csrf_token={csrf}"
    answer = client.post(
        "/console/admin/keys",
        content=flood.encode(),
        headers={**ORIGIN, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 403  # the token came after the fields read: not seen, refused
    assert "<script" not in answer.text.split("</head>", 1)[1].replace('<script src="/console/static', "")


def test_path_parameters_that_are_not_names_are_error_pages(app_moorage: InProcessMoorage) -> None:
    client, _ = _signed_in(app_moorage)
    for path in (
        "/console/orgs/..%2F..%2Fetc",
        "/console/orgs/UPPER/repos/x",
        "/console/orgs/a/repos/%00/tags/v1",
        "/console/orgs/a/repos/b/tags/%3Cscript%3E",
        "/console/orgs/a/repos/b?page=0",
        "/console/orgs/a/repos/b?sort=drop%20table",
        "/console/orgs/a/repos/b/tags/v1/sbom?format=../../etc/passwd",
        "/console/enterprise/%3Cimg%20src%3Dx%3E",
        "/console/static/..%2F..%2Fsettings.py",
    ):
        answer = client.get(path)
        assert answer.status_code in (400, 403, 404), (path, answer.status_code, answer.text[:300])
        assert path.startswith("/console/static/") or "<!doctype html>" in answer.text, path  # an error page
        assert "<script>" not in answer.text and "<img src=x>" not in answer.text, path


def test_forged_and_expired_session_cookies_are_signed_out(app_moorage_factory) -> None:  # type: ignore[no-untyped-def]
    server = app_moorage_factory(console={"session_seconds": 60})
    with server.client(headers={"Accept": "text/html"}) as client:
        for forged in ("x", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.", "A" * 5000):
            client.cookies.set("moorage_console", forged)
            answer = client.get("/console/orgs")
            assert answer.status_code == 303 and answer.headers["location"].startswith("/console/login")
    expired, _claims = server.services.signer.issue_iam(user_id="nobody", domain_id="nobody", project_id=None, ttl=-10)
    with server.client(headers={"Accept": "text/html"}) as client:
        client.cookies.set("moorage_console", expired)
        assert client.get("/console/orgs").status_code == 303
