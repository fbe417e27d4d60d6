"""The web console in Debian's Chromium (headless, driven by Playwright) against a real ``moorage
serve``: an image pushed with skopeo and scanned on push; sign in, browse to the tag, copy its pull
command, open its vulnerabilities, filter to critical, ignore one and see the counts change,
download the SBOM and parse it; a read-only user sees no write action and is refused a forged
post; an Enterprise signature policy's execution shows its progress to Succeed. axe-core (npm,
pinned by tests/console/npm/package-lock.json, installed by ./dev) checks every main page for
serious or critical accessibility violations. The screenshots of the README are taken here
(``MOORAGE_CONSOLE_SCREENSHOTS=docs/screenshots``; elsewhere they go to a temporary directory).

One server and one browser for the module; the tests run in order and build on each other.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.enterprise.conftest import _starter
from tests.enterprise.support import (
    Enterprise,
    connect,
    create_instance,
    create_key,
    create_namespace,
    create_policy,
    upload,
)
from tests.hss.support import build_advisories, python_image, skopeo_env, skopeo_push, wait_for
from tests.support import swr_images as si
from tests.support.accounts import Account, create_user, iam_token
from tests.support.tools import require_tool

pytestmark = [pytest.mark.e2e, pytest.mark.requires_tool("skopeo"), pytest.mark.requires_tool("chromium")]

ROOT = Path(__file__).resolve().parents[2]
AXE = Path(os.environ.get("MOORAGE_CONSOLE_NPM", ROOT / ".cache" / "console-npm")) / "node_modules/axe-core/axe.min.js"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
READER = "console-reader"
READER_PASSWORD = "reader-password-1"
MANAGER = "console-manager"
MANAGER_PASSWORD = "manager-password-1"


@dataclass
class Site:
    """The server and what the module set up on it."""

    ee: Enterprise
    instance_id: str
    registry: str
    shots: Path

    @property
    def base(self) -> str:
        return self.ee.server.base_url


@pytest.fixture(scope="module")
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A server scanning on push, with shop/app:v1 scanned (urllib3 critical, requests medium), a
    read-only user of ``shop``, and an Enterprise instance with a signature policy over three images."""
    require_tool("skopeo")
    require_tool("chromium")
    base = tmp_path_factory.mktemp("console")
    vulndb = build_advisories(base / "advisories")
    start, started = _starter(request, base)
    try:
        server = start(env={"MOORAGE_SCANNER__SCAN_ON_PUSH": "true", "MOORAGE_SCANNER__VULNDB_PATH": str(vulndb)})
        ee = connect(server)
        image = python_image({"requests": "2.30.0", "urllib3": "1.26.0", "flask": "3.0.0"}, label="console")
        layout = si.write_layout(base / "layout", {"v1": image})
        skopeo_push(
            layout, "v1", f"{server.address}/shop/app:v1", creds=(ADMIN_USER, ADMIN_PASSWORD), env=skopeo_env(base)
        )
        reader = create_user(server, READER, domain=ADMIN_USER, password=READER_PASSWORD)
        with ee.http() as api:
            granted = api.post(
                "/v2/manage/namespaces/shop/access", json=[{"user_id": reader.user_id, "user_name": READER, "auth": 1}]
            )
            assert granted.status_code == 201, granted.text

            def scanned() -> bool:
                answer = api.get(f"/v5/{ee.project}/image/swr-repository", params={"image_type": "private_image"})
                rows = answer.json().get("data_list", [])
                return any(r["scan_status"] == "success" for r in rows)

            wait_for(scanned, what="the pushed image to be scanned")
        instance_id = create_instance(ee, "console-ee", domain_name=ee.instance_address)
        create_namespace(ee, instance_id, "team")
        upload(ee.instance_address, "team/app", {f"v{i}": f"content {i}" for i in range(1, 4)})
        manager = create_user(server, MANAGER, domain=ADMIN_USER, password=MANAGER_PASSWORD)
        # a grant sent to the instance's host name is a grant on the instance's namespace
        with httpx.Client(base_url=f"http://{ee.instance_address}", headers={"X-Auth-Token": ee.token}) as api:
            granted = api.post(
                "/v2/manage/namespaces/team/access",
                json=[{"user_id": manager.user_id, "user_name": MANAGER, "auth": 7}],
            )
            assert granted.status_code == 201, granted.text
        key = create_key(ee, instance_id)
        create_policy(ee, instance_id, "team", key["id"], repositories="app", tags="v*", name="sign-team")
        shots = Path(os.environ.get("MOORAGE_CONSOLE_SCREENSHOTS", "") or base / "screenshots")
        shots.mkdir(parents=True, exist_ok=True)
        yield Site(ee, instance_id, server.address, shots)
    finally:
        from tests.support.servers import stop_all

        stop_all(started)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, for the whole module (no browser download: Playwright drives
    the system's executable)."""
    require_tool("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


def signed_in(browser: Any, site: Site, user: str, password: str) -> Any:
    """A new browser context (its own cookies) with ``user`` signed in; its page."""
    context = browser.new_context(base_url=site.base, viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.base)
    page = context.new_page()
    page.on("console", lambda message: _refused(message.text))
    page.goto("/console/")
    assert page.url.endswith("/console/login?next=%2Fconsole%2F")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert page.url == f"{site.base}/console/", (page.url, page.content()[:3000])
    return page


def _refused(text: str) -> None:
    """A page's console message about something its Content-Security-Policy refused fails the test:
    the console's own pages need no inline script or style."""
    assert "Content Security Policy" not in text, text


def accessible(page: Any) -> None:
    """axe-core finds no serious or critical violation on the page."""
    if not AXE.is_file():
        pytest.fail(f"axe-core is not installed at {AXE}: run the tests through ./dev (it installs it with npm)")
    # Evaluated through the DevTools protocol: the page's CSP (rightly) refuses an injected <script>.
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    result = page.evaluate("async () => await window.axe.run(document)")
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, bad


def shot(page: Any, site: Site, name: str) -> None:
    page.screenshot(path=str(site.shots / f"console-{name}.png"), full_page=True)


def counts(page: Any) -> dict[str, int]:
    cells = page.locator("#severity-counts dd")
    return {cells.nth(i).get_attribute("data-severity"): int(cells.nth(i).inner_text()) for i in range(cells.count())}


def test_sign_in_browse_to_a_tag_and_copy_its_pull_command(browser: Any, site: Site) -> None:
    page = signed_in(browser, site, ADMIN_USER, ADMIN_PASSWORD)
    assert page.get_by_role("heading", name="Overview").is_visible()
    assert page.locator(".tiles").first.is_visible()
    accessible(page)
    shot(page, site, "overview")
    page.get_by_role("link", name="Organizations").click()
    page.get_by_role("link", name="shop", exact=True).click()
    accessible(page)
    page.get_by_role("link", name="app", exact=True).click()
    accessible(page)
    shot(page, site, "tags")
    page.get_by_role("link", name="v1", exact=True).click()
    page.wait_for_url("**/tags/v1")
    assert page.get_by_role("heading", name="shop/app:v1").is_visible()
    accessible(page)
    shot(page, site, "tag")
    page.locator("button.copy").first.click()
    page.get_by_role("status").filter(has_text="Copied").wait_for()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == f"docker pull {site.registry}/shop/app:v1"
    layers = page.locator("#layers-h + table tbody tr")
    assert layers.count() == 3  # the image's three layers
    for path, heading in (
        ("/console/orgs/shop/access", "Permissions of shop"),
        ("/console/orgs/shop/repos/app/sharing", "Sharing of shop/app"),
        ("/console/security", "Images and findings"),
        ("/console/admin/users", "Users and access keys"),
    ):
        page.goto(path)
        assert page.get_by_role("heading", name=heading, exact=True).is_visible(), path
        accessible(page)


def test_vulnerabilities_filter_ignore_and_sbom(browser: Any, site: Site) -> None:
    page = signed_in(browser, site, ADMIN_USER, ADMIN_PASSWORD)
    page.goto("/console/orgs/shop/repos/app/tags/v1")
    page.get_by_role("link", name="Security").first.click()
    page.wait_for_url("**/tags/v1/security")
    before = counts(page)
    assert before["critical"] == 1 and before["medium"] == 1 and before["ignored"] == 0, before
    accessible(page)
    shot(page, site, "security")
    page.get_by_label("Severity").select_option("critical")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**severity=critical**")
    rows = page.locator("#findings tbody tr")
    assert rows.count() == 1 and rows.first.get_attribute("data-vul") == "CVE-2031-0002"
    assert "urllib3" in rows.first.inner_text()
    rows.first.get_by_role("button", name="Ignore").click()
    page.wait_for_url("**/tags/v1/security")
    after = counts(page)
    assert after["critical"] == 0 and after["medium"] == 1 and after["ignored"] == 1, after
    with page.expect_download() as download:
        page.get_by_role("link", name="CycloneDX").click()
    document = json.loads(Path(download.value.path()).read_text())
    assert document["bomFormat"] == "CycloneDX"
    names = {c["name"] for c in document.get("components", [])}
    assert {"requests", "urllib3", "flask"} <= names, names
    with page.expect_download() as spdx_download:
        page.get_by_role("link", name="SPDX").click()
    spdx = json.loads(Path(spdx_download.value.path()).read_text())
    assert spdx["spdxVersion"].startswith("SPDX-") and {"urllib3"} <= {p["name"] for p in spdx["packages"]}


def test_read_only_user_sees_no_write_action_and_forged_posts_are_refused(browser: Any, site: Site) -> None:
    page = signed_in(browser, site, READER, READER_PASSWORD)
    page.goto("/console/orgs/shop/repos/app/tags/v1/security")
    assert page.locator("#findings").is_visible()
    assert page.get_by_role("button", name="Ignore").count() == 0
    assert page.get_by_role("button", name="Stop ignoring").count() == 0
    assert page.get_by_role("button", name="Whitelist").count() == 0
    token = page.locator('input[name="csrf_token"]').first.get_attribute("value")
    handling = f"{site.base}/console/orgs/shop/repos/app/tags/v1/security/handling"
    form = {"image": "1", "vul_id": "CVE-2031-0001", "action": "ignore"}
    # a forged post (no CSRF token), with the user's own cookie: refused
    forged = page.request.post(handling, form=form, headers={"Origin": site.base})
    assert forged.status == 403 and "CSRF" in forged.text()
    # even with the session's token, the rule of HandleImageVulnerability (administrators) holds
    denied = page.request.post(handling, form={**form, "csrf_token": token}, headers={"Origin": site.base})
    assert denied.status == 403
    page.goto("/console/orgs/shop/repos/app/tags/v1/security")
    assert counts(page)["medium"] == 1  # nothing was ignored
    # the organizations the reader may see, and the users list they may not
    page.goto("/console/admin/users")
    assert page.get_by_role("heading", name="Users of the account").count() == 0
    page.goto(f"/console/enterprise/{site.instance_id}/namespaces/team/signing")
    assert page.get_by_role("button", name="Run now").count() == 0


def test_enterprise_operations_pages_from_the_navigation(browser: Any, site: Site) -> None:
    page = signed_in(browser, site, ADMIN_USER, ADMIN_PASSWORD)
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Audit logs").click()
    page.get_by_role("link", name="Audit logs of console-ee").click()
    page.wait_for_url(f"**/console/enterprise/{site.instance_id}/audit")
    assert page.get_by_role("heading", name="Audit log").is_visible()
    assert page.locator("main table tbody tr").count() > 0  # the instance's creation, its namespace...
    accessible(page)
    page.get_by_role("navigation", name="Instance").get_by_role("link", name="Garbage collection").click()
    assert page.get_by_role("heading", name="Garbage collection").is_visible()
    assert page.get_by_role("status").filter(has_text="No garbage collection has run").is_visible()
    with page.expect_navigation():  # the form posts, the server answers 303 back to the page
        page.get_by_role("button", name="Run now").click()
    assert "manual" in page.locator("main table tbody tr").first.inner_text().lower()
    accessible(page)  # with the schedule and run-now forms


def test_whitelist_a_vulnerability_the_form_is_busy_and_the_counts_change(browser: Any, site: Site) -> None:
    page = signed_in(browser, site, ADMIN_USER, ADMIN_PASSWORD)
    page.goto("/console/orgs/shop/repos/app/tags/v1/security")
    before = counts(page)
    assert before["medium"] == 1 and before["ignored"] == 1, before  # the critical one was ignored above
    row = page.locator("#findings tbody tr", has_text="requests")
    vul_id = row.get_attribute("data-vul")
    # first with the submission cancelled after the page's own handler ran: the busy state stays to be seen
    form = row.locator("form")
    form.evaluate("f => f.addEventListener('submit', (event) => event.preventDefault())")
    row.get_by_role("button", name="Whitelist here").click()
    button = row.locator('button[value="image"]')  # by value: its name now says it is busy
    assert form.get_attribute("aria-busy") == "true"
    assert button.is_disabled() and row.locator('button[name="action"]').is_disabled()
    assert "Saving" in button.inner_text()
    page.reload()
    row = page.locator("#findings tbody tr", has_text="requests")
    with page.expect_navigation():
        row.get_by_role("button", name="Whitelist here").click()
    after = counts(page)
    assert after["medium"] == 0 and after["ignored"] == 2, after
    assert "whitelisted" in page.locator(f'#findings tbody tr[data-vul="{vul_id}"]').inner_text()
    with httpx.Client(base_url=site.base, headers={"X-Auth-Token": site.ee.token}) as api:
        lists = api.get(f"/v5/{site.ee.project}/image/whitelists").json()
    # the pressed button's value went with the form: a whitelist of this image, not of every image
    assert [w["rule_type"] for w in lists["data_list"] if w["vul_id"] == vul_id] == ["specific_images"], lists


def test_a_namespace_manager_is_offered_run_now(browser: Any, site: Site) -> None:
    """The server lets a manager of the namespace run a policy; the page offers it to them too (it
    asks the same rule), and not to a reader."""
    page = signed_in(browser, site, MANAGER, MANAGER_PASSWORD)
    page.goto(f"/console/enterprise/{site.instance_id}/namespaces/team/signing")
    assert page.get_by_role("heading", name="Signature policies of team").is_visible()
    assert page.get_by_role("button", name="Run now").count() == 1
    assert page.get_by_role("status").filter(has_text="Up to date.").count() == 1


def test_signature_policy_execution_progresses_to_succeed(browser: Any, site: Site) -> None:
    page = signed_in(browser, site, ADMIN_USER, ADMIN_PASSWORD)
    page.get_by_role("link", name="Instances").click()
    page.get_by_role("link", name="console-ee").click()
    accessible(page)
    page.get_by_role("link", name="Signature policies of team").click()
    page.wait_for_url("**/namespaces/team/signing")
    assert page.get_by_text("This policy has not run yet.").is_visible()
    refreshes: list[str] = []
    page.on("request", lambda r: refreshes.append(r.url) if "fragment=true" in r.url else None)
    page.get_by_role("button", name="Run now").click()
    page.wait_for_url("**/namespaces/team/signing")
    first = page.locator("tr.execution").first
    initially = first.get_attribute("data-status")
    assert initially in ("Initialized", "Pending", "InProgress", "Succeed")
    # the page's script refreshes the table while the execution runs; no reload here
    page.locator('tr.execution[data-status="Succeed"]').first.wait_for(timeout=60_000)
    assert "3 signed" in page.locator("tr.execution").first.inner_text()
    if initially != "Succeed":
        assert refreshes, "the page's script never fetched the execution table"
    accessible(page)
    shot(page, site, "signing")
    with httpx.Client(base_url=site.base, headers={"X-Auth-Token": iam_token(site.ee.server, _admin())}) as api:
        metrics = api.get("/metrics").text
    assert 'route="/console/orgs/{namespace}/repos/{repository}/tags/{tag}/security"' in metrics


def _admin() -> Account:
    return Account(ADMIN_USER, ADMIN_PASSWORD, ADMIN_USER)


def test_rescan_queues_a_scan_and_the_page_shows_the_other_findings(browser: Any, site: Site) -> None:
    page = signed_in(browser, site, ADMIN_USER, ADMIN_PASSWORD)
    page.goto("/console/orgs/shop/repos/app/tags/v1/security")
    for heading in ("Malicious files", "Secrets and sensitive information", "Unsafe settings", "Build-command risks"):
        assert page.get_by_role("heading", name=heading).is_visible()
    page.get_by_role("button", name="Scan again").click()
    page.wait_for_url("**/tags/v1/security")
    assert page.get_by_role("heading", name="Security of shop/app:v1").is_visible()
    with httpx.Client(base_url=site.base, headers={"X-Auth-Token": site.ee.token}) as api:
        tasks = api.get(
            f"/v5/{site.ee.project}/image/tasks", params={"type": "image_scan", "task_type": "manual"}
        ).json()
    assert tasks.get("total_num", 0) >= 1, tasks
