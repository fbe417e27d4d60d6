"""An execution in progress survives a server restart: the server (and the worker it started, in its
process group) is killed with SIGKILL half way through, started again on the same data, and the
execution completes with every subtask ``Succeed`` and exactly one signature per tag. And, on the
restarted server, an execution in progress can be stopped."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from huaweicloudsdkswr.v2 import ListInstanceSignatureExecutionSubtasksRequest, ListInstanceSignPolicyExecTasksRequest

from tests.conftest import DATABASES
from tests.enterprise import layouts
from tests.enterprise.conftest import StartServer
from tests.enterprise.support import (
    ADMIN,
    Enterprise,
    connect,
    create_instance,
    create_key,
    create_namespace,
    create_policy,
    execute,
    execution,
    push,
    unique,
    wait_execution,
)
from tests.support.servers import free_port

TAGS = [f"t{i:02d}" for i in range(20)]
PAUSE = {"MOORAGE_ENTERPRISE__SIGN_PAUSE_MS": "250"}  # 20 signatures take 5 s: time to kill it half way

pytestmark = pytest.mark.slow


def _tag_everything(host: str, digest_of_v1: str) -> None:
    """Point every tag of ``TAGS`` at the manifest of ``v1`` (through the OCI API)."""
    token = httpx.get(
        f"http://{host}/service/token",
        params={"scope": "repository:ns/app:pull,push"},
        auth=(ADMIN.name, ADMIN.password),
        timeout=30,
    ).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    manifest = httpx.get(
        f"http://{host}/v2/ns/app/manifests/{digest_of_v1}",
        headers={**headers, "Accept": layouts.OCI_MANIFEST},
        timeout=30,
    )
    for tag in TAGS:
        response = httpx.put(
            f"http://{host}/v2/ns/app/manifests/{tag}",
            content=manifest.content,
            timeout=30,
            headers={**headers, "Content-Type": layouts.OCI_MANIFEST},
        )
        assert response.status_code == 201, response.text


def _start_signing(ee: Enterprise, tmp_path: Path) -> tuple[str, int, int]:
    """An instance whose ns/app has the 20 tags of ``TAGS``, and a running execution signing them:
    (instance id, policy id, execution id)."""
    instance_id = create_instance(ee, unique("restart"), domain_name=ee.instance_address)
    create_namespace(ee, instance_id, "ns")
    layout = layouts.write_layout(tmp_path / "img", {"v1": "survivor"})
    push(layout, "v1", f"{ee.instance_address}/ns/app:v1")
    _tag_everything(ee.instance_address, layouts.manifest_digest("survivor"))
    key = create_key(ee, instance_id)
    policy_id = create_policy(ee, instance_id, "ns", key["id"], tags="t*")
    return instance_id, policy_id, execute(ee, instance_id, "ns", policy_id)


def _half_way(ee: Enterprise, instance_id: str, policy_id: int, execution_id: int) -> Any:
    """Wait until the execution is in progress with some but not most subtasks signed."""
    deadline = time.monotonic() + 60
    while True:
        state = execution(ee, instance_id, "ns", policy_id, execution_id)
        if state.status == "InProgress" and 2 <= state.succeed <= len(TAGS) - 5:
            return state
        assert state.status not in ("Succeed", "Failed", "Stopped"), f"finished too early: {state}"
        assert time.monotonic() < deadline, f"never got half way: {state}"
        time.sleep(0.05)


@pytest.mark.parametrize("database", DATABASES)
def test_execution_survives_sigkill_and_restart(
    ee_server_factory: StartServer, tmp_path: Path, request: pytest.FixtureRequest, database: str
) -> None:
    from tests.conftest import database_url_for

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    url = database_url_for(request, database, data_dir)
    port = free_port()
    server = ee_server_factory(data_dir=data_dir, port=port, database_url=url, env=PAUSE)
    ee = connect(server)
    instance_id, policy_id, execution_id = _start_signing(ee, tmp_path)
    state = _half_way(ee, instance_id, policy_id, execution_id)
    server.kill()
    done_before = state.succeed

    server = ee_server_factory(data_dir=data_dir, port=port, database_url=url, env=PAUSE)
    ee = connect(server)
    resumed = execution(ee, instance_id, "ns", policy_id, execution_id)
    # nothing was lost; the restarted job worker may have finished the rest before this first look
    # (15 signatures at 250 ms while a loaded machine answers slowly): a full run saw it Succeed
    assert resumed.status in ("InProgress", "Succeed") and resumed.succeed >= done_before, resumed
    finished = wait_execution(ee, instance_id, "ns", policy_id, execution_id, timeout=90)
    assert (finished.status, finished.total, finished.succeed, finished.failed) == ("Succeed", 20, 20, 0), finished

    tasks = ee.client.list_instance_sign_policy_exec_tasks(
        ListInstanceSignPolicyExecTasksRequest(
            instance_id=instance_id, namespace_name="ns", policy_id=policy_id, execution_id=execution_id
        )
    )
    assert [t.status for t in tasks.tasks] == ["Succeed"]
    subtasks = ee.client.list_instance_signature_execution_subtasks(
        ListInstanceSignatureExecutionSubtasksRequest(
            instance_id=instance_id,
            namespace_name="ns",
            policy_id=policy_id,
            execution_id=execution_id,
            task_id=tasks.tasks[0].id,
            offset=0,
            limit=100,
        )
    )
    assert subtasks.total == 20
    assert sorted(s.tags for s in subtasks.sub_tasks) == TAGS
    assert all(s.status == "Succeed" for s in subtasks.sub_tasks), [(s.tags, s.status) for s in subtasks.sub_tasks]
    # one signature per tag: the subtask interrupted by the kill was not signed twice
    from tests.support import skopeo

    digest = layouts.manifest_digest("survivor")
    signature = skopeo.inspect_raw(
        f"{ee.instance_address}/ns/app:sha256-{digest.split(':')[1]}.sig", creds=(ADMIN.name, ADMIN.password)
    )
    references = sorted(layer["digest"] for layer in signature["layers"])
    assert len(references) == len(set(references)) == 20

    # and, on the restarted server, an execution in progress can be stopped
    _stop_half_way(ee, instance_id, policy_id, execute(ee, instance_id, "ns", policy_id))


def _stop_half_way(ee: Enterprise, instance_id: str, policy_id: int, execution_id: int) -> None:
    """Stop an execution once it is half way; what was not signed ends ``Stopped``."""
    # the tags are signed already, so this execution finds them signed: "already signed" successes
    _half_way(ee, instance_id, policy_id, execution_id)
    path = (
        f"/v2/{ee.project}/instances/{instance_id}/namespaces/ns/signature/policies/{policy_id}/executions/"
        f"{execution_id}"
    )
    with ee.http() as api:
        response = api.put(path)
        assert response.status_code == 200, response.text
        deadline = time.monotonic() + 30
        while api.get(path).json()["status"] != "Stopped":
            assert time.monotonic() < deadline, api.get(path).json()
            time.sleep(0.1)
        stopped = api.get(path).json()
        assert api.put(path).status_code == 409  # already finished
    assert stopped["stopped"] > 0 and stopped["succeed"] + stopped["stopped"] == stopped["total"] == 20, stopped
    tasks = ee.client.list_instance_sign_policy_exec_tasks(
        ListInstanceSignPolicyExecTasksRequest(
            instance_id=instance_id, namespace_name="ns", policy_id=policy_id, execution_id=execution_id
        )
    )
    assert tasks.tasks[0].status == "Stopped"
    subtasks = ee.client.list_instance_signature_execution_subtasks(
        ListInstanceSignatureExecutionSubtasksRequest(
            instance_id=instance_id,
            namespace_name="ns",
            policy_id=policy_id,
            execution_id=execution_id,
            task_id=tasks.tasks[0].id,
            status="Stopped",
            limit=100,
        )
    )
    assert subtasks.total == stopped["stopped"] and {s.status for s in subtasks.sub_tasks} == {"Stopped"}
    assert all(s.status_text == "stopped on request" for s in subtasks.sub_tasks)
    done = ee.client.list_instance_signature_execution_subtasks(
        ListInstanceSignatureExecutionSubtasksRequest(
            instance_id=instance_id,
            namespace_name="ns",
            policy_id=policy_id,
            execution_id=execution_id,
            task_id=tasks.tasks[0].id,
            status="Succeed",
            limit=100,
        )
    )
    assert {s.status_text for s in done.sub_tasks} == {"already signed"}  # signed by the first execution
