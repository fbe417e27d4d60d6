"""Image signing through the official SDK against a running moorage, on SQLite and PostgreSQL:
keys, policies, executions, tasks, and the subtask listing (ListInstanceSignatureExecutionSubtasks)
with its paging rules, status filter and error cases; the signatures land in the registry as cosign artifacts."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkswr.v2 import (
    DeleteInstanceSignPolicyRequest,
    ListInstanceAccessoriesRequest,
    ListInstanceSignatureExecutionSubtasksRequest,
    ListInstanceSignPoliciesRequest,
    ListInstanceSignPolicyExecTasksRequest,
    ShowInstanceSignPolicyRequest,
    TriggerConfig,
    UpdateInstanceSignPolicyRequest,
    UpdateSignaturePolicyRequestBody,
)

from moorage.signing.cosign import parse_payload
from tests.conftest import ADMIN_USER
from tests.enterprise import layouts
from tests.enterprise.support import (
    Enterprise,
    create_instance,
    create_key,
    create_namespace,
    create_policy,
    execute,
    push,
    unique,
    upload,
    wait_execution,
)
from tests.support import skopeo
from tests.support.accounts import cli

TAGS = [f"v{i}" for i in range(1, 13)]  # 12 tags: more than one page of 10


@pytest.fixture(scope="module")
def signed(ee: Enterprise, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """An instance with 12 tags of ns/app and one of ns/other, a key, a policy signing ``app``'s
    ``v*`` tags except v12, and one finished execution of it."""
    instance_id = create_instance(ee, unique("signing"), domain_name=ee.instance_address)
    create_namespace(ee, instance_id, "team")
    layout = layouts.write_layout(tmp_path_factory.mktemp("layout") / "app", {"v1": "content v1"})
    push(layout, "v1", f"{ee.instance_address}/team/app:v1")  # skopeo for one, the OCI API for the rest
    upload(ee.instance_address, "team/app", {tag: f"content {tag}" for tag in TAGS[1:]})
    push(layout, "v1", f"{ee.instance_address}/team/other:v1")
    key = create_key(ee, instance_id)
    policy_id = create_policy(ee, instance_id, "team", key["id"], repositories="app", tags="v*", exclude_tags="v12")
    execution_id = execute(ee, instance_id, "team", policy_id)
    finished = wait_execution(ee, instance_id, "team", policy_id, execution_id)
    return {"instance": instance_id, "key": key, "policy": policy_id, "execution": execution_id, "finished": finished}


def _subtasks(ee: Enterprise, signed: dict[str, object], task_id: int, **query: object) -> object:
    return ee.client.list_instance_signature_execution_subtasks(
        ListInstanceSignatureExecutionSubtasksRequest(
            instance_id=signed["instance"],
            namespace_name="team",
            policy_id=signed["policy"],
            execution_id=signed["execution"],
            task_id=task_id,
            **query,
        )
    )


def _task_id(ee: Enterprise, signed: dict[str, object]) -> int:
    tasks = ee.client.list_instance_sign_policy_exec_tasks(
        ListInstanceSignPolicyExecTasksRequest(
            instance_id=signed["instance"],
            namespace_name="team",
            policy_id=signed["policy"],
            execution_id=signed["execution"],
        )
    )
    assert tasks.total == 1 and len(tasks.tasks) == 1  # only "app" matched the repository selector
    task = tasks.tasks[0]
    assert (task.namespace, task.repository, task.status) == ("team", "app", "Succeed")
    assert isinstance(task.id, int) and task.execution_id == signed["execution"] and task.job_id
    return int(task.id)


def test_execution_counts(signed: dict[str, object]) -> None:
    finished = signed["finished"]
    assert finished.status == "Succeed", finished
    assert (finished.total, finished.succeed, finished.failed, finished.in_progress, finished.stopped) == (
        11,
        11,
        0,
        0,
        0,
    )
    assert finished.trigger == "manual" and finished.policy_id == signed["policy"]
    assert finished.created_at.endswith("Z") and finished.updated_at >= finished.created_at


def test_a_manual_execution_is_in_the_audit_log(ee: Enterprise, signed: dict[str, object]) -> None:
    audit = cli(
        ee.server, "audit", "--json", "--instance", str(signed["instance"]), "--resource-type", "signature_policy"
    )
    found = [json.loads(line) for line in audit.stdout.splitlines()]
    started = [e for e in found if e["operation"] == "create" and e["detail"].get("execution") == signed["execution"]]
    assert [(e["resource"], e["user"]) for e in started] == [(f"team/{signed['policy']}", ADMIN_USER)]


def test_subtasks_page_through_every_signed_tag(ee: Enterprise, signed: dict[str, object]) -> None:
    task_id = _task_id(ee, signed)
    first = _subtasks(ee, signed, task_id)  # default page: 10
    assert first.total == 11 and len(first.sub_tasks) == 10
    second = _subtasks(ee, signed, task_id, offset=10, limit=10)
    assert second.total == 11 and len(second.sub_tasks) == 1
    everything = first.sub_tasks + second.sub_tasks
    assert sorted(s.tags for s in everything) == sorted(TAGS[:-1])
    assert len({s.id for s in everything}) == 11
    for subtask in everything:
        assert isinstance(subtask.id, int) and isinstance(subtask.tags, str)
        assert (subtask.namespace, subtask.repository, subtask.status) == ("team", "app", "Succeed")
        assert subtask.digest == layouts.manifest_digest(f"content {subtask.tags}")
        assert subtask.job_id and subtask.created_at and isinstance(subtask.status_text, str)
    small = _subtasks(ee, signed, task_id, offset=4, limit=4)
    assert [s.id for s in small.sub_tasks] == [s.id for s in everything[4:8]]


def test_subtasks_status_filter(ee: Enterprise, signed: dict[str, object]) -> None:
    task_id = _task_id(ee, signed)
    assert _subtasks(ee, signed, task_id, status="Succeed", limit=100).total == 11
    for status in ("Initialized", "Pending", "InProgress", "Failed", "Stopped"):
        found = _subtasks(ee, signed, task_id, status=status)
        assert (found.total, found.sub_tasks) == (0, []), status


@pytest.mark.parametrize(
    ("query", "status", "words"),
    [
        ({"offset": 5, "limit": 10}, 400, "multiple of limit"),
        ({"offset": 0, "limit": 101}, 400, "between 1 and 100"),
        ({"offset": 0, "limit": 0}, 400, "between 1 and 100"),
        ({"offset": 10}, 400, "used together"),
        ({"status": "Done"}, 400, "status must be one of"),
    ],
)
def test_subtask_listing_errors(
    ee: Enterprise, signed: dict[str, object], query: dict[str, object], status: int, words: str
) -> None:
    task_id = _task_id(ee, signed)
    with pytest.raises(ClientRequestException) as caught:
        _subtasks(ee, signed, task_id, **query)
    assert caught.value.status_code == status
    assert caught.value.error_code == "SVCSTG.SWR.4000014"
    assert words in caught.value.error_msg
    assert caught.value.request_id


def test_ids_past_a_bigint_are_refused_not_sent_to_the_database(ee: Enterprise, signed: dict[str, object]) -> None:
    """Path ids past PostgreSQL's bigint are a 400 (as the retention routes answer), not a 500."""
    base = f"/v2/{ee.project}/instances/{signed['instance']}/namespaces/team/signature/policies"
    policy, execution = signed["policy"], signed["execution"]
    with ee.http() as api:
        for beyond in (2**63, 2**70):
            for path in (
                f"{base}/{beyond}",
                f"{base}/{beyond}/executions",
                f"{base}/{policy}/executions/{beyond}",
                f"{base}/{policy}/executions/{execution}/tasks/{beyond}/subtasks",
            ):
                answer = api.get(path)
                assert answer.status_code == 400, (path, answer.text)


