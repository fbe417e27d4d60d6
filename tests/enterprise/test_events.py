"""Events, webhooks, triggers and audit logs through the official SDK against a real server (SQLite and
PostgreSQL), with a webhook receiver started here on 127.0.0.1 that checks the HMAC of each delivery:
a push reaches a policy's receiver in Harbor's format; a receiver answering 500 twice then 200 gets
one delivery recorded after its retries; triggers fire on matching tags only (CCE/CCI ones are
recorded as not executed); the audit log shows pushes, tag deletes, pulls and failed logins with the
actor and the address; bad input is a 400 in the SWR format and stores nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkswr.v2 import (
    CreateInstanceWebhookRequest,
    CreateTriggerRequest,
    DeleteInstanceTagRequest,
    DeleteInstanceWebhookRequest,
    DeleteTriggerRequest,
    ListAuditLogsRequest,
    ListInstanceWebhookJobsRequest,
    ListInstanceWebhooksRequest,
    ListTriggersDetailsRequest,
    RuleSelector,
    ScopeRule,
    ShowInstanceWebhookRequest,
    ShowTriggerRequest,
    Target,
    UpdateInstanceWebhookRequest,
    UpdateTriggerRequest,
    UpdateTriggerRequestBody,
    UpdateWebhookPolicyRequestBody,
)

from tests.api.swr.conftest import assert_sdk_types
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, DATABASES
from tests.enterprise import layouts
from tests.enterprise.conftest import _starter
from tests.enterprise.support import Enterprise, connect, create_instance, create_namespace, unique, upload
from tests.support import skopeo
from tests.support.servers import stop_all
from tests.support.tools import require_tool
from tests.support.webhook_receiver import Receiver, webhook_receiver

EVENT_ENV = {
    "MOORAGE_EGRESS__ALLOW_NETWORKS": "127.0.0.0/8",  # the receivers listen on loopback
    "MOORAGE_EVENTS__DISPATCH_INTERVAL_SECONDS": "0.1",
    "MOORAGE_EVENTS__BUFFER_FLUSH_SECONDS": "0.3",
    "MOORAGE_WEBHOOKS__RETRY_BASE_SECONDS": "0.2",
    "MOORAGE_WEBHOOKS__TIMEOUT_SECONDS": "3",
}
CREDS = (ADMIN_USER, ADMIN_PASSWORD)
BAD_REQUEST = "SVCSTG.SWR.4000014"


@pytest.fixture(scope="module", params=DATABASES)
def events_ee(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Enterprise]:
    """One server per database for the module, with loopback receivers allowed and fast retries."""
    start, started = _starter(request, tmp_path_factory.mktemp("events"))
    try:
        yield connect(start(database=request.param, env=EVENT_ENV))
    finally:
        stop_all(started)


@pytest.fixture(scope="module")
def world(events_ee: Enterprise) -> dict[str, Any]:
    """An instance reachable at ``events_ee.instance_address`` with the namespace ``hooks``."""
    instance_id = create_instance(events_ee, unique("events"), domain_name=events_ee.instance_address)
    namespace_id = create_namespace(events_ee, instance_id, "hooks")
    return {"instance": instance_id, "namespace_id": namespace_id, "host": events_ee.instance_address}


def selector(decoration: str, pattern: str) -> RuleSelector:
    return RuleSelector(kind="doublestar", decoration=decoration, pattern=pattern)


def create_policy(
    ee: Enterprise,
    world: dict[str, Any],
    receiver: Receiver,
    *,
    name: str | None = None,
    repositories: str = "**",
    event_types: tuple[str, ...] = ("PUSH_ARTIFACT",),
    secret: str = "a-signing-secret-of-ours",
    auth_header: str = "Authorization:Bearer hook-token",
) -> int:
    """A policy through the SDK (its body as a dict: the SDK's model has no field for ``secret``)."""
    body = {
        "name": name or unique("policy"),
        "description": "test",
        "enabled": True,
        "event_types": list(event_types),
        "secret": secret,
        "targets": [
            {
                "type": "http",
                "address": receiver.url + "/hook",
                "auth_header": auth_header,
                "skip_cert_verify": False,
                "address_type": "internal",
            }
        ],
        "scope_rules": [
            {
                "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "**"}],
                "scope_selectors": {
                    "repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": repositories}]
                },
                "repo_scope_mode": "regular",
            }
        ],
    }
    created = ee.client.create_instance_webhook(
        CreateInstanceWebhookRequest(instance_id=world["instance"], namespace_name="hooks", body=body)
    )
    assert created.to_json_object()["signing_secret"] == secret
    return int(created.id)


