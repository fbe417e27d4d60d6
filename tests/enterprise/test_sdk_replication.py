"""Enterprise Edition replication through the official SDK, on SQLite and PostgreSQL: registries
(a credential check on create: a wrong password and an unreachable address are 400s that say so;
the password is never returned), policies (bad input is a 400 and nothing is stored), and
executions run by the server's worker between two instances of one server (instance A on
127.0.0.5, instance B on 127.0.0.6, B reached as a registry over HTTP on loopback): push-based
manual with filters and flattening, pull-based, event-based on push and delete, and a stop of a
running execution with its tasks and subtasks."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkswr.v2 import (
    CreateInstanceRegistryRequest,
    CreateInstanceReplicationPolicyRequest,
    CreateRegistryRequestBody,
    CreateReplicationExecutionRequestBody,
    CreateReplicationPolicyRequestBody,
    Credential,
    DeleteInstanceRegistryRequest,
    DeleteInstanceReplicationPolicyRequest,
    ExecuteInstanceReplicationPolicyRequest,
    Filter,
    ListInstanceRegistriesRequest,
    ListInstanceReplicationPoliciesRequest,
    ListInstanceReplicationPolicyExecSubTasksRequest,
    ListInstanceReplicationPolicyExecTasksRequest,
    ListInstanceReplicationPolicyExecutionsRequest,
    ReplicationRegistry,
    ShowInstanceRegistryRequest,
    ShowInstanceReplicationPolicyRequest,
    StopInstanceReplicationPolicyExecutionRequest,
    TriggerConfig,
    TriggerSetting,
    UpdateInstanceRegistryRequest,
    UpdateInstanceReplicationPolicyRequest,
    UpdateRegistryRequestBody,
    UpdateReplicationPolicyRequestBody,
)

from tests.api.swr.conftest import assert_sdk_types
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.enterprise.conftest import SECOND_INSTANCE_HOST
from tests.enterprise.support import FINISHED, Enterprise, create_instance, create_namespace, unique, upload
from tests.support.servers import free_port


@pytest.fixture(scope="module")
def world(ee: Enterprise) -> dict[str, Any]:
    """Instance A (127.0.0.5, namespaces ``src`` and ``local``) and instance B (127.0.0.6,
    namespaces ``mirror`` and ``remote``); B is registry ``b`` of A."""
    a = create_instance(ee, unique("a"), domain_name=ee.instance_address)
    b_host = f"{SECOND_INSTANCE_HOST}:{ee.server.port}"
    b = create_instance(ee, unique("b"), domain_name=b_host)
    for name in ("src", "local"):
        create_namespace(ee, a, name)
    for name in ("mirror", "remote"):
        create_namespace(ee, b, name)
    registry = create_registry(ee, a, unique("b"), f"http://{b_host}")
    return {"a": a, "b": b, "a_host": ee.instance_address, "b_host": b_host, "registry": registry}


def create_registry(ee: Enterprise, instance_id: str, name: str, url: str, password: str = ADMIN_PASSWORD) -> int:
    created = ee.client.create_instance_registry(
        CreateInstanceRegistryRequest(
            instance_id=instance_id,
            body=CreateRegistryRequestBody(
                name=name,
                type="swr-pro-internal",
                url=url,
                credential=Credential(type="basic", access_key=ADMIN_USER, access_secret=password),
                insecure=False,
            ),
        )
    )
    return int(created.id)


def create_policy(ee: Enterprise, instance_id: str, **fields: Any) -> int:
    body = {"name": unique("policy"), "enabled": True, "trigger": {"type": "manual"}, **fields}
    with ee.http() as api:
        answer = api.post(f"/v2/{ee.project}/instances/{instance_id}/replication/policies", json=body)
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def execute(ee: Enterprise, instance_id: str, policy_id: int) -> int:
    answer = ee.client.execute_instance_replication_policy(
        ExecuteInstanceReplicationPolicyRequest(
            instance_id=instance_id, body=CreateReplicationExecutionRequestBody(policy_id=policy_id)
        )
    )
    return int(answer.id)


def executions(ee: Enterprise, instance_id: str, policy_id: int) -> list[Any]:
    found = ee.client.list_instance_replication_policy_executions(
        ListInstanceReplicationPolicyExecutionsRequest(instance_id=instance_id, policy_id=policy_id, limit=100)
    )
    return list(found.executions)


def wait_execution(ee: Enterprise, instance_id: str, policy_id: int, execution_id: int, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = next((e for e in executions(ee, instance_id, policy_id) if e.id == execution_id), None)
        if found is not None and found.status in FINISHED:
            return found
        time.sleep(0.2)
    raise AssertionError(f"execution {execution_id} did not finish:\n{ee.server.log()[-4000:]}")


def tasks(ee: Enterprise, instance_id: str, execution_id: int) -> list[Any]:
    found = ee.client.list_instance_replication_policy_exec_tasks(
        ListInstanceReplicationPolicyExecTasksRequest(instance_id=instance_id, execution_id=execution_id, limit=100)
    )
    return list(found.tasks)


def tags_of(host: str, repository: str) -> set[str]:
    token = httpx.get(
        f"http://{host}/service/token",
        params={"scope": f"repository:{repository}:pull"},
        auth=(ADMIN_USER, ADMIN_PASSWORD),
        timeout=30,
    ).json()["token"]
    answer = httpx.get(
        f"http://{host}/v2/{repository}/tags/list", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    if answer.status_code == 404:
        return set()
    assert answer.status_code == 200, answer.text
    return set(answer.json()["tags"] or [])


def digest_of(host: str, repository: str, tag: str) -> str:
    token = httpx.get(
        f"http://{host}/service/token",
        params={"scope": f"repository:{repository}:pull"},
        auth=(ADMIN_USER, ADMIN_PASSWORD),
        timeout=30,
    ).json()["token"]
    answer = httpx.head(
        f"http://{host}/v2/{repository}/manifests/{tag}",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.oci.image.manifest.v1+json"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer.headers["docker-content-digest"]


def wait_for(check: Any, what: str, ee: Enterprise, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen:\n{ee.server.log()[-4000:]}")


# Registries ---------------------------------------------------------------------------------------
def test_registry_lifecycle_and_credential_check(ee: Enterprise, world: dict[str, Any]) -> None:
    a = world["a"]
    with pytest.raises(ClientRequestException) as wrong:
        create_registry(ee, a, unique("wrong"), f"http://{world['b_host']}", password="not-the-password")
    assert wrong.value.status_code == 400
    assert "authentication" in wrong.value.error_msg.lower() or "credential" in wrong.value.error_msg.lower()
    with pytest.raises(ClientRequestException) as closed:
        create_registry(ee, a, unique("closed"), f"http://127.0.0.1:{free_port()}")
    assert closed.value.status_code == 400
    assert "reach" in closed.value.error_msg.lower()

    name = unique("reg")
    registry_id = create_registry(ee, a, name, f"http://{world['b_host']}")
    shown = ee.client.show_instance_registry(ShowInstanceRegistryRequest(instance_id=a, registry_id=registry_id))
    assert_sdk_types(shown)
    assert (shown.name, shown.type, shown.url, shown.status) == (
        name,
        "swr-pro-internal",
        f"http://{world['b_host']}",
        "healthy",
    )
    assert shown.credential.access_key == ADMIN_USER
    assert shown.credential.access_secret == "******"
    assert ADMIN_PASSWORD not in ee.server.log()

    listed = ee.client.list_instance_registries(ListInstanceRegistriesRequest(instance_id=a, name=name))
    assert listed.total == 1 and listed.registries[0].id == registry_id
    everything = ee.client.list_instance_registries(ListInstanceRegistriesRequest(instance_id=a))
    assert {r.id for r in everything.registries} >= {registry_id, world["registry"]}

    ee.client.update_instance_registry(
        UpdateInstanceRegistryRequest(
            instance_id=a, registry_id=registry_id, body=UpdateRegistryRequestBody(description="site B")
        )
    )
    with pytest.raises(ClientRequestException) as bad_update:
        ee.client.update_instance_registry(
            UpdateInstanceRegistryRequest(
                instance_id=a,
                registry_id=registry_id,
                body=UpdateRegistryRequestBody(
                    credential=Credential(type="basic", access_key=ADMIN_USER, access_secret="wrong-again")
                ),
            )
        )
    assert bad_update.value.status_code == 400
    shown = ee.client.show_instance_registry(ShowInstanceRegistryRequest(instance_id=a, registry_id=registry_id))
    assert shown.description == "site B"

    policy_id = create_policy(ee, a, dest_registry={"id": registry_id}, dest_namespace="mirror")
    with pytest.raises(ClientRequestException) as in_use:
        ee.client.delete_instance_registry(DeleteInstanceRegistryRequest(instance_id=a, registry_id=registry_id))
    assert in_use.value.status_code == 409
    ee.client.delete_instance_replication_policy(
        DeleteInstanceReplicationPolicyRequest(instance_id=a, policy_id=policy_id)
    )
    ee.client.delete_instance_registry(DeleteInstanceRegistryRequest(instance_id=a, registry_id=registry_id))
    with pytest.raises(ClientRequestException) as gone:
        ee.client.show_instance_registry(ShowInstanceRegistryRequest(instance_id=a, registry_id=registry_id))
    assert gone.value.status_code == 404


# Policies -----------------------------------------------------------------------------------------
def test_policy_lifecycle(ee: Enterprise, world: dict[str, Any]) -> None:
    a, registry = world["a"], world["registry"]
    name = unique("life")
    created = ee.client.create_instance_replication_policy(
        CreateInstanceReplicationPolicyRequest(
            instance_id=a,
            body=CreateReplicationPolicyRequestBody(
                name=name,
                description="to B",
                src_registry=ReplicationRegistry(id=0),
                dest_registry=ReplicationRegistry(id=registry),
                dest_namespace="mirror",
                filters=[Filter(type="name", value="src/**"), Filter(type="tag", value="{v1*,latest}")],
                repo_scope_mode="regular",
                trigger=TriggerConfig(type="scheduled", trigger_settings=TriggerSetting(cron="0 0 3 * * *")),
                override=True,
                enabled=False,
            ),
        )
    )
    policy_id = int(created.id)
    shown = ee.client.show_instance_replication_policy(
        ShowInstanceReplicationPolicyRequest(instance_id=a, policy_id=policy_id)
    )
    assert_sdk_types(shown)
    assert (shown.name, shown.description, shown.dest_namespace, shown.override, shown.enabled) == (
        name,
        "to B",
        "mirror",
        True,
        False,
    )
    assert (shown.src_registry.id, shown.dest_registry.id) == (0, registry)
    assert [(f.type, f.value) for f in shown.filters] == [("name", "src/**"), ("tag", "{v1*,latest}")]
    assert (shown.trigger.type, shown.trigger.trigger_settings.cron) == ("scheduled", "0 0 3 * * *")
    extras = shown.to_json_object() if hasattr(shown, "to_json_object") else {}
    del extras

    ee.client.update_instance_replication_policy(
        UpdateInstanceReplicationPolicyRequest(
            instance_id=a,
            policy_id=policy_id,
            body=UpdateReplicationPolicyRequestBody(
                enabled=True, trigger=TriggerConfig(type="event_based"), filters=[Filter(type="name", value="src/*")]
            ),
        )
    )
    shown = ee.client.show_instance_replication_policy(
        ShowInstanceReplicationPolicyRequest(instance_id=a, policy_id=policy_id)
    )
    assert (shown.enabled, shown.trigger.type, [f.value for f in shown.filters]) == (True, "event_based", ["src/*"])
    with ee.http() as api:
        raw = api.get(f"/v2/{ee.project}/instances/{a}/replication/policies/{policy_id}").json()
    assert (raw["dest_namespace_replace_count"], raw["replicate_deletion"], raw["speed"], raw["copy_by_chunk"]) == (
        -1,
        False,
        -1,
        False,
    )

    listed = ee.client.list_instance_replication_policies(
        ListInstanceReplicationPoliciesRequest(instance_id=a, name=name)
    )
    assert listed.total == 1 and listed.policies[0].id == policy_id
    by_registry = ee.client.list_instance_replication_policies(
        ListInstanceReplicationPoliciesRequest(instance_id=a, registry_id=registry, limit=100)
    )
    assert policy_id in {p.id for p in by_registry.policies}
    ee.client.update_instance_replication_policy(
        UpdateInstanceReplicationPolicyRequest(
            instance_id=a, policy_id=policy_id, body=UpdateReplicationPolicyRequestBody(enabled=False)
        )
    )

    ee.client.delete_instance_replication_policy(
        DeleteInstanceReplicationPolicyRequest(instance_id=a, policy_id=policy_id)
    )
    with pytest.raises(ClientRequestException) as gone:
        ee.client.show_instance_replication_policy(
            ShowInstanceReplicationPolicyRequest(instance_id=a, policy_id=policy_id)
        )
    assert gone.value.status_code == 404


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"dest_registry": {"id": 0}}, "exactly one"),
        ({"trigger": {"type": "scheduled", "trigger_settings": {"cron": "not a cron"}}}, "cron"),
        ({"trigger": {"type": "sometimes"}}, "trigger type"),
        ({"filters": [{"type": "colour", "value": "red"}]}, "filter"),
        ({"filters": [{"type": "name", "value": "a" * 600}]}, "at most 512"),
        ({"dest_namespace_replace_count": 7}, "dest_namespace_replace_count"),
        ({"speed": 0}, "speed"),
        ({"name": "no spaces"}, "name"),
        ({"dest_registry": {"id": 999999}}, "not found"),
    ],
)
def test_bad_policies_are_refused_and_nothing_is_stored(
    ee: Enterprise, world: dict[str, Any], fields: dict[str, Any], says: str
) -> None:
    a = world["a"]
    name = unique("bad")
    body = {"name": name, "dest_registry": {"id": world["registry"]}, "trigger": {"type": "manual"}, **fields}
    with ee.http() as api:
        answer = api.post(f"/v2/{ee.project}/instances/{a}/replication/policies", json=body)
        assert answer.status_code in (400, 404), answer.text
        assert says in answer.json()["error_msg"], answer.text
        listed = api.get(f"/v2/{ee.project}/instances/{a}/replication/policies", params={"name": body["name"]})
    assert listed.json()["total"] == 0


def test_event_based_needs_a_push_based_policy(ee: Enterprise, world: dict[str, Any]) -> None:
    with ee.http() as api:
        answer = api.post(
            f"/v2/{ee.project}/instances/{world['a']}/replication/policies",
            json={
                "name": unique("pull"),
                "src_registry": {"id": world["registry"]},
                "trigger": {"type": "event_based"},
            },
        )
    assert answer.status_code == 400 and "push-based" in answer.json()["error_msg"], answer.text


# Executions ---------------------------------------------------------------------------------------
def test_push_based_manual_execution_with_filters_and_flattening(ee: Enterprise, world: dict[str, Any]) -> None:
    a, b_host = world["a"], world["b_host"]
    upload(world["a_host"], "src/team/app", {"v1.0": "app one", "v1.1": "app two", "v2.0": "app three"})
    upload(world["a_host"], "src/other", {"v1.0": "other one"})
    policy_id = create_policy(
        ee,
        a,
        dest_registry={"id": world["registry"]},
        dest_namespace="mirror",
        dest_namespace_replace_count=1,
        filters=[{"type": "name", "value": "src/team/**"}, {"type": "tag", "value": "v1.*"}],
    )
    execution_id = execute(ee, a, policy_id)
    done = wait_execution(ee, a, policy_id, execution_id)
    assert_sdk_types(done)
    assert (done.status, done.total, done.succeed, done.failed, done.trigger) == ("Succeed", 2, 2, 0, "manual"), (
        done.status_text
    )
    assert tags_of(b_host, "mirror/team/app") == {"v1.0", "v1.1"}
    assert tags_of(b_host, "mirror/other") == set()
    assert digest_of(b_host, "mirror/team/app", "v1.0") == digest_of(world["a_host"], "src/team/app", "v1.0")

    found = tasks(ee, a, execution_id)
    assert sorted((t.src_resource, t.dst_resource, t.operation, t.status) for t in found) == [
        ("src/team/app:v1.0", f"{b_host}/mirror/team/app:v1.0", "copy", "Succeed"),
        ("src/team/app:v1.1", f"{b_host}/mirror/team/app:v1.1", "copy", "Succeed"),
    ]
    assert_sdk_types(found[0])
    subtasks = ee.client.list_instance_replication_policy_exec_sub_tasks(
        ListInstanceReplicationPolicyExecSubTasksRequest(
            instance_id=a, execution_id=execution_id, task_id=found[0].id, status="Succeed"
        )
    )
    assert subtasks.total >= 3  # the manifest, its config and at least one layer
    assert {s.repository for s in subtasks.sub_tasks} == {"team/app"}
    assert any(s.status_text == "manifest sent" for s in subtasks.sub_tasks)
    assert_sdk_types(subtasks.sub_tasks[0])

    again = wait_execution(ee, a, policy_id, execute(ee, a, policy_id))
    assert again.status == "Succeed"
    rerun = tasks(ee, a, again.id)
    blobs = ee.client.list_instance_replication_policy_exec_sub_tasks(
        ListInstanceReplicationPolicyExecSubTasksRequest(instance_id=a, execution_id=again.id, task_id=rerun[0].id)
    )
    assert not any(s.status_text.startswith("blob sent") for s in blobs.sub_tasks)  # nothing sent twice


def test_pull_based_execution(ee: Enterprise, world: dict[str, Any]) -> None:
    a = world["a"]
    upload(world["b_host"], "remote/tool", {"1.0": "tool one", "2.0": "tool two"})
    policy_id = create_policy(
        ee,
        a,
        src_registry={"id": world["registry"]},
        dest_namespace="local",
        filters=[{"type": "name", "value": "remote/tool"}],
    )
    done = wait_execution(ee, a, policy_id, execute(ee, a, policy_id))
    assert (done.status, done.total) == ("Succeed", 2), done
    assert tags_of(world["a_host"], "local/tool") == {"1.0", "2.0"}
    assert digest_of(world["a_host"], "local/tool", "2.0") == digest_of(world["b_host"], "remote/tool", "2.0")


def test_event_based_push_and_delete(ee: Enterprise, world: dict[str, Any]) -> None:
    a, a_host, b_host = world["a"], world["a_host"], world["b_host"]
    policy_id = create_policy(
        ee,
        a,
        dest_registry={"id": world["registry"]},
        dest_namespace="mirror",
        dest_namespace_replace_count=0,
        filters=[{"type": "name", "value": "src/events/**"}],
        trigger={"type": "event_based"},
        replicate_deletion=True,
    )
    upload(a_host, "src/events/web", {"1.0": "event one"})
    wait_for(lambda: "1.0" in tags_of(b_host, "mirror/src/events/web"), "the event-based copy", ee)
    found = executions(ee, a, policy_id)
    assert [e.trigger for e in found] == ["event_based"]

    with ee.http() as api:
        deleted = api.delete(f"/v2/instances/{a}/namespaces/src/repositories/events$web/tags/1.0")
    assert deleted.status_code in (200, 204), deleted.text
    wait_for(lambda: "1.0" not in tags_of(b_host, "mirror/src/events/web"), "the replicated delete", ee)
    for execution in executions(ee, a, policy_id):
        wait_execution(ee, a, policy_id, execution.id)
    operations = sorted(t.operation for e in executions(ee, a, policy_id) for t in tasks(ee, a, e.id))
    assert operations == ["copy", "deletion"]

    # each execution's start and end are audited (and are REPLICATION events for webhook policies)
    with ee.http() as api:
        logs = api.get(f"/v2/{ee.project}/instances/{a}/audit-logs", params={"limit": 100}).json()["audit_logs"]
        name = api.get(f"/v2/{ee.project}/instances/{a}/replication/policies/{policy_id}").json()["name"]
    replication = [(log["operation"], log["resource_type"]) for log in logs if log["resource"].startswith(f"{name}#")]
    assert replication.count(("create", "replication")) == 2 and replication.count(("update", "replication")) == 2
    kinds = {log["resource_type"] for log in logs}
    assert {"replication_policy", "replication_registry"} <= kinds


def test_scheduled_policy_runs_on_its_cron(ee: Enterprise, world: dict[str, Any]) -> None:
    a = world["a"]
    policy_id = create_policy(
        ee,
        a,
        dest_registry={"id": world["registry"]},
        dest_namespace="mirror",
        filters=[{"type": "name", "value": "src/nothing-here"}],
        trigger={"type": "scheduled", "trigger_settings": {"cron": "* * * * * *"}},
    )
    wait_for(lambda: any(e.trigger == "scheduled" for e in executions(ee, a, policy_id)), "a scheduled run", ee)
    with ee.http() as api:
        api.put(f"/v2/{ee.project}/instances/{a}/replication/policies/{policy_id}", json={"enabled": False})
    first = executions(ee, a, policy_id)[0]
    done = wait_execution(ee, a, policy_id, first.id)
    assert (done.status, done.total, done.status_text) == ("Succeed", 0, "nothing to replicate")


def test_stop_a_running_execution(ee: Enterprise, world: dict[str, Any]) -> None:
    a = world["a"]
    upload(world["a_host"], "src/slow", {f"s{i}": f"slow image {i} " + "x" * 20_000 for i in range(6)})
    policy_id = create_policy(
        ee,
        a,
        dest_registry={"id": world["registry"]},
        dest_namespace="mirror",
        filters=[{"type": "name", "value": "src/slow"}],
        speed=2,  # KiB/s: each image takes seconds
    )
    execution_id = execute(ee, a, policy_id)
    wait_for(lambda: any(t.status == "InProgress" for t in tasks(ee, a, execution_id)), "the first task's start", ee)
    ee.client.stop_instance_replication_policy_execution(
        StopInstanceReplicationPolicyExecutionRequest(instance_id=a, execution_id=execution_id)
    )
    done = wait_execution(ee, a, policy_id, execution_id, timeout=30)
    assert done.status == "Stopped", done
    statuses = [t.status for t in tasks(ee, a, execution_id)]
    assert "Stopped" in statuses and statuses.count("Succeed") < 6
    with pytest.raises(ClientRequestException) as finished:
        ee.client.stop_instance_replication_policy_execution(
            StopInstanceReplicationPolicyExecutionRequest(instance_id=a, execution_id=execution_id)
        )
    assert finished.value.status_code == 409


def test_bandwidth_limit_and_chunked_upload(ee: Enterprise, world: dict[str, Any]) -> None:
    """``speed`` bounds the execution's blob bytes per second; ``copy_by_chunk`` sends them in
    ``PATCH`` chunks (the destination's digests are the source's all the same)."""
    a, b_host = world["a"], world["b_host"]
    noise = secrets.token_hex(256 * 1024)  # the layer (~256 KiB gzipped) and the config (~512 KiB) hold it
    upload(world["a_host"], "src/big", {"1": noise})
    policy_id = create_policy(
        ee,
        a,
        dest_registry={"id": world["registry"]},
        dest_namespace="mirror",
        filters=[{"type": "name", "value": "src/big"}],
        speed=128,
        copy_by_chunk=True,
    )
    started = time.monotonic()
    done = wait_execution(ee, a, policy_id, execute(ee, a, policy_id))
    assert done.status == "Succeed", done.status_text
    assert time.monotonic() - started >= 4  # ~768 KiB at 128 KiB/s (a second's burst aside): unlimited, < 1 s
    assert digest_of(b_host, "mirror/big", "1") == digest_of(world["a_host"], "src/big", "1")


def test_listing_paging_and_unknown_ids(ee: Enterprise, world: dict[str, Any], tmp_path: Path) -> None:
    a = world["a"]
    with ee.http() as api:
        bad = api.get(f"/v2/{ee.project}/instances/{a}/replication/executions", params={"limit": 0})
        assert bad.status_code == 400
        missing = api.get(f"/v2/{ee.project}/instances/{a}/replication/executions/999999/tasks")
        assert missing.status_code == 404
        order = api.get(f"/v2/{ee.project}/instances/{a}/registries", params={"order_column": "password"})
        assert order.status_code == 400
