"""External registries through the official SDK: add (with the connectivity check), list, update,
statistics, upload command, delete and batch delete; synchronising a fake Harbor and a fake JFrog
Artifactory (their own APIs: the catalog is disabled on both), and Debian's docker-registry (type
Other: the OCI catalog) whose images are then scanned through moorage's OCI client with that
registry's credentials."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkhss.v5 import (
    AddRegistryRequest,
    AddRegistryRequestBody,
    BatchDeleteRegistryRequest,
    BatchDeleteRegistryRequestBody,
    CreateImageSynchronizeTaskRequest,
    CreateImageSynchronizeTaskRequestInfo,
    CreateImageSynchronizeTaskRequestInfoRegistryInfo,
    CreateManualImageScanTaskReqInfo,
    CreateManualImageScanTaskReqInfoImageInfo,
    CreateManualImageScanTaskRequest,
    DeleteRegistryRequest,
    HssClient,
    ListAssociateRegistriesRequest,
    ListImageScanTaskRequest,
    ListRegistryImagesRequest,
    ListRegistryRequest,
    ListRegistryStatisticsRequest,
    ShowImageUploadCommandRequest,
    UpdateRegistryRequest,
    UpdateRegistryRequestBody,
)

from tests.conftest import MoorageFactory
from tests.hss.conftest import HssAccount, new_account
from tests.hss.fake_registries import OCI_MANIFEST, FakeArtifactory, FakeHarbor, digest_of, index, manifest
from tests.hss.support import build_advisories, hss_client, python_image, skopeo_env, skopeo_push, wait_for
from tests.hss.test_sdk_images import check_types
from tests.support import swr_images as si
from tests.support.servers import ServerProcess, start_reference_registry

pytestmark = [pytest.mark.requires_tool("skopeo", "docker-registry")]
USER, PASSWORD = "hss-robot", "hss-robot-password"


@pytest.fixture(scope="module")
def server(module_factory: MoorageFactory, tmp_path_factory: pytest.TempPathFactory) -> ServerProcess:
    vulndb = build_advisories(tmp_path_factory.mktemp("advisories"))
    # The fake registries run on loopback, which the egress policy refuses to tenants by default:
    # this deployment's operator lets loopback through, as one would an internal registry network.
    return module_factory(
        env={
            "MOORAGE_SCANNER__VULNDB_PATH": str(vulndb),
            "MOORAGE_JOBS__RECOVER_INTERVAL_SECONDS": "1",
            "MOORAGE_EGRESS__ALLOW_NETWORKS": "127.0.0.0/8",
        }
    )


@pytest.fixture(scope="module")
def account(server: ServerProcess) -> HssAccount:
    return new_account(server, "hss-external")


@pytest.fixture(scope="module")
def client(server: ServerProcess, account: HssAccount) -> HssClient:
    return hss_client(server, account.keys)


def add(
    client: HssClient, name: str, kind: str, address: str, *, password: str = PASSWORD, organizations: str = ""
) -> str:
    client.add_registry(
        AddRegistryRequest(
            body=AddRegistryRequestBody(
                registry_name=name,
                registry_type=kind,
                api_version="V2",
                protocol="http",
                registry_addr=address,
                registry_username=USER,
                registry_password=password,
                namespace=organizations,
            )
        )
    )
    found = client.list_registry(ListRegistryRequest(registry_name=name, limit=200)).data_list
    assert len(found) == 1 and found[0].registry_name == name
    return str(found[0].id)


def synchronize(client: HssClient, registry_id: str, kind: str) -> Any:
    """Run a sync task for one registry and wait until it ends; its registry entry."""
    before = {
        t.task_id for t in client.list_image_scan_task(ListImageScanTaskRequest(type="image_sync", limit=200)).data_list
    }
    entry = CreateImageSynchronizeTaskRequestInfoRegistryInfo(registry_id=registry_id, registry_type=kind)
    client.create_image_synchronize_task(
        CreateImageSynchronizeTaskRequest(
            body=CreateImageSynchronizeTaskRequestInfo(sync_all_registries=False, registry_info=[entry])
        )
    )

    def ended() -> Any:
        tasks = client.list_image_scan_task(ListImageScanTaskRequest(type="image_sync", limit=200)).data_list
        new = [t for t in tasks if t.task_id not in before]
        return new[0] if new and new[0].task_status in (100, -1, -3) else None

    task = wait_for(ended, what="the sync task")
    check_types(task)
    assert task.task_type == "manualSync" and task.sync_task_type == "manualSync"
    registries = client.list_associate_registries(ListAssociateRegistriesRequest(task_id=task.task_id)).data_list
    assert len(registries) == 1 and registries[0].registry_id == registry_id
    check_types(registries[0])
    return registries[0]


def images_of(client: HssClient, registry: str) -> list[Any]:
    rows: list[Any] = []
    offset = 0
    while True:
        page = client.list_registry_images(
            ListRegistryImagesRequest(registry_name=registry, offset=offset, limit=200)
        ).data_list
        rows += page
        if len(page) < 200:
            return rows
        offset += 200


def test_harbor_is_listed_through_its_api(client: HssClient) -> None:
    nginx = manifest("nginx")
    children = {"linux/amd64": manifest("jq-amd64"), "linux/arm64": manifest("jq-arm64")}
    jq = index(children)
    references = [
        {"child_digest": digest_of(body), "platform": dict(zip(("os", "architecture"), p.split("/"), strict=True))}
        for p, body in children.items()
    ]
    artifacts: dict[str, list[dict[str, Any]]] = {
        "library/nginx": [
            {
                "digest": digest_of(nginx),
                "size": 3100,
                "manifest_media_type": OCI_MANIFEST,
                "push_time": "2024-01-02T03:04:05.000Z",
                "tags": [
                    {"name": "1.25", "push_time": "2024-01-02T03:04:05Z"},
                    {"name": "latest", "push_time": "2024-01-03T00:00:00Z"},
                ],
            }
        ],
        "library/tools/jq": [
            {
                "digest": digest_of(jq),
                "size": 6200,
                "manifest_media_type": "application/vnd.oci.image.index.v1+json",
                "references": references,
                "tags": [{"name": "1.7"}],
            }
        ],
        "team/app": [
            {
                "digest": digest_of(f"app-{n}".encode()),
                "size": n,
                "tags": [{"name": f"b{n}"}],
                "manifest_media_type": OCI_MANIFEST,
            }
            for n in range(150)
        ],
        "private/secret": [{"digest": digest_of(b"secret"), "size": 1, "tags": [{"name": "x"}]}],
    }
    with FakeHarbor(USER, PASSWORD, artifacts=artifacts) as harbor:
        with pytest.raises(ClientRequestException) as refused:
            add(client, "harbor-bad", "Harbor", harbor.address, password="wrong")
        assert refused.value.status_code == 400 and "authentication" in refused.value.error_msg
        registry_id = add(client, "harbor", "Harbor", harbor.address, organizations="library,team")
        entry = synchronize(client, registry_id, "Harbor")
        assert (entry.sync_status, entry.registry_type, entry.failed_reason) == ("finished", "Harbor", "")
        assert not any(p.startswith("/v2/_catalog") for p in harbor.requests)
    rows = images_of(client, "harbor")
    assert len(rows) == 1 * 2 + 1 + 150  # two tags of nginx, jq, the 150 tags of team/app (two pages)
    by_tag = {(r.namespace, r.image_name, r.image_version): r for r in rows}
    assert ("private", "secret", "x") not in by_tag  # the organization filter left it out
    nginx_row = by_tag[("library", "nginx", "1.25")]
    assert (nginx_row.image_digest, nginx_row.image_size, nginx_row.image_type) == (digest_of(nginx), 3100, "harbor")
    assert nginx_row.latest_update_time == 1704164645000 and nginx_row.latest_version is False
    assert by_tag[("library", "nginx", "latest")].latest_version is True
    jq_row = by_tag[("library", "tools/jq", "1.7")]
    assert jq_row.is_multiple_arch is True
    assert sorted(a.image_digest for a in jq_row.association_images) == sorted(digest_of(b) for b in children.values())
    listed = client.list_registry(ListRegistryRequest(registry_id=registry_id)).data_list[0]
    check_types(listed)
    assert (listed.images_num, listed.status, listed.namespace) == (153, "success", "library,team")
    assert listed.latest_sync_time > 0


def test_jfrog_is_listed_through_its_api(client: HssClient) -> None:
    web = manifest("web", (500, 700))
    multi = {"linux/amd64": manifest("tool-amd64", (10,)), "linux/arm/v7": manifest("tool-arm", (20,))}
    tool = index(multi)
    fake = FakeArtifactory(
        USER,
        PASSWORD,
        repositories={"docker-local": {"web": ["1.0"], "tools/multi": ["2"]}, "docker-dev": {"web": ["dev"]}},
    )
    fake.manifests = {
        ("docker-local/web", "1.0"): web,
        ("docker-local/tools/multi", "2"): tool,
        ("docker-dev/web", "dev"): web,
        **{("docker-local/tools/multi", digest_of(b)): b for b in multi.values()},
    }
    with fake:
        registry_id = add(client, "jfrog", "Jfrog", fake.address)
        entry = synchronize(client, registry_id, "Jfrog")
        assert entry.sync_status == "finished", entry.failed_reason
    rows = {(r.namespace, r.image_name, r.image_version): r for r in images_of(client, "jfrog")}
    assert set(rows) == {
        ("docker-local", "web", "1.0"),
        ("docker-local", "tools/multi", "2"),
        ("docker-dev", "web", "dev"),
    }
    web_row = rows[("docker-local", "web", "1.0")]
    assert (web_row.image_digest, web_row.image_size, web_row.image_type) == (digest_of(web), 100 + 500 + 700, "jfrog")
    multi_row = rows[("docker-local", "tools/multi", "2")]
    assert multi_row.is_multiple_arch and multi_row.image_size == (100 + 10) + (100 + 20)
    assert {a.image_digest for a in multi_row.association_images} == {digest_of(b) for b in multi.values()}


@pytest.fixture(scope="module")
def reference_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Debian's docker-registry with htpasswd (bcrypt) credentials."""
    work = Path(tmp_path_factory.mktemp("reference"))
    htpasswd = work / "htpasswd"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # bcrypt for docker-registry's htpasswd, as tests/clients do (gone in Python 3.13)

        htpasswd.write_text(f"{USER}:{crypt.crypt(PASSWORD, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 5))}\n")
    with start_reference_registry(work / "data", htpasswd=htpasswd) as registry:
        yield registry