def jobs(ee: Enterprise, world: dict[str, Any], policy_id: int, **query: Any) -> Any:
    return ee.client.list_instance_webhook_jobs(
        ListInstanceWebhookJobsRequest(
            instance_id=world["instance"], namespace_name="hooks", policy_id=policy_id, **query
        )
    )


def wait_jobs(ee: Enterprise, world: dict[str, Any], policy_id: int, *, finished: int, timeout: float = 30) -> Any:
    """The policy's jobs once ``finished`` of them have finished."""
    deadline = time.monotonic() + timeout
    while True:
        listed = jobs(ee, world, policy_id, offset=0, limit=100)
        if sum(j.status in ("Succeed", "Failed", "Stopped") for j in listed.jobs) >= finished:
            return listed
        assert time.monotonic() < deadline, [(j.status, j.status_text) for j in listed.jobs]
        time.sleep(0.1)


def delete_policy(ee: Enterprise, world: dict[str, Any], policy_id: int) -> None:
    ee.client.delete_instance_webhook(
        DeleteInstanceWebhookRequest(instance_id=world["instance"], namespace_name="hooks", policy_id=policy_id)
    )


# Webhooks -------------------------------------------------------------------------------------------
def test_a_push_is_delivered_signed_in_harbors_format_after_two_failures(
    events_ee: Enterprise, world: dict[str, Any]
) -> None:
    repository = unique("retry")
    with webhook_receiver([500, 500, 200]) as receiver:
        policy_id = create_policy(events_ee, world, receiver, repositories=repository)
        upload(world["host"], f"hooks/{repository}", {"1.0": "retried push"})
        listed = wait_jobs(events_ee, world, policy_id, finished=1)
        arrived = receiver.requests("/hook")
    assert_sdk_types(listed)
    assert listed.total == 1
    job = listed.jobs[0]
    assert (job.status, job.event_type, job.notify_type, job.policy_id) == (
        "Succeed",
        "PUSH_ARTIFACT",
        "http",
        policy_id,
    )
    assert "attempt 3" in job.status_text, job.status_text
    # three attempts of one delivery: the same body, delivery id and valid signature each time
    assert len(arrived) == 3
    assert all(r.signed_with("a-signing-secret-of-ours") for r in arrived)
    assert not arrived[0].signed_with("another-secret-entirely")
    assert {r.headers["x-moorage-delivery"] for r in arrived} == {str(job.id)}
    assert {r.body for r in arrived} == {job.job_detail.encode()}
    assert arrived[0].headers["authorization"] == "Bearer hook-token"
    assert arrived[1].at - arrived[0].at >= 0.15  # the backoff waited
    payload = arrived[0].json()
    assert payload["type"] == "PUSH_ARTIFACT" and payload["operator"] == ADMIN_USER
    assert payload["event_data"]["resources"] == [
        {
            "digest": layouts.manifest_digest("retried push"),
            "tag": "1.0",
            "resource_url": f"{world['host']}/hooks/{repository}:1.0",
        }
    ]
    assert payload["event_data"]["repository"]["repo_full_name"] == f"hooks/{repository}"
    assert payload["event_data"]["repository"]["namespace"] == "hooks"
    assert payload["event_data"]["repository"]["repo_type"] == "private"
    assert jobs(events_ee, world, policy_id, status="Failed").total == 0
    delete_policy(events_ee, world, policy_id)


