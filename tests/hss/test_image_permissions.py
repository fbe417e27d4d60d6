"""HSS image operations follow the registry's permissions: a user of the account who may read one
organization only sees that organization's images, tags, digests and findings (and counts), in
every HSS operation of the route table that any user of the account may call, while the domain
administrator sees everything. An image the user may not see answers like one that does not exist."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from huaweicloudsdkhss import v5 as hss

from moorage.app import create_app
from moorage.settings import Settings
from tests.conftest import DATABASES, MoorageFactory
from tests.hss.conftest import HssAccount, new_account
from tests.hss.detail_images import Pushed, push_and_wait, risky_image
from tests.hss.support import build_advisories, hss_client
from tests.support import routes
from tests.support import swr_images as si
from tests.support.accounts import Account, create_access_key, create_user, iam_token, management
from tests.support.servers import ServerProcess

SUFFIX = secrets.token_hex(3)
OPEN, CLOSED = f"perm-open-{SUFFIX}", f"perm-closed-{SUFFIX}"
SHOWN, HIDDEN = "shown-app", "hidden-app"


@dataclass
class World:
    server: ServerProcess
    admin: HssAccount
    reader: Account
    reader_client: hss.HssClient
    admin_client: hss.HssClient
    shown: Pushed
    hidden: Pushed
    whitelist_id: str

    def http(self, account: Account) -> httpx.Client:
        return httpx.Client(
            base_url=self.server.base_url, timeout=60, headers={"X-Auth-Token": iam_token(self.server, account)}
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        """What no answer to the reader may contain: the hidden organization, repository and digest."""
        return CLOSED, HIDDEN, self.hidden.image.digest.split(":", 1)[1]


@pytest.fixture(scope="module", params=DATABASES)
def world(
    request: pytest.FixtureRequest, module_factory: MoorageFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    vulndb: Path = build_advisories(tmp_path_factory.mktemp("advisories"))
    server = module_factory(
        database=request.param,
        env={"MOORAGE_SCANNER__SCAN_ON_PUSH": "true", "MOORAGE_SCANNER__VULNDB_PATH": str(vulndb)},
    )
    admin = new_account(server, f"perm-admin-{SUFFIX}")
    admin_client = hss_client(server, admin.keys)
    with si.registry_client(server.base_url, admin.account.name, admin.account.password) as registry:
        shown = push_and_wait(admin_client, registry, OPEN, SHOWN, "1", risky_image("shown"))
        hidden = push_and_wait(admin_client, registry, CLOSED, HIDDEN, "1", risky_image("hidden"))
    reader = create_user(server, f"perm-reader-{SUFFIX}", domain=admin.account.domain, admin_account=admin.account)
    with management(server, iam_token(server, admin.account)) as api:
        granted = api.post(
            f"/v2/manage/namespaces/{OPEN}/access",
            json=[{"user_id": reader.user_id, "user_name": reader.name, "auth": 1}],
        )
        assert granted.status_code == 201, granted.text
        listed = api.post(
            f"/v5/{admin.project}/image/whitelists",
            json={"vul_ids": ["CVE-2031-0009"], "rule_type": "specific_images", "image_info": [{"id": hidden.row_id}]},
        )
        assert listed.status_code == 200, listed.text
        whitelists = api.get(f"/v5/{admin.project}/image/whitelists").json()["data_list"]
    access, secret = create_access_key(server, reader)
    reader_client = hss_client(server, (access, secret, admin.project))
    yield World(server, admin, reader, reader_client, admin_client, shown, hidden, whitelists[0]["id"])


def _account_routes(tmp_path: Path) -> list[tuple[str, str]]:
    """HSS routes any user of the account may call, from the application's route table."""
    app = create_app(Settings(data_dir=tmp_path))
    rules = app.state.access_rules
    return sorted(r for r in routes.management_routes(app) if r[1].startswith("/v5/") and rules[r].kind == "account")


def _fill(path: str, world: World, image_id: str) -> str:
    values = {
        "project_id": world.admin.project,
        "image_id": image_id,
        "vul_id": "CVE-2031-0002",
        "check_name": "password",
        "task_id": "0" * 32,
        "namespace": CLOSED,
        "id": world.whitelist_id,
        "cicd_id": "0" * 32,  # no such CI/CD configuration: the reader learns nothing from its 404
    }
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def _call(client: httpx.Client, method: str, path: str) -> httpx.Response:
    params = {"image_type": "private_image", "limit": 100, "offset": 0}
    if method == "GET":
        return client.get(path, params=params)
    body: dict[str, Any] = {"operate_all": True}
    if path.endswith("handle-affect-vulnerabilities"):
        body = {"operate_type": "ignore", "select_type": "all_vul"}
    return client.request(method, path, params={**params, "security_report_type": "vulnerability"}, json=body)


