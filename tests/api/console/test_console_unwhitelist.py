"""Stop whitelisting a finding from a tag's security page, in process on SQLite: the page lists the
whitelist that covers a whitelisted finding with a form that removes it (``DeleteImageWhiteLists``);
an administrator's removal opens the finding again; a read-only user is offered no such form and is
refused (403); a post without or with a wrong CSRF token is refused; nothing changes on a refusal."""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy import func, select

from moorage.domain.security import RegistryType, ScanSummary
from moorage.domain.security_findings import ScanWrite, VulnerabilityRow
from moorage.domain.security_images import ImageEntry
from moorage.metadata.queries import security_images as images_q
from moorage.metadata.queries import security_registries as registries_q
from moorage.metadata.queries import security_results as results_q
from moorage.metadata.tables import security_whitelists
from moorage.services.security.results import apply_to_rows
from tests.api.console.test_console_pages import _create_user, _push
from tests.api.console.test_console_sessions import ORIGIN, _csrf, sign_in
from tests.api.console.test_console_states import _grant
from tests.conftest import ADMIN_USER
from tests.hss.seed import domain_id_of
from tests.support.inprocess import InProcessMoorage

TAG = "/console/orgs/team/repos/app/tags/v1"
VUL = "CVE-2031-0001"
DIGEST = "sha256:" + "c" * 64
READER = ("team-reader", "team-reader-password-1")


def _scanned(server: InProcessMoorage) -> int:
    """team/app:v1 known to image security as scanned, with one high finding (``VUL``); its row id."""
    _push(server, "team/app", ["v1"])
    domain_id = domain_id_of(server.services.db, ADMIN_USER)
    finding = VulnerabilityRow(
        finding_key="k-" + VUL,
        vul_id=VUL,
        aliases=(),
        severity="high",
        score=7.5,
        ecosystem="pypi",
        package_name="urllib3",
        package_version="1.0",
        purl="pkg:pypi/urllib3@1.0",
        path="usr/lib/python3/site-packages/urllib3",
        layer_digest=DIGEST,
        fixed_version="2.0",
        fix_state="fixed",
        title="a planted finding",
    )

    def write(conn: Any) -> int:
        registry = registries_q.ensure_builtin(conn, domain_id, RegistryType.SWR_PRIVATE).id
        entry = ImageEntry(
            namespace="team", image_name="app", image_version="v1", digest=DIGEST, image_id="c" * 12, size=1000,
            updated_at=1,
        )  # fmt: skip
        row_id = images_q.upsert(conn, domain_id=domain_id, registry_id=registry, image_type="private_image",
                                 entries=[entry])[entry.row_key]  # fmt: skip
        results_q.claim(conn, DIGEST, "test-job")
        summary = ScanSummary(((VUL, "high", ()),), (), ())
        results_q.store(
            conn,
            DIGEST,
            "test-job",
            ScanWrite(
                summary=summary,
                severity_level=summary.level().value,
                report={},
                vulnerabilities=(finding,),
                findings=(),
                scanners="vuln",
                advisory_db="test",
                scanner_version="0",
            ),
        )
        apply_to_rows(conn, DIGEST)
        return int(row_id)

    return int(server.services.db.run_write(write))


def _whitelists(server: InProcessMoorage) -> int:
    with server.services.db.read_transaction() as conn:
        return int(conn.execute(select(func.count()).select_from(security_whitelists)).scalar_one())


def _status(page: httpx.Response) -> str:
    row = re.search(rf'<tr data-vul="{VUL}">(.*?)</tr>', page.text, re.S)
    assert row is not None, page.text
    cells = re.findall(r"<td>([a-z]+)</td>", row[1])
    assert cells, row[1]
    return str(cells[-1])


def test_stop_whitelisting_a_finding(app_moorage: InProcessMoorage) -> None:
    server = app_moorage
    row_id = _scanned(server)
    _create_user(server, *READER)
    _grant(server, "team", READER[0], 1)
    page = TAG + "/security"
    with server.client(headers={"Accept": "text/html"}) as admin:
        sign_in(admin)
        first = admin.get(page)
        assert first.status_code == 200 and _status(first) == "open"
        whitelisted = admin.post(
            TAG + "/security/whitelist",
            data={"csrf_token": _csrf(first.text), "image": str(row_id), "vul_id": VUL, "scope": "image"},
            headers=ORIGIN,
        )
        assert whitelisted.status_code == 303, whitelisted.text
        shown = admin.get(page)
        assert _status(shown) == "whitelisted" and _whitelists(server) == 1
        form = re.search(
            r'action="[^"]*/security/unwhitelist".*?name="whitelist" value="([0-9a-f]+)"', shown.text, re.S
        )
        assert form is not None and "Stop whitelisting here" in shown.text, shown.text
        whitelist_id = form[1]

        # a read-only user of the namespace: no form, and refused
        with server.client(headers={"Accept": "text/html"}) as reader:
            assert sign_in(reader, *READER).status_code == 303
            seen = reader.get(page)
            assert seen.status_code == 200 and "/security/unwhitelist" not in seen.text
            refused = reader.post(
                TAG + "/security/unwhitelist",
                data={"csrf_token": _csrf(seen.text), "whitelist": whitelist_id},
                headers=ORIGIN,
            )
            assert refused.status_code == 403
        assert _whitelists(server) == 1

        # without the token, or with a wrong one: refused
        good = _csrf(shown.text)
        for token in (None, good[:-1] + ("A" if good[-1] != "A" else "B")):
            data = {"whitelist": whitelist_id} | ({"csrf_token": token} if token is not None else {})
            forged = admin.post(TAG + "/security/unwhitelist", data=data, headers=ORIGIN)
            assert forged.status_code == 403 and "CSRF" in forged.text
        assert _whitelists(server) == 1

        # the administrator's removal: the finding is open again, the whitelist gone
        removed = admin.post(
            TAG + "/security/unwhitelist", data={"csrf_token": good, "whitelist": whitelist_id}, headers=ORIGIN
        )
        assert removed.status_code == 303 and removed.headers["location"] == page
        again = admin.get(page)
        assert _status(again) == "open" and "/security/unwhitelist" not in again.text
    assert _whitelists(server) == 0