def test_policy_lifecycle_through_the_sdk(events_ee: Enterprise, world: dict[str, Any]) -> None:
    instance_id = world["instance"]
    with webhook_receiver() as receiver:
        name = unique("life")
        policy_id = create_policy(
            events_ee, world, receiver, name=name, event_types=("PUSH_ARTIFACT", "DELETE_ARTIFACT")
        )
        shown = events_ee.client.show_instance_webhook(
            ShowInstanceWebhookRequest(instance_id=instance_id, namespace_name="hooks", policy_id=policy_id)
        )
        assert_sdk_types(shown)
        assert (shown.name, shown.namespace_name, shown.creator, shown.enabled) == (name, "hooks", ADMIN_USER, True)
        assert shown.event_types == ["PUSH_ARTIFACT", "DELETE_ARTIFACT"]
        assert shown.targets[0].address == receiver.url + "/hook"
        assert shown.targets[0].auth_header == "******"  # never returned in clear
        assert "hook-token" not in str(shown.to_json_object()) and "signing" not in str(shown.to_json_object())
        assert shown.scope_rules[0].scope_selectors["repository"][0].pattern == "**"

        # update: the masked header sent back keeps the stored one; a disabled policy is listed as such
        body = UpdateWebhookPolicyRequestBody(
            name=name + "-2",
            description="changed",
            event_types=["PULL_ARTIFACT"],
            enabled=False,
            targets=[Target(type="http", address=receiver.url + "/hook", auth_header="******", skip_cert_verify=True)],
            scope_rules=[
                ScopeRule(
                    tag_selectors=[selector("matches", "v*")],
                    scope_selectors={"repository": [selector("repoMatches", "app")]},
                    repo_scope_mode="regular",
                )
            ],
        )
        events_ee.client.update_instance_webhook(
            UpdateInstanceWebhookRequest(
                instance_id=instance_id, namespace_name="hooks", policy_id=policy_id, body=body
            )
        )
        listed = events_ee.client.list_instance_webhooks(
            ListInstanceWebhooksRequest(
                instance_id=instance_id,
                name=name,
                namespace_id=world["namespace_id"],
                order_column="name",
                order_type="asc",
                offset=0,
                limit=10,
            )
        )
        assert_sdk_types(listed)
        assert [(p.id, p.name, p.enabled, p.event_types) for p in listed.policies] == [
            (policy_id, name + "-2", False, ["PULL_ARTIFACT"])
        ]
        assert listed.policies[0].targets[0].auth_header == "******"
        assert listed.policies[0].targets[0].skip_cert_verify is True
        delete_policy(events_ee, world, policy_id)
    with pytest.raises(ClientRequestException) as caught:
        events_ee.client.show_instance_webhook(
            ShowInstanceWebhookRequest(instance_id=instance_id, namespace_name="hooks", policy_id=policy_id)
        )
    assert caught.value.status_code == 404