def test_docker_registry_is_synchronised_and_scanned(
    client: HssClient, reference_registry: ServerProcess, tmp_path: Path
) -> None:
    vulnerable = python_image({"requests": "2.30.0", "jinja2": "3.0.0"}, label="ext-1")
    clean = python_image({"requests": "2.31.0"}, label="ext-2")
    layout = si.write_layout(tmp_path / "layout", {"vuln": vulnerable, "clean": clean})
    env = skopeo_env(tmp_path)
    for tag, name in (("vuln", "apps/web:1"), ("clean", "apps/web:2"), ("clean", "tools/cli:1")):
        skopeo_push(layout, tag, f"{reference_registry.address}/{name}", creds=(USER, PASSWORD), env=env)
    registry_id = add(client, "reference", "Other", reference_registry.address, organizations="apps")
    assert synchronize(client, registry_id, "Other").sync_status == "finished"
    rows = {(r.image_name, r.image_version): r for r in images_of(client, "reference")}
    assert set(rows) == {("web", "1"), ("web", "2")}  # tools/ is outside the organization filter
    assert rows[("web", "1")].image_digest == vulnerable.digest and rows[("web", "1")].image_type == "other"
    assert rows[("web", "1")].image_size == sum(len(b.data) for b in vulnerable.blobs)
    client.create_manual_image_scan_task(
        CreateManualImageScanTaskRequest(
            body=CreateManualImageScanTaskReqInfo(
                scan_scope=0x7FFFFFFF,
                is_all=False,
                image_info=[
                    CreateManualImageScanTaskReqInfoImageInfo(
                        id=r.id,
                        image_digest=r.image_digest,
                        registry_id=registry_id,
                        namespace=r.namespace,
                        image_name=r.image_name,
                        image_version=r.image_version,
                        registry_type="Other",
                    )
                    for r in rows.values()
                ],
            )
        )
    )

    def scanned() -> Any:
        found = {(r.image_name, r.image_version): r for r in images_of(client, "reference")}
        return found if all(r.scan_status in ("success", "failed") for r in found.values()) else None

    done = wait_for(scanned, what="the scan of the docker-registry images")
    assert done[("web", "1")].scan_status == "success", done[("web", "1")].scan_failed_code
    assert (done[("web", "1")].vul_num, done[("web", "1")].severity_level) == (2, "Medium")
    clean_row = done[("web", "2")]
    # No vulnerability; the config sets no USER: the baseline check's medium "runs as root".
    assert (clean_row.vul_num, clean_row.unsafe_setting_num, clean_row.severity_level) == (0, 1, "Medium")


