"""The Enterprise Edition GC API through the official SDK, on SQLite and PostgreSQL: schedules (and
their invalid forms, which store nothing), runs started with ``execute_gc_schedule`` and done by the
job worker, their listing with markers and filters, one run with its log, stopping; an instance's
run frees its own garbage, measured on disk, and leaves another instance's and the shared
registry's alone."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkswr.v2 import (
    ExecuteGcScheduleRequest,
    ExecuteScheduleObj,
    ExecuteScheduleRequestBody,
    GcParameters,
    ListGcTasksRequest,
    ScheduleObj,
    ShowGcScheduleRequest,
    ShowGcTaskRequest,
    StopGcTaskRequest,
    UpdateGcScheduleRequest,
    UpdateScheduleRequestBody,
)

from tests.conftest import DATABASES
from tests.enterprise import layouts
from tests.enterprise.conftest import SECOND_INSTANCE_HOST, _starter
from tests.enterprise.support import Enterprise, connect, create_instance, create_namespace, unique, upload

GRACE = {"MOORAGE_GC__GRACE_SECONDS": "1", "MOORAGE_GC__SCHEDULE_CHECK_SECONDS": "1"}


@pytest.fixture(scope="module", params=DATABASES)
def ee(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Enterprise]:
    """One server per database for the module, with a one-second grace period."""
    start, started = _starter(request, tmp_path_factory.mktemp("ee-gc"))
    server = start(database=request.param, env=GRACE)
    try:
        yield connect(server)
    finally:
        for process in started:
            process.stop()


@pytest.fixture(scope="module")
def instances(ee: Enterprise) -> dict[str, str]:
    """Two instances with a namespace each, reachable on 127.0.0.5 and 127.0.0.6."""
    first = create_instance(ee, unique("gc-a"), domain_name=ee.instance_address)
    second = create_instance(ee, unique("gc-b"), domain_name=f"{SECOND_INSTANCE_HOST}:{ee.server.port}")
    create_namespace(ee, first, "team")
    create_namespace(ee, second, "team")
    return {"a": first, "b": second}


def _execute(ee: Enterprise, instance_id: str, **parameters: Any) -> int:
    response = ee.client.execute_gc_schedule(
        ExecuteGcScheduleRequest(
            instance_id=instance_id,
            body=ExecuteScheduleRequestBody(
                schedule=ExecuteScheduleObj(type="Manual"), parameters=GcParameters(**parameters)
            ),
        )
    )
    return int(response.id)


def _wait(ee: Enterprise, instance_id: str, gc_id: int, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = ee.client.show_gc_task(ShowGcTaskRequest(instance_id=instance_id, gc_id=gc_id))
        if task.job_status in ("Success", "Error", "Stopped"):
            return task
        time.sleep(0.2)
    raise AssertionError(f"gc {gc_id} did not finish:\n{ee.server.log()[-3000:]}")


def _blob_status(host: str, repository: str, digest: str) -> int:
    token = httpx.get(
        f"http://{host}/service/token",
        params={"scope": f"repository:{repository}:pull"},
        auth=("admin", "admin-password-1"),
        timeout=30,
    ).json()["token"]
    return httpx.head(
        f"http://{host}/v2/{repository}/blobs/{digest}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    ).status_code


def _delete_manifest(host: str, repository: str, digest: str) -> None:
    token = httpx.get(
        f"http://{host}/service/token",
        params={"scope": f"repository:{repository}:*"},
        auth=("admin", "admin-password-1"),
        timeout=30,
    ).json()["token"]
    deleted = httpx.delete(
        f"http://{host}/v2/{repository}/manifests/{digest}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert deleted.status_code == 202, deleted.text


def _stored_bytes(ee: Enterprise) -> int:
    root = Path(ee.server.data_dir) / "storage" / "blobs"
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def test_schedule_show_update_and_invalid_input(ee: Enterprise, instances: dict[str, str]) -> None:
    instance_id = instances["a"]
    shown = ee.client.show_gc_schedule(ShowGcScheduleRequest(instance_id=instance_id))
    assert (shown.schedule.type, shown.schedule.cron, shown.schedule.next_scheduled_time) == ("None", "", "")
    assert (shown.parameters.delete_untagged, shown.parameters.dry_run, shown.parameters.workers) == (False, False, 2)

    ee.client.update_gc_schedule(
        UpdateGcScheduleRequest(
            instance_id=instance_id,
            body=UpdateScheduleRequestBody(
                schedule=ScheduleObj(type="Custom", cron="0 30 2 * * 1"),
                parameters=GcParameters(delete_untagged=True, workers=3, dry_run=False),
            ),
        )
    )
    shown = ee.client.show_gc_schedule(ShowGcScheduleRequest(instance_id=instance_id))
    assert (shown.schedule.type, shown.schedule.cron) == ("Custom", "0 30 2 * * 1")
    assert shown.schedule.next_scheduled_time.endswith("T02:30:00.000Z")
    assert (shown.parameters.delete_untagged, shown.parameters.workers) == (True, 3)

    bad = [
        (ScheduleObj(type="Custom", cron="61 * * * * *"), None, "out of range"),
        (ScheduleObj(type="Custom", cron="0 0 * * *"), None, "six fields"),
        (ScheduleObj(type="Custom", cron="every day"), None, "six fields"),
        (ScheduleObj(type="Custom", cron=""), None, "needs a cron"),
        (ScheduleObj(type="Daily", cron="0 0 0 * * *"), None, "None or Custom"),
        (ScheduleObj(type="Custom", cron="0 0 0 * * *"), GcParameters(workers=0), "workers"),
        (ScheduleObj(type="Custom", cron="0 0 0 * * *"), GcParameters(workers=6), "workers"),
        (ScheduleObj(type="Custom", cron="0 0 0 * * *"), GcParameters(workers=-1), "workers"),
    ]
    for schedule, parameters, words in bad:
        with pytest.raises(ClientRequestException) as caught:
            ee.client.update_gc_schedule(
                UpdateGcScheduleRequest(
                    instance_id=instance_id, body=UpdateScheduleRequestBody(schedule=schedule, parameters=parameters)
                )
            )
        assert caught.value.status_code == 400, (schedule, parameters)
        assert caught.value.error_code.startswith("SVCSTG.SWR.400") and words in caught.value.error_msg
    unchanged = ee.client.show_gc_schedule(ShowGcScheduleRequest(instance_id=instance_id))
    assert (unchanged.schedule.cron, unchanged.parameters.workers) == ("0 30 2 * * 1", 3)  # nothing stored

    ee.client.update_gc_schedule(
        UpdateGcScheduleRequest(
            instance_id=instance_id, body=UpdateScheduleRequestBody(schedule=ScheduleObj(type="None"))
        )
    )
    shown = ee.client.show_gc_schedule(ShowGcScheduleRequest(instance_id=instance_id))
    assert (shown.schedule.type, shown.schedule.cron, shown.schedule.next_scheduled_time) == ("None", "", "")
    assert shown.parameters.workers == 3  # the parameters stay when only the schedule changes


def _layers(content: str) -> tuple[str, dict[str, bytes]]:
    """(manifest digest, the blobs other than the manifest) of ``layouts.image_blobs(content)``."""
    manifest, blobs = layouts.image_blobs(content)
    return _sha(manifest), {d: data for d, data in blobs.items() if data != manifest}


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_a_run_frees_the_instances_garbage_only(ee: Enterprise, instances: dict[str, str]) -> None:
    a_host, b_host, shared_host = ee.instance_address, f"{SECOND_INSTANCE_HOST}:{ee.server.port}", ee.server.address
    contents = {
        "kept": "kept in a",
        "a": "dropped in a " * 300,
        "b": "dropped in b " * 300,
        "shared": "dropped in the shared registry " * 300,
    }
    upload(a_host, "team/app", {"keep": contents["kept"], "drop": contents["a"]})
    upload(b_host, "team/app", {"drop": contents["b"]})
    upload(shared_host, "shared/app", {"drop": contents["shared"]})
    for host, repository, key in (
        (a_host, "team/app", "a"),
        (b_host, "team/app", "b"),
        (shared_host, "shared/app", "shared"),
    ):
        _delete_manifest(host, repository, _layers(contents[key])[0])
    time.sleep(1.5)  # past the grace period
    before = _stored_bytes(ee)

    gc_id = _execute(ee, instances["a"], delete_untagged=False, workers=2, dry_run=False)
    task = _wait(ee, instances["a"], gc_id)

    freed = _layers(contents["a"])[1]
    assert task.job_status == "Success" and task.job_kind == "MANUAL" and task.job_name == "GARBAGE_COLLECTION"
    assert (task.job_parameters.purged_blobs, task.job_parameters.purged_manifests) == (len(freed), 0)
    assert task.job_parameters.freed_space == sum(map(len, freed.values())) == before - _stored_bytes(ee)
    assert (task.job_parameters.delete_untagged, task.job_parameters.workers, task.job_parameters.dry_run) == (
        False,
        2,
        False,
    )
    assert task.creation_time.endswith("Z") and task.update_time >= task.creation_time
    assert all(_blob_status(a_host, "team/app", digest) == 404 for digest in freed)
    assert all(_blob_status(a_host, "team/app", digest) == 200 for digest in _layers(contents["kept"])[1])
    # another instance's garbage, and the shared registry's, are not this instance's business
    assert all(_blob_status(b_host, "team/app", digest) == 200 for digest in _layers(contents["b"])[1])
    assert all(_blob_status(shared_host, "shared/app", d) == 200 for d in _layers(contents["shared"])[1])
    with ee.http() as api:
        detail = api.get(f"/v2/{ee.project}/instances/{instances['a']}/system/gc/{gc_id}")
        text = api.get(f"/v2/{ee.project}/instances/{instances['a']}/system/gc/{gc_id}/log")
    assert detail.status_code == 200 and text.status_code == 200
    log = detail.json()["log"]
    assert "collecting instance" in log[0] and "[summary] finished" in log[-1]
    assert sum(1 for line in log if "deleted (" in line and "blob sha256:" in line) == len(freed)
    assert text.text.splitlines() == log


def test_listing_stopping_and_errors(ee: Enterprise, instances: dict[str, str]) -> None:
    instance_id = instances["b"]
    ids = [_wait(ee, instance_id, _execute(ee, instance_id, dry_run=True)).id for _ in range(3)]
    first = ee.client.list_gc_tasks(ListGcTasksRequest(instance_id=instance_id, limit=2))
    assert [t.id for t in first.tasks] == sorted(ids, reverse=True)[:2]
    assert first.page_info.next_marker == str(first.tasks[-1].id)
    rest = ee.client.list_gc_tasks(
        ListGcTasksRequest(instance_id=instance_id, limit=2, marker=first.page_info.next_marker)
    )
    assert [t.id for t in rest.tasks][:1] == [sorted(ids, reverse=True)[2]]
    everything = ee.client.list_gc_tasks(ListGcTasksRequest(instance_id=instance_id))
    assert everything.page_info.next_marker is None and len(everything.tasks) <= 10
    assert all(t.job_parameters.dry_run for t in everything.tasks if t.id in ids)
    assert ee.client.list_gc_tasks(ListGcTasksRequest(instance_id=instance_id, status="Error")).tasks == []
    assert {
        t.id
        for t in ee.client.list_gc_tasks(ListGcTasksRequest(instance_id=instance_id, status="Success", limit=100)).tasks
    } >= set(ids)
    for query, words in (
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"status": "Done"}, "status"),
        ({"marker": "abc"}, "marker"),
    ):
        with pytest.raises(ClientRequestException) as caught:
            ee.client.list_gc_tasks(ListGcTasksRequest(instance_id=instance_id, **query))
        assert caught.value.status_code == 400 and words in caught.value.error_msg, query

    with pytest.raises(ClientRequestException) as caught:
        ee.client.stop_gc_task(StopGcTaskRequest(instance_id=instance_id, gc_id=ids[0]))
    assert caught.value.status_code == 409  # finished
    with pytest.raises(ClientRequestException) as caught:
        ee.client.show_gc_task(ShowGcTaskRequest(instance_id=instances["a"], gc_id=ids[0]))
    assert caught.value.status_code == 404  # another instance's run
    with pytest.raises(ClientRequestException) as caught:
        ee.client.show_gc_task(ShowGcTaskRequest(instance_id=instance_id, gc_id=999999))
    assert caught.value.status_code == 404
    with pytest.raises(ClientRequestException) as caught:
        ee.client.execute_gc_schedule(
            ExecuteGcScheduleRequest(
                instance_id=instance_id,
                body=ExecuteScheduleRequestBody(schedule=ExecuteScheduleObj(type="Custom"), parameters=GcParameters()),
            )
        )
    assert caught.value.status_code == 400
    with pytest.raises(ClientRequestException) as caught:
        _execute(ee, instance_id, workers=9)
    assert caught.value.status_code == 400 and "workers" in caught.value.error_msg


def test_a_custom_schedule_starts_runs(ee: Enterprise, instances: dict[str, str]) -> None:
    instance_id = instances["b"]
    ee.client.update_gc_schedule(
        UpdateGcScheduleRequest(
            instance_id=instance_id,
            body=UpdateScheduleRequestBody(
                schedule=ScheduleObj(type="Custom", cron="*/2 * * * * *"),
                parameters=GcParameters(dry_run=True, workers=1),
            ),
        )
    )
    deadline = time.monotonic() + 60
    scheduled: list[Any] = []
    while time.monotonic() < deadline and not scheduled:
        time.sleep(0.5)
        scheduled = [
            t
            for t in ee.client.list_gc_tasks(ListGcTasksRequest(instance_id=instance_id)).tasks
            if t.job_kind == "SCHEDULE"
        ]
    ee.client.update_gc_schedule(
        UpdateGcScheduleRequest(
            instance_id=instance_id, body=UpdateScheduleRequestBody(schedule=ScheduleObj(type="None"))
        )
    )
    assert scheduled, ee.server.log()[-3000:]
    finished = _wait(ee, instance_id, scheduled[0].id)
    assert finished.job_status == "Success" and finished.job_parameters.dry_run


def test_hostile_requests_get_a_clear_400_and_change_nothing(ee: Enterprise, instances: dict[str, str]) -> None:
    base = f"/v2/{ee.project}/instances/{instances['a']}/system/gc"
    with ee.http() as api:
        before = api.get(base + "/schedule").json()
        for body in (
            {"schedule": {"type": "Custom", "cron": "0 " * 100}},
            {"schedule": "Custom"},
            {"schedule": {"type": "Custom", "cron": "0 0 0 * * *"}, "parameters": {"workers": "many"}},
            {"schedule": {"type": "Custom", "cron": "0 0 0 * * *"}, "parameters": {"workers": 2**70}},
            {"schedule": {"type": "Custom", "cron": "0-59/0 * * * * *"}},
            {},
        ):
            answer = api.put(base + "/schedule", json=body)
            assert answer.status_code == 400 and answer.json()["error_code"].startswith("SVCSTG.SWR.400"), body
        assert api.get(base + "/schedule").json() == before
        for query in ({"marker": "²³"}, {"marker": "9" * 40}, {"limit": "abc"}, {"status": "x" * 100}):
            assert api.get(base, params=query).status_code == 400, query
        for gc_id, status in (("9" * 30, 400), (str(2**63), 400), ("-1", 400), ("0", 404)):  # never a 500
            for method in ("GET", "PUT"):
                assert api.request(method, f"{base}/{gc_id}").status_code == status, (method, gc_id)
            assert api.get(f"{base}/{gc_id}/log").status_code == status, gc_id
        assert (
            api.post(
                base + "/schedule", json={"schedule": {"type": "Manual"}, "parameters": {"dry_run": "maybe"}}
            ).status_code
            == 400
        )