BAD_POLICIES = [
    ({"targets": [{"type": "http", "address": "ftp://127.0.0.1/hook"}]}, "http or https"),
    ({"targets": [{"type": "http", "address": "http:///no-host"}]}, "host"),
    ({"targets": [{"type": "http", "address": "http://user:pw@127.0.0.1/x"}]}, "credentials"),
    ({"targets": [{"type": "http", "address": "http://10.1.2.3/hook"}]}, "egress"),
    ({"targets": [{"type": "slack", "address": "http://127.0.0.1/hook"}]}, "type"),
    ({"targets": [{"type": "http", "address": "http://127.0.0.1/x", "auth_header": "X-A:1\r\nX-B:2"}]}, "line"),
    ({"event_types": ["PUSH_ARTIFACT", "EXPLODE"]}, "EXPLODE"),
    ({"event_types": []}, "event type"),
    ({"name": "bad name!"}, "name"),
    (
        {
            "scope_rules": [
                {
                    "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "{a"}],
                    "scope_selectors": {
                        "repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]
                    },
                }
            ]
        },
        "pattern",
    ),
    ({"secret": "short"}, "secret"),
]


@pytest.mark.parametrize(("change", "words"), BAD_POLICIES, ids=[w for _c, w in BAD_POLICIES])
def test_bad_policies_are_refused_and_nothing_is_stored(
    events_ee: Enterprise, world: dict[str, Any], change: dict[str, Any], words: str
) -> None:
    body = {
        "name": unique("bad"),
        "event_types": ["PUSH_ARTIFACT"],
        "enabled": True,
        "targets": [{"type": "http", "address": "http://127.0.0.1:9/hook"}],
        **change,
    }
    before = events_ee.client.list_instance_webhooks(
        ListInstanceWebhooksRequest(instance_id=world["instance"], limit=100)
    ).total
    with pytest.raises(ClientRequestException) as caught:
        events_ee.client.create_instance_webhook(
            CreateInstanceWebhookRequest(instance_id=world["instance"], namespace_name="hooks", body=body)
        )
    assert (caught.value.status_code, caught.value.error_code) == (400, BAD_REQUEST), caught.value.error_msg
    assert words.lower() in caught.value.error_msg.lower(), caught.value.error_msg
    after = events_ee.client.list_instance_webhooks(
        ListInstanceWebhooksRequest(instance_id=world["instance"], limit=100)
    )
    assert after.total == before


# Audit logs -----------------------------------------------------------------------------------------
def audit(ee: Enterprise, world: dict[str, Any], **query: Any) -> Any:
    return ee.client.list_audit_logs(ListAuditLogsRequest(instance_id=world["instance"], **query))


def test_audit_log_shows_push_pull_tag_delete_and_failed_login(
    events_ee: Enterprise, world: dict[str, Any], tmp_path: Path
) -> None:
    require_tool("skopeo")
    repository = f"hooks/{unique('audited')}"
    layout = layouts.write_layout(tmp_path / "layout", {"v1": "audited one"})
    skopeo.push(layout, "v1", f"{world['host']}/{repository}:v1", creds=CREDS)
    token = httpx.get(
        f"http://{world['host']}/service/token",
        auth=CREDS,
        timeout=30,
        params={"scope": f"repository:{repository}:pull"},
    ).json()["token"]
    pulled = httpx.get(
        f"http://{world['host']}/v2/{repository}/manifests/v1",
        timeout=30,
        headers={"Authorization": f"Bearer {token}", "Accept": layouts.OCI_MANIFEST},
    )
    assert pulled.status_code == 200
    events_ee.client.delete_instance_tag(
        DeleteInstanceTagRequest(
            instance_id=world["instance"],
            namespace_name="hooks",
            repository_name=repository.split("/", 1)[1],
            tag_name="v1",
        )
    )
    refused = httpx.get(f"http://{world['host']}/service/token", auth=("intruder", "wrong password"), timeout=30)
    assert refused.status_code == 401
    deadline = time.monotonic() + 10
    while True:  # pulls are written in batches (every 0.3 s here)
        logs = audit(events_ee, world, offset=0, limit=100)
        rows = [(r.operation, r.resource_type, r.resource, r.username) for r in logs.audit_logs]
        if (("pull", "artifact", f"{repository}:v1", ADMIN_USER)) in rows or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert_sdk_types(logs)
    raw = {(r["operation"], r["resource"]): r for r in logs.to_json_object()["audit_logs"]}
    assert ("create", "artifact", f"{repository}:v1", ADMIN_USER) in rows
    assert ("pull", "artifact", f"{repository}:v1", ADMIN_USER) in rows
    assert ("delete", "tag", f"{repository}:v1", ADMIN_USER) in rows
    assert ("login", "user", "intruder", "intruder") in rows
    for key in (("create", f"{repository}:v1"), ("delete", f"{repository}:v1"), ("login", "intruder")):
        assert raw[key]["client_address"] == "127.0.0.1", raw[key]
    assert raw[("login", "intruder")]["result"] == "failure"
    assert raw[("create", f"{repository}:v1")]["result"] == "success"
    assert logs.audit_logs[0].id > logs.audit_logs[-1].id  # newest first
    assert logs.audit_logs[0].op_time.endswith("Z")
    # filters and pages
    deletes = audit(events_ee, world, operation="delete", offset=0, limit=100)
    assert deletes.total >= 1 and {r.operation for r in deletes.audit_logs} == {"delete"}
    first, second = audit(events_ee, world, offset=0, limit=2), audit(events_ee, world, offset=2, limit=2)
    assert first.total == second.total >= 4
    assert not {r.id for r in first.audit_logs} & {r.id for r in second.audit_logs}
    for bad in ({"offset": 3, "limit": 2}, {"limit": 101}, {"operation": "explode"}):
        with pytest.raises(ClientRequestException) as caught:
            audit(events_ee, world, **bad)
        assert (caught.value.status_code, caught.value.error_code) == (400, BAD_REQUEST), bad


# Triggers (shared edition) --------------------------------------------------------------------------
def test_triggers_fire_on_matching_tags_and_cce_ones_are_not_executed(events_ee: Enterprise) -> None:
    from huaweicloudsdkswr.v2 import CreateNamespaceRequest, CreateNamespaceRequestBody

    namespace = unique("trig")
    events_ee.client.create_namespace(CreateNamespaceRequest(body=CreateNamespaceRequestBody(namespace=namespace)))
    upload(events_ee.server.address, f"{namespace}/app", {"seed": "trigger seed"})
    with webhook_receiver() as receiver:
        created = events_ee.client.create_trigger(
            CreateTriggerRequest(
                namespace=namespace,
                repository="app",
                body={
                    "name": "hook",
                    "trigger_mode": "webhook",
                    "trigger_type": "regular",
                    "condition": r"^v1\.\d+$",
                    "enable": "true",
                    "webhook": {"address": receiver.url + "/trigger", "auth_header": "X-Token:abc"},
                    "secret": "trigger-secret-of-ours",
                },
            )
        )
        assert created.to_json_object() == {"executed": True, "signing_secret": "trigger-secret-of-ours"}
        cce = events_ee.client.create_trigger(
            CreateTriggerRequest(
                namespace=namespace,
                repository="app",
                body={
                    "name": "deploy",
                    "trigger_mode": "cce",
                    "trigger_type": "tag",
                    "condition": "v1.2,latest",
                    "enable": "true",
                    "action": "update",
                    "app_type": "deployments",
                    "application": "web",
                    "cluster_id": "c1",
                    "cluster_name": "prod",
                    "cluster_ns": "default",
                    "container": "",
                },
            )
        )
        assert cce.to_json_object()["executed"] is False
        assert "not executed" in cce.to_json_object()["notice"]
        upload(
            events_ee.server.address,
            f"{namespace}/app",
            {"v1.2": "trigger one", "latest": "trigger two", "v2.0": "trigger three"},
        )
        arrived = receiver.wait_for(1, path="/trigger")
        time.sleep(0.5)  # nothing else comes: latest and v2.0 do not match the expression
        assert len(receiver.requests("/trigger")) == 1
    assert arrived[0].signed_with("trigger-secret-of-ours") and arrived[0].headers["x-token"] == "abc"
    assert arrived[0].json()["event_data"]["resources"][0]["tag"] == "v1.2"
    deadline = time.monotonic() + 10
    while True:
        shown = events_ee.client.show_trigger(ShowTriggerRequest(namespace=namespace, repository="app", trigger="hook"))
        if [h.result for h in shown.trigger_history] == ["success"] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert_sdk_types(shown)
    assert [(h.tag, h.result) for h in shown.trigger_history] == [("v1.2", "success")]
    assert (shown.trigger_mode, shown.trigger_type, shown.condition, shown.enable) == (
        "webhook",
        "regular",
        r"^v1\.\d+$",
        "true",
    )
    assert shown.to_json_object()["webhook"]["auth_header"] == "******"
    while True:  # the three tags may have been dispatched in more than one batch
        listed = events_ee.client.list_triggers_details(
            ListTriggersDetailsRequest(namespace=namespace, repository="app")
        )
        deploy = next(t for t in listed.body if t.name == "deploy")
        if len(deploy.trigger_history) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert sorted((h.tag, h.result) for h in deploy.trigger_history) == [("latest", "failed"), ("v1.2", "failed")]
    assert all("not executed" in h.detail for h in deploy.trigger_history)
    events_ee.client.update_trigger(
        UpdateTriggerRequest(
            namespace=namespace, repository="app", trigger="hook", body=UpdateTriggerRequestBody(enable="false")
        )
    )
    assert (
        events_ee.client.show_trigger(ShowTriggerRequest(namespace=namespace, repository="app", trigger="hook")).enable
        == "false"
    )
    for name in ("hook", "deploy"):
        events_ee.client.delete_trigger(DeleteTriggerRequest(namespace=namespace, repository="app", trigger=name))
    assert (
        events_ee.client.list_triggers_details(
            ListTriggersDetailsRequest(namespace=namespace, repository="app")
        ).to_json_object()
        == []
    )


BAD_TRIGGERS = [
    ({"trigger_type": "regular", "condition": "(a"}, "regular expression"),
    ({"trigger_type": "regular", "condition": r"(a)\1"}, "regular expression"),
    ({"trigger_type": "sometimes"}, "trigger_type"),
    ({"trigger_mode": "lambda"}, "trigger_mode"),
    ({"webhook": {"address": "gopher://127.0.0.1/"}}, "http or https"),
    ({"webhook": None}, "webhook"),
    ({"trigger_type": "tag", "condition": "bad tag!"}, "tag"),
    ({"enable": "maybe"}, "enable"),
]


@pytest.mark.parametrize(("change", "words"), BAD_TRIGGERS, ids=[f"{w}-{i}" for i, (_c, w) in enumerate(BAD_TRIGGERS)])
def test_bad_triggers_are_refused_and_nothing_is_stored(
    events_ee: Enterprise, change: dict[str, Any], words: str
) -> None:
    from huaweicloudsdkswr.v2 import (
        CreateNamespaceRequest,
        CreateNamespaceRequestBody,
        CreateRepoRequest,
        CreateRepoRequestBody,
    )

    namespace = unique("badtrig")
    events_ee.client.create_namespace(CreateNamespaceRequest(body=CreateNamespaceRequestBody(namespace=namespace)))
    events_ee.client.create_repo(
        CreateRepoRequest(
            namespace=namespace,
            body=CreateRepoRequestBody(repository="app", is_public=False, category="other", description=""),
        )
    )
    body = {
        "name": "t",
        "trigger_mode": "webhook",
        "trigger_type": "all",
        "enable": "true",
        "webhook": {"address": "http://127.0.0.1:9/hook"},
        **change,
    }
    with pytest.raises(ClientRequestException) as caught:
        events_ee.client.create_trigger(CreateTriggerRequest(namespace=namespace, repository="app", body=body))
    assert caught.value.status_code == 400, caught.value.error_msg
    assert words.lower() in caught.value.error_msg.lower(), caught.value.error_msg
    assert (
        events_ee.client.list_triggers_details(
            ListTriggersDetailsRequest(namespace=namespace, repository="app")
        ).to_json_object()
        == []
    )


# A kill between the commit of a push and its delivery ---------------------------------------------
def test_a_push_committed_before_a_sigkill_is_delivered_once_after_restart(
    ee_server_factory: Any, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The first server does not dispatch in time (its dispatcher first looks after 60 s), so the push's event is
    committed and undelivered when the whole process group is killed; the next server delivers it."""
    from tests.conftest import database_url_for
    from tests.support.servers import free_port

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    url, port = database_url_for(request, "sqlite", data_dir), free_port()
    asleep = {**EVENT_ENV, "MOORAGE_EVENTS__DISPATCH_INTERVAL_SECONDS": "60"}
    server = ee_server_factory(data_dir=data_dir, port=port, database_url=url, env=asleep)
    ee = connect(server)
    world = {
        "instance": create_instance(ee, unique("killed"), domain_name=ee.instance_address),
        "host": ee.instance_address,
    }
    create_namespace(ee, world["instance"], "hooks")
    with webhook_receiver() as receiver:
        policy_id = create_policy(ee, world, receiver)
        upload(world["host"], "hooks/app", {"1.0": "pushed before the kill"})
        created = audit(ee, world, operation="create", limit=100).audit_logs
        pushed = [r for r in created if r.resource == "hooks/app:1.0"]
        assert len(pushed) == 1  # committed
        time.sleep(0.5)
        assert receiver.requests() == []  # and not delivered
        server.kill()
        server = ee_server_factory(data_dir=data_dir, port=port, database_url=url, env=EVENT_ENV)
        ee = connect(server)
        arrived = receiver.wait_for(1, timeout=30)
        time.sleep(1.0)  # time for a second delivery, if there were one
        assert len(receiver.requests()) == 1
        assert arrived[0].signed_with("a-signing-secret-of-ours")
        assert arrived[0].json()["event_data"]["resources"][0]["tag"] == "1.0"
        listed = wait_jobs(ee, world, policy_id, finished=1)
        assert [(j.status, j.id) for j in listed.jobs] == [("Succeed", int(arrived[0].headers["x-moorage-delivery"]))]