def test_registry_operations(
    client: HssClient, server: ServerProcess, reference_registry: ServerProcess, account: HssAccount
) -> None:
    first = add(client, "ops-1", "Other", reference_registry.address)
    second = add(client, "ops-2", "Other", reference_registry.address)
    third = add(client, "ops-3", "Other", reference_registry.address)
    with pytest.raises(ClientRequestException) as duplicate:
        add(client, "ops-1", "Other", reference_registry.address)
    assert duplicate.value.status_code == 409
    with pytest.raises(ClientRequestException) as bad_type:
        add(client, "ops-4", "Quay", reference_registry.address)
    assert bad_type.value.status_code == 400
    others = client.list_registry(ListRegistryRequest(registry_type="Other", registry_name="ops-", limit=200))
    assert others.total_num == 3 and {r.id for r in others.data_list} == {first, second, third}
    client.update_registry(UpdateRegistryRequest(id=first, body=UpdateRegistryRequestBody(namespace="apps")))
    assert client.list_registry(ListRegistryRequest(registry_id=first)).data_list[0].namespace == "apps"
    with pytest.raises(ClientRequestException) as refused:
        client.update_registry(
            UpdateRegistryRequest(id=first, body=UpdateRegistryRequestBody(registry_password="not-the-password"))
        )
    assert refused.value.status_code == 400
    stats = client.list_registry_statistics(ListRegistryStatisticsRequest(registry_type="Other"))
    assert stats.fail_num == 0 and stats.success_num >= 3
    command = client.show_image_upload_command(
        ShowImageUploadCommandRequest(
            registry_addr=reference_registry.address, namespace="apps", username=USER, password="secret-value"
        )
    )
    check_types(command)
    assert reference_registry.address in command.image_command and "secret-value" not in command.image_command
    client.delete_registry(DeleteRegistryRequest(id=first))
    client.batch_delete_registry(BatchDeleteRegistryRequest(body=BatchDeleteRegistryRequestBody(ids=[second, third])))
    assert client.list_registry(ListRegistryRequest(registry_name="ops-")).total_num == 0
    with pytest.raises(ClientRequestException) as gone:
        client.delete_registry(DeleteRegistryRequest(id=first))
    assert gone.value.status_code == 404 and gone.value.error_code == "HSS.1004"