def test_every_hss_image_operation_hides_what_the_user_may_not_read(world: World, tmp_path: Path) -> None:
    account_routes = _account_routes(tmp_path)
    assert len(account_routes) > 30, account_routes
    leaks, admin_sees = [], []
    with world.http(world.reader) as reader, world.http(world.admin.account) as admin:
        for method, template in account_routes:
            answer = _call(reader, method, _fill(template, world, str(world.hidden.row_id)))
            text = answer.text
            if "{namespace}" in template:
                text = text.replace(CLOSED, "")  # the request's own name, in its 404
            found = [s for s in world.secrets if s in text]
            if found:
                leaks.append(f"{method} {template}: {answer.status_code} shows {found}: {answer.text[:300]}")
            if ("{image_id}" in template or "{namespace}" in template) and answer.status_code != 404:
                leaks.append(f"{method} {template}: {answer.status_code}, not 404: {answer.text[:300]}")
            if "{image_id}" in template:
                shown = _call(reader, method, _fill(template, world, str(world.shown.row_id)))
                assert shown.status_code != 404, (template, shown.text[:300])  # the readable image answers
            if HIDDEN in _call(admin, method, _fill(template, world, str(world.hidden.row_id))).text:
                admin_sees.append(template)
    assert not leaks, "\n".join(leaks)
    assert len(admin_sees) >= 10, admin_sees  # the check is not vacuous: the administrator sees the image


def test_lists_and_counts_through_the_sdk(world: World) -> None:
    def names(client: hss.HssClient) -> set[str]:
        answer = client.list_registry_images(hss.ListRegistryImagesRequest(limit=200))
        return {f"{r.namespace}/{r.image_name}" for r in answer.data_list}

    assert {f"{OPEN}/{SHOWN}", f"{CLOSED}/{HIDDEN}"} <= names(world.admin_client)
    assert f"{CLOSED}/{HIDDEN}" not in names(world.reader_client) and f"{OPEN}/{SHOWN}" in names(world.reader_client)
    swr = world.reader_client.list_swr_image_repository(
        hss.ListSwrImageRepositoryRequest(image_type="private_image", limit=200)
    )
    assert {r.namespace for r in swr.data_list} == {OPEN}
    admin_assets = world.admin_client.show_image_asset_statistics(hss.ShowImageAssetStatisticsRequest())
    reader_assets = world.reader_client.show_image_asset_statistics(hss.ShowImageAssetStatisticsRequest())
    assert reader_assets.registry_num == admin_assets.registry_num - 1
    general = world.reader_client.list_image_vulnerabilities(
        hss.ListImageVulnerabilitiesRequest(image_id=str(world.shown.row_id), limit=50)
    )
    assert general.total_num > 0
    with pytest.raises(Exception) as caught:
        world.reader_client.list_image_vulnerabilities(
            hss.ListImageVulnerabilitiesRequest(image_id=world.hidden.image.digest, limit=50)
        )
    assert getattr(caught.value, "status_code", None) == 404


def test_exports_are_for_administrators(world: World) -> None:
    with world.http(world.admin.account) as admin, world.http(world.reader) as reader:
        made = admin.post(
            f"/v5/{world.admin.project}/image/security-report/export-tasks",
            json={"operate_all": True, "security_report_type": "vulnerability", "export_size": 100},
        )
        assert made.status_code == 200, made.text
        task_id = made.json()["task_id"]
        assert admin.get(f"/v5/{world.admin.project}/image/export-tasks/{task_id}/file").status_code == 200
        refused = reader.get(f"/v5/{world.admin.project}/image/export-tasks/{task_id}/file")
        assert refused.status_code == 403 and HIDDEN not in refused.text
        statistic = reader.post(
            f"/v5/{world.admin.project}/image/security-report/statistic",
            params={"security_report_type": "vulnerability"},
            json={"operate_all": True},
        )
        everything = admin.post(
            f"/v5/{world.admin.project}/image/security-report/statistic",
            params={"security_report_type": "vulnerability"},
            json={"operate_all": True},
        )
        assert 0 < json.loads(statistic.text)["total_num"] < json.loads(everything.text)["total_num"]