def test_subtask_listing_of_unknown_things(ee: Enterprise, signed: dict[str, object]) -> None:
    task_id = _task_id(ee, signed)
    # An unknown organization has SWR's documented code of its own; anything else is "not found".
    for override, code in (
        ({"task_id": task_id + 1000}, "SVCSTG.SWR.4040010"),
        ({"execution_id": 999999}, "SVCSTG.SWR.4040010"),
        ({"policy_id": 999999}, "SVCSTG.SWR.4040010"),
        ({"namespace_name": "nosuchns"}, "SVCSTG.SWR.4040058"),
        ({"instance_id": "0" * 32}, "SVCSTG.SWR.4040010"),
    ):
        request = ListInstanceSignatureExecutionSubtasksRequest(
            instance_id=signed["instance"],
            namespace_name="team",
            policy_id=signed["policy"],
            execution_id=signed["execution"],
            task_id=task_id,
        )
        for key, value in override.items():
            setattr(request, key, value)
        with pytest.raises(ClientRequestException) as caught:
            ee.client.list_instance_signature_execution_subtasks(request)
        assert caught.value.status_code == 404, override
        assert caught.value.error_code == code, override


def test_error_body_is_swrs_error_shape(ee: Enterprise, signed: dict[str, object]) -> None:
    with ee.http() as api:
        response = api.get(
            f"/v2/{ee.project}/instances/{signed['instance']}/namespaces/team/signature/policies/"
            f"{signed['policy']}/executions/{signed['execution']}/tasks/1/subtasks",
            params={"offset": 3, "limit": 2},
        )
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error_code", "error_msg", "encoded_authorization_message"}
    assert response.headers["x-request-id"]
    anonymous = httpx.get(f"{ee.server.base_url}/v2/{ee.project}/instances/{signed['instance']}", timeout=30)
    assert anonymous.status_code == 401
    assert set(anonymous.json()) == {"error_code", "error_msg", "encoded_authorization_message"}
    assert anonymous.json()["error_code"] == "SVCSTG.SWR.4010000"


