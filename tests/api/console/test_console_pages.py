"""The console's registry pages in process: an organization's page lists its own repositories only
(not those of an organization whose name contains it), the tag list is searched, sorted and paged by
the database, and the not-found and forbidden states are designed pages."""

from __future__ import annotations

import re

import pytest

from tests.api.console.test_console_sessions import ORIGIN, sign_in
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, DATABASES
from tests.support.inprocess import InProcessMoorage
from tests.support.swr_images import image
from tests.support.upload_urls import closing_url

ADMIN_AUTH = (ADMIN_USER, ADMIN_PASSWORD)
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _push(server: InProcessMoorage, repository: str, tags: list[str]) -> None:
    """One small image under ``tags`` through the OCI API (Basic credentials)."""
    built = image([{"etc/console": repository.encode()}], label=repository)
    with server.client(auth=ADMIN_AUTH) as api:
        for blob in (*built.blobs, *([built.config] if built.config else [])):
            started = api.post(f"/v2/{repository}/blobs/uploads/")
            assert started.status_code == 202, started.text
            done = api.put(closing_url(started.headers["location"], blob.digest), content=blob.data)
            assert done.status_code == 201, done.text
        for tag in tags:
            stored = api.put(
                f"/v2/{repository}/manifests/{tag}", content=built.manifest, headers={"Content-Type": MANIFEST}
            )
            assert stored.status_code == 201, stored.text


def _create_user(server: InProcessMoorage, name: str, password: str) -> None:
    """A plain user of the administrator's account, through IAM's ``POST /v3/users``."""
    identity = {"methods": ["password"], "password": {"user": {"name": ADMIN_USER, "password": ADMIN_PASSWORD}}}
    identity["password"]["user"]["domain"] = {"name": ADMIN_USER}  # type: ignore[index]
    with server.client() as api:
        token = api.post("/v3/auth/tokens", json={"auth": {"identity": identity}}).headers["x-subject-token"]
        created = api.post(
            "/v3/users", json={"user": {"name": name, "password": password}}, headers={"X-Auth-Token": token}
        )
    assert created.status_code == 201, created.text


def _links(html: str, prefix: str) -> list[str]:
    return re.findall(rf'href="{re.escape(prefix)}([^"/?]+)"', html)


@pytest.mark.parametrize("database", DATABASES)
def test_organization_page_lists_its_own_repositories_only(app_moorage_factory, database: str) -> None:  # type: ignore[no-untyped-def]
    app_moorage = app_moorage_factory(database=database)
    _push(app_moorage, "app/web", ["v1"])
    _push(app_moorage, "apps/api", ["v1"])  # "apps" contains "app": a substring filter would list it
    with app_moorage.client(headers={"Accept": "text/html"}) as client:
        sign_in(client)
        page = client.get("/console/orgs/app")
    assert page.status_code == 200
    assert _links(page.text, "/console/orgs/app/repos/") == ["web"]
    assert "/console/orgs/apps/repos/api" not in page.text


@pytest.mark.parametrize("database", DATABASES)
def test_tag_list_is_searched_sorted_and_paged(app_moorage_factory, database: str) -> None:  # type: ignore[no-untyped-def]
    server = app_moorage_factory(database=database, console={"page_size": 5})
    _push(server, "shop/app", [f"v{i:02d}" for i in range(12)])
    base = "/console/orgs/shop/repos/app/tags/"
    with server.client(headers={"Accept": "text/html"}) as client:
        sign_in(client)
        first = client.get("/console/orgs/shop/repos/app?sort=name")
        third = client.get("/console/orgs/shop/repos/app?sort=name&page=3")
        found = client.get("/console/orgs/shop/repos/app?q=v1")
    assert _links(first.text, base) == ["v00", "v01", "v02", "v03", "v04"]
    assert "Page 1 of 3 · 12 in all" in first.text and 'rel="next"' in first.text
    assert _links(third.text, base) == ["v10", "v11"] and 'rel="next"' not in third.text
    assert sorted(_links(found.text, base)) == ["v10", "v11"]


def test_missing_and_forbidden_are_designed_pages(app_moorage: InProcessMoorage) -> None:
    _push(app_moorage, "secret/app", ["v1"])
    _create_user(app_moorage, "nobody-much", "nobody-password-1")
    with app_moorage.client(headers={"Accept": "text/html"}) as client:
        sign_in(client)
        missing = client.get("/console/orgs/secret/repos/app/tags/nope")
    assert missing.status_code == 404 and "404 Not Found" in missing.text
    with app_moorage.client(headers={"Accept": "text/html"}) as client:
        assert sign_in(client, "nobody-much", "nobody-password-1").status_code == 303
        forbidden = client.get("/console/orgs/secret/repos/app")
        orgs = client.get("/console/orgs")
    assert forbidden.status_code in (403, 404) and "<!doctype html>" in forbidden.text
    assert "You cannot see any organization yet" in orgs.text


def test_organization_permissions_are_shown_and_granted_by_managers_only(app_moorage: InProcessMoorage) -> None:
    _push(app_moorage, "team/app", ["v1"])
    _create_user(app_moorage, "grant-reader", "grant-reader-password-1")
    _create_user(app_moorage, "grant-target", "grant-target-password-1")
    with app_moorage.client(headers={"Accept": "text/html"}) as admin:
        sign_in(admin)
        page = admin.get("/console/orgs/team/access")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None and "No user holds a permission" in page.text
        granted = admin.post(
            "/console/orgs/team/access",
            data={"csrf_token": token[1], "user_name": "grant-reader", "level": "1"},
            headers=ORIGIN,
        )
        assert granted.status_code == 303
        assert re.search(r"<td>grant-reader</td><td>read</td>", admin.get("/console/orgs/team/access").text)
    with app_moorage.client(headers={"Accept": "text/html"}) as reader:
        assert sign_in(reader, "grant-reader", "grant-reader-password-1").status_code == 303
        page = reader.get("/console/orgs/team/access")
        assert page.status_code == 200 and 'action="/console/orgs/team/access"' not in page.text  # no grant form
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        refused = reader.post(
            "/console/orgs/team/access",
            data={"csrf_token": token[1], "user_name": "grant-target", "level": "7"},
            headers=ORIGIN,
        )
        assert refused.status_code == 403 and "permission level 7" in refused.text


def test_a_manager_shares_a_repository_with_another_account(app_moorage: InProcessMoorage) -> None:
    _push(app_moorage, "team/app", ["v1"])
    from moorage.domain.identity import OPERATOR

    portal = app_moorage.http.portal  # type: ignore[attr-defined]  # the TestClient's event loop
    portal.call(  # another account (a domain of its own), as `moorage admin user create` makes it
        lambda: app_moorage.services.users.create_user(name="partner", password="partner-password-1", caller=OPERATOR)
    )
    with app_moorage.client(headers={"Accept": "text/html"}) as admin:
        sign_in(admin)
        page = admin.get("/console/orgs/team/repos/app/sharing")
        assert "not shared with any other account" in page.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        shared = admin.post(
            "/console/orgs/team/repos/app/sharing",
            data={"csrf_token": token[1], "account": "partner", "deadline": "", "description": "for a partner"},
            headers=ORIGIN,
        )
        assert shared.status_code == 303
        assert re.search(r"<td>partner</td><td>read</td><td>forever</td>", admin.get(shared.headers["location"]).text)
