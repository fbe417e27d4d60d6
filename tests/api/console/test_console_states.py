"""The console's designed states, in process: every list page has an empty state and every page an
error state (forbidden, not found) rendered as a page; the whitelist action is refused without the
form's CSRF token and to a read-only user, who is not offered it; the overview reads the account's
totals without writing a usage snapshot on every load."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from moorage.metadata.tables import security_whitelists, usage_snapshots
from tests.api.console.test_console_pages import _create_user, _push
from tests.api.console.test_console_sessions import ORIGIN, sign_in
from tests.support.inprocess import InProcessMoorage

EMPTY = 'class="empty" role="status"'
ALERT = 'class="alert" role="alert"'
TAG = "/console/orgs/team/repos/app/tags/v1"


def _grant(server: InProcessMoorage, namespace: str, user: str, level: int) -> None:
    """Grant ``level`` on ``namespace`` to ``user`` as the administrator does in the console."""
    with server.client(headers={"Accept": "text/html"}) as admin:
        sign_in(admin)
        page = admin.get(f"/console/orgs/{namespace}/access")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        granted = admin.post(
            f"/console/orgs/{namespace}/access",
            data={"csrf_token": token[1], "user_name": user, "level": str(level)},
            headers=ORIGIN,
        )
    assert granted.status_code == 303, granted.text


def test_every_list_page_has_an_empty_state(app_moorage: InProcessMoorage) -> None:
    with app_moorage.client(headers={"Accept": "text/html"}) as client:
        sign_in(client)
        for path, text in (
            ("/console/orgs", "You cannot see any organization yet"),
            ("/console/security", "No image is known to image security yet"),
            ("/console/enterprise", "Your account has no Enterprise instance"),
            ("/console/", "No image has been scanned yet"),
        ):
            page = client.get(path)
            assert page.status_code == 200 and EMPTY in page.text and text in page.text, path
        _push(app_moorage, "team/app", ["v1"])
        for path, text in (
            ("/console/orgs/team/access", "No user holds a permission"),
            ("/console/orgs/team/repos/app/sharing", "not shared with any other account"),
            ("/console/orgs/team/repos/app?q=nothing-like-this", "No tag matches"),
            ("/console/orgs/team?q=nothing-like-this", "No repository here matches"),
            ("/console/security?level=High", "No image matches"),
        ):
            page = client.get(path)
            assert page.status_code == 200 and EMPTY in page.text and text in page.text, path


def test_every_page_has_an_error_state(app_moorage: InProcessMoorage) -> None:
    _push(app_moorage, "team/app", ["v1"])
    _create_user(app_moorage, "no-rights", "no-rights-password-1")
    with app_moorage.client(headers={"Accept": "text/html"}) as client:
        assert sign_in(client, "no-rights", "no-rights-password-1").status_code == 303
        orgs = client.get("/console/orgs/team")  # the organization's repositories this user may see: none
        assert orgs.status_code == 200 and EMPTY in orgs.text
        for path in (
            "/console/orgs/team/repos/app",
            TAG,
            TAG + "/security",
            TAG + "/sbom",
            "/console/orgs/team/access",
            "/console/orgs/team/repos/app/sharing",
            "/console/enterprise/no-such-instance",
            "/console/enterprise/no-such-instance/namespaces/team/signing",
        ):
            page = client.get(path)
            assert page.status_code in (403, 404), (path, page.status_code)
            assert ALERT in page.text and f"<h1>{page.status_code} " in page.text, path
    with app_moorage.client(headers={"Accept": "text/html"}) as admin:
        sign_in(admin)
        missing = admin.get("/console/orgs/team/repos/nothing")
        invalid = admin.get(TAG + "/security?sort=nonsense")
    assert missing.status_code == 404 and ALERT in missing.text
    assert invalid.status_code == 400 and ALERT in invalid.text and "sort must be one of" in invalid.text


def test_whitelist_is_offered_to_administrators_only_and_needs_the_csrf_token(app_moorage: InProcessMoorage) -> None:
    _push(app_moorage, "team/app", ["v1"])
    _create_user(app_moorage, "team-reader", "team-reader-password-1")
    _grant(app_moorage, "team", "team-reader", 1)
    form = {"image": "1", "vul_id": "CVE-2031-0001", "scope": "all"}
    with app_moorage.client(headers={"Accept": "text/html"}) as reader:
        assert sign_in(reader, "team-reader", "team-reader-password-1").status_code == 303
        page = reader.get(TAG + "/security")
        assert page.status_code == 200 and "/security/whitelist" not in page.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        refused = reader.post(TAG + "/security/whitelist", data={**form, "csrf_token": token[1]}, headers=ORIGIN)
    assert refused.status_code == 403 and ALERT in refused.text
    with app_moorage.client(headers={"Accept": "text/html"}) as admin:
        sign_in(admin)
        forged = admin.post(TAG + "/security/whitelist", data=form, headers=ORIGIN)
    assert forged.status_code == 403 and "CSRF" in forged.text
    with app_moorage.services.db.read_transaction() as conn:
        assert conn.execute(select(func.count()).select_from(security_whitelists)).scalar_one() == 0


def test_the_overview_does_not_write_a_usage_snapshot_per_load(app_moorage: InProcessMoorage) -> None:
    _push(app_moorage, "team/app", ["v1"])
    with app_moorage.client(headers={"Accept": "text/html"}) as client:
        sign_in(client)
        for _ in range(2):
            page = client.get("/console/")
            assert page.status_code == 200
    with app_moorage.services.db.read_transaction() as conn:
        written = conn.execute(select(func.count()).select_from(usage_snapshots)).scalar_one()
    assert written == 0
    assert re.search(r"<dd[^>]*>1</dd>", page.text)  # the organization and repository are counted all the same


def test_a_grant_names_a_user_of_the_account_only(app_moorage: InProcessMoorage) -> None:
    """The grant form names a user; a user of another account is one that does not exist."""
    from moorage.domain.identity import OPERATOR

    _push(app_moorage, "team/app", ["v1"])
    portal = app_moorage.http.portal  # type: ignore[attr-defined]  # the TestClient's event loop
    portal.call(
        lambda: app_moorage.services.users.create_user(name="outsider", password="outsider-password-1", caller=OPERATOR)
    )
    with app_moorage.client(headers={"Accept": "text/html"}) as admin:
        sign_in(admin)
        page = admin.get("/console/orgs/team/access")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        refused = admin.post(
            "/console/orgs/team/access",
            data={"csrf_token": token[1], "user_name": "outsider", "level": "7"},
            headers=ORIGIN,
        )
        assert refused.status_code == 404 and ALERT in refused.text
        assert "outsider" not in admin.get("/console/orgs/team/access").text