def test_signatures_are_cosign_artifacts(ee: Enterprise, signed: dict[str, object], tmp_path: Path) -> None:
    digest = layouts.manifest_digest("content v3")
    signature_tag = "sha256-" + digest.split(":", 1)[1] + ".sig"
    creds = ("admin", "admin-password-1")
    manifest = skopeo.inspect_raw(f"{ee.instance_address}/team/app:{signature_tag}", creds=creds)
    assert manifest["subject"]["digest"] == digest
    assert manifest["artifactType"] == "application/vnd.dev.cosign.artifact.sig.v1+json"
    layer = manifest["layers"][0]
    assert layer["mediaType"] == "application/vnd.dev.cosign.simplesigning.v1+json"
    assert layer["annotations"]["dev.cosignproject.cosign/signature"]
    skopeo.pull(f"{ee.instance_address}/team/app:{signature_tag}", tmp_path / "sig", "sig", creds=creds)
    payload = (tmp_path / "sig" / "blobs" / "sha256" / layer["digest"].split(":", 1)[1]).read_bytes()
    assert parse_payload(payload) == (f"{ee.instance_address}/team/app:v3", digest)
    assert json.loads(payload)["optional"]["creator"] == "moorage"
    # found through the referrers API too
    with ee.http() as api:
        token = api.get(
            "/service/token",
            params={"scope": "repository:team/app:pull"},
            auth=creds,
            headers={"Host": ee.instance_address},
        ).json()["token"]
    referrers = httpx.get(
        f"http://{ee.instance_address}/v2/team/app/referrers/{digest}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).json()
    assert [m["artifactType"] for m in referrers["manifests"]] == ["application/vnd.dev.cosign.artifact.sig.v1+json"]


def test_accessories_list_the_signature(ee: Enterprise, signed: dict[str, object]) -> None:
    found = ee.client.list_instance_accessories(
        ListInstanceAccessoriesRequest(
            instance_id=signed["instance"], namespace_name="team", repository_name="app", reference="v2"
        )
    )
    assert found.total == 1
    accessory = found.accessories[0]
    assert accessory.type == "signature.cosign" and isinstance(accessory.size, int) and accessory.size > 0
    unsigned = ee.client.list_instance_accessories(
        ListInstanceAccessoriesRequest(
            instance_id=signed["instance"], namespace_name="team", repository_name="app", reference="v12"
        )
    )
    assert unsigned.total == 0 and unsigned.accessories == []


def test_running_again_signs_nothing_twice(ee: Enterprise, signed: dict[str, object]) -> None:
    again = execute(ee, signed["instance"], "team", signed["policy"])
    finished = wait_execution(ee, signed["instance"], "team", signed["policy"], again)
    assert (finished.status, finished.total, finished.succeed) == ("Succeed", 11, 11)
    manifest = skopeo.inspect_raw(
        f"{ee.instance_address}/team/app:sha256-{layouts.manifest_digest('content v1').split(':')[1]}.sig",
        creds=("admin", "admin-password-1"),
    )
    assert len(manifest["layers"]) == 1


def test_policy_crud(ee: Enterprise, signed: dict[str, object]) -> None:
    instance_id = signed["instance"]
    key_id = signed["key"]["id"]
    policy_id = create_policy(
        ee, instance_id, "team", key_id, repositories="other", trigger="event_based", name="crud-policy"
    )
    shown = ee.client.show_instance_sign_policy(
        ShowInstanceSignPolicyRequest(instance_id=instance_id, namespace_name="team", policy_id=policy_id)
    )
    assert (shown.id, shown.name, shown.namespace_name, shown.enabled) == (policy_id, "crud-policy", "team", True)
    assert (shown.signature_key, shown.signature_algorithm, shown.signature_method) == (key_id, "ECDSA_SHA_256", "KMS")
    assert shown.trigger.type == "event_based"
    assert shown.scope_rules[0].scope_selectors["repository"][0].pattern == "other"
    ee.client.update_instance_sign_policy(
        UpdateInstanceSignPolicyRequest(
            instance_id=instance_id,
            namespace_name="team",
            policy_id=policy_id,
            body=UpdateSignaturePolicyRequestBody(
                description="changed", enabled=False, trigger=TriggerConfig(type="manual")
            ),
        )
    )
    shown = ee.client.show_instance_sign_policy(
        ShowInstanceSignPolicyRequest(instance_id=instance_id, namespace_name="team", policy_id=policy_id)
    )
    assert (shown.description, shown.enabled, shown.trigger.type, shown.name) == (
        "changed",
        False,
        "manual",
        "crud-policy",
    )
    listed = ee.client.list_instance_sign_policies(ListInstanceSignPoliciesRequest(instance_id=instance_id))
    assert {p.id for p in listed.policies} >= {policy_id, signed["policy"]} and listed.total >= 2
    with pytest.raises(ClientRequestException) as caught:
        ee.client.update_instance_sign_policy(
            UpdateInstanceSignPolicyRequest(
                instance_id=instance_id,
                namespace_name="team",
                policy_id=policy_id,
                body=UpdateSignaturePolicyRequestBody(trigger=TriggerConfig(type="sometimes")),
            )
        )
    assert caught.value.status_code == 400
    ee.client.delete_instance_sign_policy(
        DeleteInstanceSignPolicyRequest(instance_id=instance_id, namespace_name="team", policy_id=policy_id)
    )
    with pytest.raises(ClientRequestException) as caught:
        ee.client.show_instance_sign_policy(
            ShowInstanceSignPolicyRequest(instance_id=instance_id, namespace_name="team", policy_id=policy_id)
        )
    assert caught.value.status_code == 404


def test_a_key_in_use_cannot_be_deleted(ee: Enterprise, signed: dict[str, object]) -> None:
    with ee.http() as api:
        base = f"/v2/{ee.project}/instances/{signed['instance']}/signature/keys"
        response = api.delete(f"{base}/{signed['key']['id']}")
        assert response.status_code == 409, response.text
        listed = api.get(base).json()
        assert signed["key"]["id"] in {k["id"] for k in listed["keys"]}
        assert all("private" not in json.dumps(k).lower() for k in listed["keys"])


def _executions(ee: Enterprise, instance_id: str, policy_id: int) -> list[object]:
    from huaweicloudsdkswr.v2 import ListInstanceSignPolicyExecutionsRequest

    return list(
        ee.client.list_instance_sign_policy_executions(
            ListInstanceSignPolicyExecutionsRequest(
                instance_id=instance_id, namespace_name="team", policy_id=policy_id, limit=100
            )
        ).executions
    )


def _wait_for(condition: object, timeout: float = 30) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_push_triggers_event_based_policies(ee: Enterprise, signed: dict[str, object], tmp_path: Path) -> None:
    instance_id = str(signed["instance"])
    policy_id = create_policy(
        ee, instance_id, "team", signed["key"]["id"], repositories="pushed", tags="release-*", trigger="event_based"
    )
    layout = layouts.write_layout(tmp_path / "img", {"a": "pushed a", "b": "pushed b"})
    push(layout, "a", f"{ee.instance_address}/team/pushed:dev")  # not a release tag: nothing runs
    push(layout, "b", f"{ee.instance_address}/team/pushed:release-1")
    _wait_for(lambda: any(e.status == "Succeed" for e in _executions(ee, instance_id, policy_id)))
    runs = _executions(ee, instance_id, policy_id)
    assert [(e.trigger, e.total, e.succeed) for e in runs] == [("event_based", 1, 1)]
    signed_tag = ee.client.list_instance_accessories(
        ListInstanceAccessoriesRequest(
            instance_id=instance_id, namespace_name="team", repository_name="pushed", reference="release-1"
        )
    )
    assert signed_tag.total == 1
    unsigned_tag = ee.client.list_instance_accessories(
        ListInstanceAccessoriesRequest(
            instance_id=instance_id, namespace_name="team", repository_name="pushed", reference="dev"
        )
    )
    assert unsigned_tag.total == 0


def test_scheduled_policies_run_on_their_cron(ee: Enterprise, signed: dict[str, object]) -> None:
    from huaweicloudsdkswr.v2 import TriggerSetting

    instance_id = str(signed["instance"])
    policy_id = create_policy(ee, instance_id, "team", signed["key"]["id"], repositories="other")
    ee.client.update_instance_sign_policy(
        UpdateInstanceSignPolicyRequest(
            instance_id=instance_id,
            namespace_name="team",
            policy_id=policy_id,
            body=UpdateSignaturePolicyRequestBody(
                trigger=TriggerConfig(type="scheduled", trigger_settings=TriggerSetting(cron="*/2 * * * * *"))
            ),
        )
    )
    _wait_for(lambda: any(e.status == "Succeed" for e in _executions(ee, instance_id, policy_id)))
    ee.client.update_instance_sign_policy(
        UpdateInstanceSignPolicyRequest(
            instance_id=instance_id,
            namespace_name="team",
            policy_id=policy_id,
            body=UpdateSignaturePolicyRequestBody(enabled=False),
        )
    )
    runs = _executions(ee, instance_id, policy_id)
    assert runs and {e.trigger for e in runs} == {"scheduled"}
    assert all(e.total == 1 for e in runs if e.status == "Succeed")  # other:v1
    with pytest.raises(ClientRequestException) as caught:
        ee.client.update_instance_sign_policy(
            UpdateInstanceSignPolicyRequest(
                instance_id=instance_id,
                namespace_name="team",
                policy_id=policy_id,
                body=UpdateSignaturePolicyRequestBody(
                    trigger=TriggerConfig(type="scheduled", trigger_settings=TriggerSetting(cron="every day"))
                ),
            )
        )
    assert caught.value.status_code == 400 and "cron" in caught.value.error_msg


def test_a_domain_name_without_port_signs_with_the_registry_port(
    ee: Enterprise, signed: dict[str, object], tmp_path: Path
) -> None:
    """The worker names images as clients reach them: ``127.0.0.6`` (no port) on this server is
    ``127.0.0.6:<port>``."""
    instance_id = create_instance(ee, unique("noport"), domain_name="127.0.0.6")
    create_namespace(ee, instance_id, "team")
    host = f"127.0.0.6:{ee.server.port}"
    push(layouts.write_layout(tmp_path / "img", {"v1": "no port"}), "v1", f"{host}/team/app:v1")
    key = create_key(ee, instance_id)
    policy_id = create_policy(ee, instance_id, "team", key["id"])
    finished = wait_execution(ee, instance_id, "team", policy_id, execute(ee, instance_id, "team", policy_id))
    assert (finished.status, finished.succeed) == ("Succeed", 1), finished
    digest = layouts.manifest_digest("no port")
    creds = ("admin", "admin-password-1")
    manifest = skopeo.inspect_raw(f"{host}/team/app:sha256-{digest.split(':')[1]}.sig", creds=creds)
    skopeo.pull(f"{host}/team/app:sha256-{digest.split(':')[1]}.sig", tmp_path / "sig", "sig", creds=creds)
    layer = manifest["layers"][0]["digest"].split(":", 1)[1]
    payload = (tmp_path / "sig" / "blobs" / "sha256" / layer).read_bytes()
    assert parse_payload(payload) == (f"{host}/team/app:v1", digest)
