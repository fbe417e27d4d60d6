"""Synchronising moorage's own images (private and shared), batch scans, manual scan tasks, the
task list and its filters, stopping a task, and the scheduled-scan policy, through the official
SDK against a running moorage with a fixture advisory database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkhss.v5 import (
    BatchScanPrivateImageRequestInfo,
    BatchScanSwrImageInfo,
    BatchScanSwrImageRequest,
    CreateManualImageScanTaskReqInfo,
    CreateManualImageScanTaskReqInfoImageInfo,
    CreateManualImageScanTaskReqInfoQueryInfo,
    CreateManualImageScanTaskRequest,
    CycleImageScanPolicyReqInfo,
    CycleImageScanPolicyReqInfoRegistryInfo,
    HssClient,
    ListImageScanPolicyRequest,
    ListImageScanTaskRequest,
    ListRegistryImagesRequest,
    ListSwrImageRepositoryRequest,
    ModifyImageScanPolicyRequest,
    RunImageSynchronizeRequest,
    RunImageSynchronizeRequestInfo,
    StopImageScanTaskRequest,
)

from tests.conftest import MoorageFactory
from tests.hss.conftest import HssAccount, new_account
from tests.hss.support import build_advisories, hss_client, python_image, skopeo_env, skopeo_push, wait_for
from tests.hss.test_sdk_images import check_types
from tests.support import swr_images as si
from tests.support.accounts import iam_token
from tests.support.servers import ServerProcess

pytestmark = [pytest.mark.requires_tool("skopeo")]
ORG = "tasks-org"


@pytest.fixture(scope="module")
def server(module_factory: MoorageFactory, tmp_path_factory: pytest.TempPathFactory) -> ServerProcess:
    vulndb = build_advisories(tmp_path_factory.mktemp("advisories"))
    return module_factory(env={"MOORAGE_SCANNER__VULNDB_PATH": str(vulndb)})


@pytest.fixture(scope="module")
def account(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> HssAccount:
    """An account whose organization holds app:1 (2 vulnerabilities), app:2 (none), app:3 (1) and a
    two-platform image multi:1, pushed with skopeo and not scanned."""
    found = new_account(server, "hss-tasks")
    work = tmp_path_factory.mktemp("layouts")
    images = {
        "one": python_image({"requests": "2.30.0", "urllib3": "1.0.0"}, label="t1"),
        "two": python_image({"requests": "2.31.0"}, label="t2"),
        "three": python_image({"jinja2": "3.0.0"}, label="t3"),
    }
    layout = si.write_layout(work / "layout", images)
    creds = (found.account.name, found.account.password)
    env = skopeo_env(work)
    for number, tag in ((1, "one"), (2, "two"), (3, "three")):
        skopeo_push(layout, tag, f"{server.address}/{ORG}/app:{number}", creds=creds, env=env)
    multi = si.index([python_image({"urllib3": "1.0.0"}, label="amd"), python_image({}, label="arm")])
    multi_layout = si.write_layout(
        work / "multi",
        {
            "m": multi,
            **{
                f"c{i}": c
                for i, c in enumerate([python_image({"urllib3": "1.0.0"}, label="amd"), python_image({}, label="arm")])
            },
        },
    )
    skopeo_push(multi_layout, "m", f"{server.address}/{ORG}/multi:1", creds=creds, env=env, all_images=True)
    return found


@pytest.fixture(scope="module")
def client(server: ServerProcess, account: HssAccount) -> HssClient:
    client = hss_client(server, account.keys)
    answer = client.run_image_synchronize(
        RunImageSynchronizeRequest(body=RunImageSynchronizeRequestInfo(image_type="private_image"))
    )
    assert answer.error_code == 0
    return client


def rows(client: HssClient, **filters: Any) -> dict[str, Any]:
    answer = client.list_swr_image_repository(
        ListSwrImageRepositoryRequest(image_type="private_image", limit=200, namespace=ORG, **filters)
    )
    return {f"{r.image_name}:{r.image_version}": r for r in answer.data_list}


def wait_task(client: HssClient, task_id: str) -> Any:
    def ended() -> Any:
        found = client.list_image_scan_task(ListImageScanTaskRequest(task_id=task_id)).data_list
        return found[0] if found and found[0].task_status in (100, -1, -3) else None

    return wait_for(ended, what=f"task {task_id}")


def newest_task(client: HssClient) -> Any:
    return client.list_image_scan_task(ListImageScanTaskRequest(type="image_scan", limit=1)).data_list[0]


def test_synchronize_records_private_images(client: HssClient) -> None:
    listed = rows(client)
    assert set(listed) == {"app:1", "app:2", "app:3", "multi:1"}
    assert all(r.scan_status == "unscan" for r in listed.values())
    assert listed["app:3"].latest_version and not listed["app:1"].latest_version
    assert len(listed["multi:1"].association_images) == 2
    with pytest.raises(ClientRequestException) as refused:
        client.run_image_synchronize(
            RunImageSynchronizeRequest(body=RunImageSynchronizeRequestInfo(image_type="harbor"))
        )
    assert refused.value.status_code == 400


def test_batch_scan_of_listed_images(client: HssClient) -> None:
    client.batch_scan_swr_image(
        BatchScanSwrImageRequest(
            body=BatchScanPrivateImageRequestInfo(
                image_type="private_image",
                operate_all=False,
                image_info_list=[BatchScanSwrImageInfo(namespace=ORG, image_name="app", image_version="1")],
            )
        )
    )
    task = wait_task(client, newest_task(client).task_id)
    check_types(task)
    assert (task.task_status, task.total_num, task.success_num, task.failed_num, task.risky_num) == (100, 1, 1, 0, 1)
    assert (task.task_type, task.image_type, task.is_all) == ("manual", "registry", False)
    scanned = rows(client)["app:1"]
    assert (scanned.scan_status, scanned.vul_num) == ("success", 2)
    with pytest.raises(ClientRequestException) as missing:
        client.batch_scan_swr_image(
            BatchScanSwrImageRequest(
                body=BatchScanPrivateImageRequestInfo(
                    operate_all=False,
                    image_info_list=[BatchScanSwrImageInfo(namespace=ORG, image_name="nope", image_version="1")],
                )
            )
        )
    assert missing.value.status_code == 404


def test_manual_scan_of_everything_including_platform_images(client: HssClient) -> None:
    client.create_manual_image_scan_task(
        CreateManualImageScanTaskRequest(
            body=CreateManualImageScanTaskReqInfo(
                scan_scope=0x7FFFFFFF,
                is_all=True,
                query_info=CreateManualImageScanTaskReqInfoQueryInfo(image_type="private_image", namespace=ORG),
            )
        )
    )
    task = wait_task(client, newest_task(client).task_id)
    assert (task.task_status, task.total_num, task.success_num, task.is_all) == (100, 4, 4, True)
    listed = rows(client)
    assert {k: (r.scan_status, r.vul_num) for k, r in listed.items()} == {
        "app:1": ("success", 2),
        "app:2": ("success", 0),
        "app:3": ("success", 1),
        "multi:1": ("success", 1),
    }
    assert [a.scan_status for a in listed["multi:1"].association_images] == ["success", "success"]
    full = client.list_registry_images(ListRegistryImagesRequest(namespace=ORG, image_name="multi"))
    children = {a.image_digest: a.vul_num for a in full.data_list[0].association_images}
    assert sorted(children.values()) == [0, 1]
    by_id = client.create_manual_image_scan_task(
        CreateManualImageScanTaskRequest(
            body=CreateManualImageScanTaskReqInfo(
                is_all=False, image_info=[CreateManualImageScanTaskReqInfoImageInfo(id=listed["app:2"].id)]
            )
        )
    )
    assert by_id is not None
    assert wait_task(client, newest_task(client).task_id).success_num == 1


def test_task_list_filters(client: HssClient) -> None:
    everything = client.list_image_scan_task(ListImageScanTaskRequest(limit=200))
    assert everything.total_num >= 3
    for task in everything.data_list:
        check_types(task)
    manual = client.list_image_scan_task(ListImageScanTaskRequest(task_type="manual", type="image_scan"))
    assert manual.total_num == everything.total_num  # only manual scans so far
    assert client.list_image_scan_task(ListImageScanTaskRequest(task_type="cycle")).total_num == 0
    finished = client.list_image_scan_task(ListImageScanTaskRequest(task_status="finished", limit=200))
    assert finished.total_num == everything.total_num
    first = everything.data_list[-1]
    assert client.list_image_scan_task(ListImageScanTaskRequest(task_name=first.task_name[-6:])).total_num == 1
    assert client.list_image_scan_task(ListImageScanTaskRequest(create_time=first.begin_time + 10**9)).total_num == 0
    page = client.list_image_scan_task(ListImageScanTaskRequest(offset=1, limit=1))
    assert len(page.data_list) == 1 and page.data_list[0].task_id == everything.data_list[1].task_id
    with pytest.raises(ClientRequestException):
        client.list_image_scan_task(ListImageScanTaskRequest(task_status="sleeping"))


def test_stopping_a_task(client: HssClient) -> None:
    """One image per hour: the task scans one image, then waits; stopping it ends it and leaves the
    others as they were (not waiting)."""
    before = rows(client)
    client.create_manual_image_scan_task(
        CreateManualImageScanTaskRequest(
            body=CreateManualImageScanTaskReqInfo(
                is_all=False,
                rate_limit=1,
                image_info=[
                    CreateManualImageScanTaskReqInfoImageInfo(id=before[k].id) for k in ("app:1", "app:2", "app:3")
                ],
            )
        )
    )
    task_id = newest_task(client).task_id
    running = wait_for(
        lambda: next(
            (
                t
                for t in client.list_image_scan_task(ListImageScanTaskRequest(task_id=task_id)).data_list
                if t.success_num == 1
            ),
            None,
        ),
        what="the first image of the task",
    )
    assert running.task_status == 33 and running.remain_min == 120
    assert rows(client)["app:3"].scan_status == "waiting_for_scan"
    client.stop_image_scan_task(StopImageScanTaskRequest(task_id=task_id))
    stopped = wait_task(client, task_id)
    assert (stopped.task_status, stopped.success_num, stopped.failed_num, stopped.total_num) == (-1, 1, 0, 3)
    after = rows(client)
    assert after["app:2"].scan_status == after["app:3"].scan_status == "success"  # as before the task
    with pytest.raises(ClientRequestException) as missing:
        client.stop_image_scan_task(StopImageScanTaskRequest(task_id="0" * 32))
    assert missing.value.status_code == 404


def test_scheduled_scan_policy(client: HssClient, server: ServerProcess, account: HssAccount) -> None:
    default = client.list_image_scan_policy(ListImageScanPolicyRequest(global_image_type="registry"))
    check_types(default)
    assert (default.enabled, default.scan_cycle, default.is_all) == (False, 7, True)
    registry = next(r for r in default.registry_list if r.registry_type == "SwrPrivate")
    client.modify_image_scan_policy(
        ModifyImageScanPolicyRequest(
            body=CycleImageScanPolicyReqInfo(
                enabled=True,
                scan_cycle=3,
                scan_scope=0x000F0000,
                rate_limit=100,
                time_scope=7,
                registry_info=[
                    CycleImageScanPolicyReqInfoRegistryInfo(
                        registry_id=registry.registry_id, registry_type="SwrPrivate"
                    )
                ],
            )
        )
    )
    policy = client.list_image_scan_policy(ListImageScanPolicyRequest())
    assert (policy.enabled, policy.scan_cycle, policy.scan_scope, policy.rate_limit, policy.time_scope) == (
        True,
        3,
        0x000F0000,
        100,
        7,
    )
    selected = [r.is_selected for r in policy.registry_list if r.registry_id == registry.registry_id]
    assert not policy.is_all and selected == [True]
    with pytest.raises(ClientRequestException) as refused:
        client.modify_image_scan_policy(
            ModifyImageScanPolicyRequest(body=CycleImageScanPolicyReqInfo(enabled=True, scan_cycle=5))
        )
    assert refused.value.status_code == 400


def test_shared_images_are_synchronised_for_the_grantee(
    client: HssClient, server: ServerProcess, account: HssAccount, tmp_path: Path
) -> None:
    pending = [r for name, r in rows(client).items() if name.startswith("app:") and r.scan_status != "success"]
    if pending:  # with xdist this test may run on a worker where the scanning tests did not
        client.batch_scan_swr_image(
            BatchScanSwrImageRequest(
                body=BatchScanPrivateImageRequestInfo(
                    image_type="private_image",
                    operate_all=False,
                    image_info_list=[
                        BatchScanSwrImageInfo(namespace=ORG, image_name=r.image_name, image_version=r.image_version)
                        for r in pending
                    ],
                )
            )
        )
        wait_task(client, newest_task(client).task_id)
    grantee = new_account(server, "hss-grantee")
    token = iam_token(server, account.account)
    shared = httpx.post(
        f"{server.base_url}/v2/manage/namespaces/{ORG}/repositories/app/access-domains",
        headers={"X-Auth-Token": token},
        timeout=30,
        json={"access_domain": grantee.account.domain, "permit": "read", "deadline": "forever"},
    )
    assert shared.status_code in (200, 201), shared.text
    theirs = hss_client(server, grantee.keys)
    theirs.run_image_synchronize(
        RunImageSynchronizeRequest(body=RunImageSynchronizeRequestInfo(image_type="shared_image"))
    )
    answer = theirs.list_swr_image_repository(ListSwrImageRepositoryRequest(image_type="shared_image", limit=50))
    assert {f"{r.image_name}:{r.image_version}" for r in answer.data_list} == {"app:1", "app:2", "app:3"}
    for row in answer.data_list:
        assert (row.domain_name, row.shared_status, row.image_type, row.scannable) == (
            account.account.domain,
            "effective",
            "shared_image",
            True,
        )
        assert row.scan_status == "success"  # scanned by the owner: results are shared by digest
    assert theirs.list_swr_image_repository(ListSwrImageRepositoryRequest(image_type="private_image")).total_num == 0
