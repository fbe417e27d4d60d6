"""HSS CI/CD through the official SDK, on SQLite and PostgreSQL, and as a pipeline runs it: images
built with umoci (one with a package the fixture advisories call critical, one clean), the command
``create_cicd_configuration_command`` generates run as a subprocess, its exit status against the
gate, the uploads listed by ``list_cicd_images`` and read by the image detail operations, and a
skopeo push of an uploaded digest that reuses the upload instead of queuing a scan."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkhss.v5 import (
    AddCicdConfigurationRequest,
    AddCicdConfigurationRequestBody,
    AddImageWhiteListsRequest,
    AddImageWhiteListsRequestBody,
    CreateCicdConfigurationCommandRequest,
    CreateCicdConfigurationCommandRequestBody,
    DeleteCicdConfigurationsRequest,
    DeleteCicdConfigurationsRequestBody,
    HssClient,
    ImageScanRequestInfo,
    ListCicdConfigurationsRequest,
    ListCicdImagesRequest,
    ListImageAppsRequest,
    ListImageVulnerabilitiesRequest,
    ListRegistryImagesRequest,
    ModifyCicdConfigurationRequest,
    ModifyCicdConfigurationRequestBody,
    ShowCicdConfigurationRequest,
    ShowImageAssetStatisticsRequest,
    ShowImagePayPerScanStatisticsRequest,
)
from sqlalchemy import func, select

from moorage.domain.jobs import JobKind
from moorage.metadata.tables import jobs
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, DATABASES, MoorageFactory
from tests.hss.cicd_support import CLEAN, VULNERABLE, Built, build_python_image, run_command
from tests.hss.conftest import new_account
from tests.hss.support import build_advisories, hss_client, opened, skopeo_env, skopeo_push, wait_for
from tests.support.accounts import Account, cli, create_access_key, project_id
from tests.support.servers import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.requires_tool("umoci")]
ADMIN = Account(ADMIN_USER, ADMIN_PASSWORD, ADMIN_USER)


@dataclass(frozen=True)
class Cicd:
    server: ServerProcess
    client: HssClient
    vulnerable: Built
    clean: Built


@pytest.fixture(scope="module", params=DATABASES)
def cicd(
    request: pytest.FixtureRequest, module_factory: MoorageFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cicd]:
    work = tmp_path_factory.mktemp("cicd")
    vulndb = build_advisories(work / "advisories")
    server = module_factory(
        database=str(request.param),
        env={"MOORAGE_SCANNER__SCAN_ON_PUSH": "true", "MOORAGE_SCANNER__VULNDB_PATH": str(vulndb)},
    )
    keys = (*create_access_key(server, ADMIN), project_id(server))
    images = work / "images"
    images.mkdir()
    yield Cicd(
        server,
        hss_client(server, keys),
        build_python_image(images, "vulnerable", VULNERABLE),
        build_python_image(images, "clean", CLEAN),
    )


def _add(client: HssClient, name: str, **gate: list[str]) -> str:
    body = AddCicdConfigurationRequestBody(cicd_name=name, **gate)
    return str(client.add_cicd_configuration(AddCicdConfigurationRequest(body=body)).cicd_id)


def _command(client: HssClient, cicd_id: str, name: str, version: str, *, blocking: bool = True) -> str:
    body = CreateCicdConfigurationCommandRequestBody(
        cicd_id=cicd_id,
        is_image_scan=True,
        image_scan_info=ImageScanRequestInfo(
            scan_type="local_image",
            image_name=name,
            image_version=version,
            namespace="pipeline",
            is_blocking=blocking,
            pipeline_type="jenkins",
        ),
    )
    return str(client.create_cicd_configuration_command(CreateCicdConfigurationCommandRequest(body=body)).cicd_command)


def test_configurations_through_the_sdk(cicd: Cicd) -> None:
    client = cicd.client
    first = _add(client, "ops-first", vulnerability_whitelist=["CVE-1"], image_whitelist=["base/*"])
    second = _add(client, "ops-second")
    shown = client.show_cicd_configuration(ShowCicdConfigurationRequest(cicd_id=first))
    assert (shown.cicd_id, shown.cicd_name, shown.associated_images_num) == (first, "ops-first", 0)
    assert shown.vulnerability_whitelist == ["CVE-1"] and shown.vulnerability_blocklist == []
    assert shown.image_whitelist == ["base/*"]

    listed = client.list_cicd_configurations(ListCicdConfigurationsRequest(cicd_name="ops-", limit=10))
    assert [c.cicd_id for c in listed.data_list] == [first, second] and listed.total_num == 2
    assert all(c.associated_images_num == 0 and c.associated_config_num == 0 for c in listed.data_list)
    only = client.list_cicd_configurations(ListCicdConfigurationsRequest(cicd_id=second))
    assert [c.cicd_name for c in only.data_list] == ["ops-second"]

    client.modify_cicd_configuration(
        ModifyCicdConfigurationRequest(
            cicd_id=first, body=ModifyCicdConfigurationRequestBody(vulnerability_blocklist=["CVE-9"])
        )
    )
    changed = client.show_cicd_configuration(ShowCicdConfigurationRequest(cicd_id=first))
    assert changed.vulnerability_blocklist == ["CVE-9"] and changed.vulnerability_whitelist == ["CVE-1"]

    with pytest.raises(ClientRequestException) as taken:
        _add(client, "ops-first")
    assert (taken.value.status_code, taken.value.error_code) == (409, "HSS.1009")
    with pytest.raises(ClientRequestException) as too_many:
        _add(client, "ops-big", vulnerability_whitelist=[f"CVE-{i}" for i in range(1001)])
    assert (too_many.value.status_code, too_many.value.error_code) == (400, "HSS.1001")

    command = _command(client, first, "app", "v1")
    words = shlex.split(command)
    assert words[:3] == ["moorage", "scan", "pipeline/app:v1"]
    assert words[words.index("--cicd-id") + 1] == first
    assert words[words.index("--report-to") + 1] == cicd.server.base_url
    assert words[words.index("--cicd-token") + 1].startswith("mcicd.")
    assert "--no-block" not in words and "--no-block" in shlex.split(
        _command(client, first, "app", "v1", blocking=False)
    )
    with pytest.raises(ClientRequestException) as unknown:
        _command(client, "0" * 32, "app", "v1")
    assert unknown.value.status_code == 404

    client.delete_cicd_configurations(
        DeleteCicdConfigurationsRequest(body=DeleteCicdConfigurationsRequestBody(cicd_id_list=[first, second]))
    )
    assert client.list_cicd_configurations(ListCicdConfigurationsRequest(cicd_name="ops-")).total_num == 0
    with pytest.raises(ClientRequestException) as gone:
        client.show_cicd_configuration(ShowCicdConfigurationRequest(cicd_id=first))
    assert gone.value.status_code == 404

    # Each change is in the audit log, and so is each credential handed out (never the credential).
    audit = cli(cicd.server, "audit", "--json", "--resource-type", "cicd_configuration", "--limit", "10000").stdout
    found = [json.loads(line) for line in reversed(audit.splitlines())]
    mine = [(e["operation"], e["detail"]) for e in found if first in e["resource"].split(",")]
    issued = {"credential_issued": True, "ttl_seconds": 3600}
    assert mine == [
        ("create", {"name": "ops-first"}),
        ("update", {"name": "ops-first"}),
        ("update", issued),
        ("update", issued),
        ("delete", {"ids": [first, second], "deleted": 2}),
    ]
    assert not any("mcicd." in json.dumps(e) for e in found)


def _scan_jobs(server: ServerProcess) -> int:
    with opened(server) as db:
        return int(
            db.run_read(
                lambda conn: conn.execute(
                    select(func.count()).select_from(jobs).where(jobs.c.kind == JobKind.SCAN_ON_PUSH.value)
                ).scalar_one()
            )
        )


def test_pipeline_gate_listing_details_and_push_reuse(cicd: Cicd, tmp_path: Path) -> None:
    client = cicd.client
    cicd_id = _add(client, "pipeline-gate")

    blocked = run_command(_command(client, cicd_id, "app", "vulnerable"), cicd.vulnerable)
    assert blocked.returncode == 1, blocked.stderr
    assert "moorage gate FAILED" in blocked.stderr and "critical" in blocked.stderr
    passed = run_command(_command(client, cicd_id, "app", "clean"), cicd.clean)
    assert passed.returncode == 0, passed.stderr
    assert "moorage gate passed" in passed.stderr
    report_only = run_command(_command(client, cicd_id, "app", "vulnerable", blocking=False), cicd.vulnerable)
    assert report_only.returncode == 0, report_only.stderr
    assert "moorage gate FAILED" in report_only.stderr

    listed = client.list_cicd_images(ListCicdImagesRequest(cicd_name="pipeline-gate", sort_dir="asc"))
    assert listed.total_num == 2  # the vulnerable image twice: one row, refreshed
    by_version = {row.image_version: row for row in listed.data_list}
    vulnerable, clean = by_version["vulnerable"], by_version["clean"]
    assert (vulnerable.image_digest, clean.image_digest) == (cicd.vulnerable.digest, cicd.clean.digest)
    assert (vulnerable.namespace, vulnerable.image_name, vulnerable.pipeline_type) == ("pipeline", "app", "jenkins")
    assert (vulnerable.scan_status, vulnerable.vul_num, vulnerable.severity_level) == ("success", 1, "High")
    assert (clean.scan_status, clean.vul_num) == ("success", 0)  # its level counts unsafe settings (root user)
    assert vulnerable.image_type == "cicd" and vulnerable.registry_type == "cicd"
    assert vulnerable.latest_scan_time > 0 and vulnerable.image_size > 0
    risky = client.list_cicd_images(ListCicdImagesRequest(has_vul=True, cicd_name="pipeline-gate"))
    assert [r.image_id for r in risky.data_list] == [vulnerable.image_id]
    shown = client.show_cicd_configuration(ShowCicdConfigurationRequest(cicd_id=cicd_id))
    assert shown.associated_images_num == 2

    # The statistics count the account's uploads (other tests of the module upload too).
    def uploads(**filters: Any) -> int:
        return int(client.list_cicd_images(ListCicdImagesRequest(**filters)).total_num)

    assets = client.show_image_asset_statistics(ShowImageAssetStatisticsRequest())
    assert assets.cicd_num == uploads() >= 2
    scans = client.show_image_pay_per_scan_statistics(ShowImagePayPerScanStatisticsRequest())
    assert scans.cicd_scan_num == uploads(scan_status="success") >= 2
    assert (scans.total.cicd, scans.has_risk.cicd) == (uploads(), uploads(risky=True))
    assert scans.high_risk.cicd == uploads(severity_level="High") >= 1

    # The detail operations read an uploaded image by its cicd image id.
    details = client.list_image_vulnerabilities(
        ListImageVulnerabilitiesRequest(image_id=vulnerable.image_id, limit=10, offset=0)
    )
    assert [v.app_name for v in details.data_list] == ["urllib3"]
    apps = client.list_image_apps(ListImageAppsRequest(image_id=clean.image_id, image_type="cicd", limit=10, offset=0))
    assert [(a.app_name, a.app_version) for a in apps.data_list] == [("flask", "3.0.0")]

    # A push of the uploaded digest reuses the upload: no scan job is queued.
    before = _scan_jobs(cicd.server)
    skopeo_push(
        cicd.vulnerable.layout,
        "vulnerable",
        f"{cicd.server.address}/pipeline/app:vulnerable",
        creds=(ADMIN_USER, ADMIN_PASSWORD),
        env=skopeo_env(tmp_path),
    )

    def reused() -> Any:
        rows = client.list_registry_images(ListRegistryImagesRequest(namespace="pipeline")).data_list
        return rows[0] if rows and rows[0].scan_status == "success" else None

    row = wait_for(reused, what="the pushed image to take the uploaded result")
    assert (row.image_digest, row.vul_num, row.severity_level) == (cicd.vulnerable.digest, 1, "High")
    assert _scan_jobs(cicd.server) == before
    pushed = client.list_image_vulnerabilities(
        ListImageVulnerabilitiesRequest(image_id=str(row.id), limit=10, offset=0)
    )
    assert [v.app_name for v in pushed.data_list] == ["urllib3"]

    # An account-wide whitelist recounts the account's rows: the reused row keeps the upload's result.
    client.add_image_white_lists(
        AddImageWhiteListsRequest(
            global_image_type="registry",
            type="vulnerability",
            body=AddImageWhiteListsRequestBody(
                vul_type="app_vul", vul_ids=["CVE-2031-0002"], rule_type="all_images", description="accepted"
            ),
        )
    )
    recounted = client.list_registry_images(ListRegistryImagesRequest(namespace="pipeline")).data_list[0]
    assert (recounted.scan_status, recounted.vul_num) == ("success", 0)

    # Another account pushing the same digest gets a registry scan: the upload is not its word.
    other = new_account(cicd.server, "cicd-other-tenant").account
    skopeo_push(
        cicd.vulnerable.layout,
        "vulnerable",
        f"{cicd.server.address}/othertenant/app:vulnerable",
        creds=(other.name, other.password),
        env=skopeo_env(tmp_path),
    )
    wait_for(lambda: _scan_jobs(cicd.server) == before + 1, what="the other account's push to queue a scan")

    # Deleting the configuration takes its images with it.
    client.delete_cicd_configurations(
        DeleteCicdConfigurationsRequest(body=DeleteCicdConfigurationsRequestBody(cicd_id_list=[cicd_id]))
    )
    assert client.list_cicd_images(ListCicdImagesRequest(cicd_name="pipeline-gate")).total_num == 0


def test_whitelisted_vulnerability_passes_and_refused_upload_exits_4(cicd: Cicd) -> None:
    client = cicd.client
    allowing = _add(client, "pipeline-allow", vulnerability_whitelist=["CVE-2031-0002"])  # urllib3's alias
    allowed = run_command(_command(client, allowing, "allowed", "v1"), cicd.vulnerable)
    assert allowed.returncode == 0, allowed.stderr
    assert "moorage gate passed" in allowed.stderr

    command = _command(client, allowing, "allowed", "v1")
    client.delete_cicd_configurations(
        DeleteCicdConfigurationsRequest(body=DeleteCicdConfigurationsRequestBody(cicd_id_list=[allowing]))
    )
    revoked = run_command(command, cicd.clean)
    assert revoked.returncode == 4, revoked.stderr
    assert "refused the upload (401)" in revoked.stderr and "deleted" in revoked.stderr
    words = shlex.split(command)
    incomplete = run_command(shlex.join(words[: words.index("--cicd-token")]), cicd.clean)
    assert incomplete.returncode == 2 and "--cicd-token" in incomplete.stderr


class GateBody(AddCicdConfigurationRequestBody):  # type: ignore[misc]
    """The SDK's body with moorage's gate fields, which the SDK's model does not carry."""

    openapi_types = {
        **AddCicdConfigurationRequestBody.openapi_types,
        "block_severities": "list[str]",
        "block_on_secrets": "bool",
    }
    attribute_map = {
        **AddCicdConfigurationRequestBody.attribute_map,
        "block_severities": "block_severities",
        "block_on_secrets": "block_on_secrets",
    }

    def __init__(self, *, block_severities: list[str], block_on_secrets: bool, **fields: Any) -> None:
        super().__init__(**fields)
        self.block_severities = block_severities
        self.block_on_secrets = block_on_secrets


def test_moorage_gate_fields_through_the_sdk(cicd: Cicd) -> None:
    client = cicd.client
    body = GateBody(cicd_name="pipeline-low-only", block_severities=["low"], block_on_secrets=False)
    low_only = str(client.add_cicd_configuration(AddCicdConfigurationRequest(body=body)).cicd_id)
    shown = client.show_cicd_configuration(ShowCicdConfigurationRequest(cicd_id=low_only))
    raw = json.loads(shown.raw_content)
    assert (raw["block_severities"], raw["block_on_secrets"], raw["block_on_malicious_files"]) == (["low"], False, True)
    # Only low vulnerabilities fail this gate: the critical one passes.
    ran = run_command(_command(client, low_only, "low-only", "v1"), cicd.vulnerable)
    assert ran.returncode == 0, ran.stderr
    with pytest.raises(ClientRequestException) as bad:
        client.add_cicd_configuration(
            AddCicdConfigurationRequest(
                body=GateBody(cicd_name="pipeline-bad", block_severities=["severe"], block_on_secrets=True)
            )
        )
    assert (bad.value.status_code, bad.value.error_code) == (400, "HSS.1001")
