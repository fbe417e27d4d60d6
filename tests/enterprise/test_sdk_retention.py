"""Enterprise Edition retention policies through the official SDK, on SQLite and PostgreSQL: the
policy operations, executions run by the server's worker (a dry run first, then for real) with
their tasks and subtasks and the signature executions' paging and status filter, a scheduled
trigger, and bad input answered 400 in the SWR error format with nothing stored."""

from __future__ import annotations

import time
from typing import Any

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkswr.v2 import (
    CreateImmutableRuleBody,
    CreateImmutableRuleRequest,
    CreateInstanceRetentionPolicyRequest,
    CreateRetentionPolicyRequestBody,
    DeleteInstanceRetentionPolicyRequest,
    ExecuteInstanceRetentionPolicyRequest,
    ExecuteRetentionPolicyRequestBody,
    ListInstanceRetentionPoliciesRequest,
    ListInstanceRetentionPolicyExecSubTasksRequest,
    ListInstanceRetentionPolicyExecTasksRequest,
    ListInstanceRetentionPolicyExecutionsRequest,
    RetentionRule,
    RetentionSelector,
    RuleSelector,
    ShowInstanceRetentionPolicyRequest,
    TriggerConfig,
    TriggerSetting,
    UpdateInstanceRetentionPolicyRequest,
    UpdateRetentionPolicyRequestBody,
)

from tests.api.swr.conftest import assert_sdk_types
from tests.enterprise import layouts
from tests.enterprise.support import FINISHED, Enterprise, create_instance, create_namespace, unique, upload


@pytest.fixture(scope="module")
def world(ee: Enterprise) -> dict[str, Any]:
    """An instance reachable at ``ee.instance_address`` with the namespaces ``keep`` and ``other``."""
    instance_id = create_instance(ee, unique("retention"), domain_name=ee.instance_address)
    ids = {name: create_namespace(ee, instance_id, name) for name in ("keep", "other")}
    return {"instance": instance_id, "namespace_ids": ids, "host": ee.instance_address}


def selector(decoration: str, pattern: str, extras: str | None = None) -> RetentionSelector:
    return RetentionSelector(kind="doublestar", decoration=decoration, pattern=pattern, extras=extras)


def retention_rule(
    template: str = "latestPushedK", count: int | None = 1, *, tags: str = "**", repositories: str = "**"
) -> RetentionRule:
    return RetentionRule(
        priority=0,
        disabled=False,
        action="retain",
        template=template,
        params={template: count} if count is not None else {},
        tag_selectors=[selector("matches", tags)],
        scope_selectors={"repository": [selector("repoMatches", repositories)]},
        repo_scope_mode="regular",
    )


def create_policy(
    ee: Enterprise,
    world: dict[str, Any],
    namespace: str,
    rules: list[RetentionRule],
    *,
    trigger: TriggerConfig | None = None,
    name: str | None = None,
) -> int:
    created = ee.client.create_instance_retention_policy(
        CreateInstanceRetentionPolicyRequest(
            instance_id=world["instance"],
            namespace_name=namespace,
            body=CreateRetentionPolicyRequestBody(
                algorithm="or",
                enabled=True,
                rules=rules,
                trigger=trigger or TriggerConfig(type="manual"),
                name=name or unique("policy"),
            ),
        )
    )
    assert isinstance(created.id, int)
    return int(created.id)


def executions(ee: Enterprise, world: dict[str, Any], namespace: str, policy_id: int) -> Any:
    return ee.client.list_instance_retention_policy_executions(
        ListInstanceRetentionPolicyExecutionsRequest(
            instance_id=world["instance"], namespace_name=namespace, policy_id=policy_id, offset=0, limit=100
        )
    )


def wait_finished(
    ee: Enterprise, world: dict[str, Any], namespace: str, policy_id: int, execution_id: int, timeout: float = 60
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = next((e for e in executions(ee, world, namespace, policy_id).executions if e.id == execution_id), None)
        if found is not None and found.status in FINISHED:
            return found
        time.sleep(0.2)
    raise AssertionError(f"execution {execution_id} did not finish:\n{ee.server.log()[-3000:]}")


def tags_of(host: str, repository: str) -> set[str]:
    import httpx

    from tests.conftest import ADMIN_PASSWORD, ADMIN_USER

    token = httpx.get(
        f"http://{host}/service/token",
        params={"scope": f"repository:{repository}:pull"},
        auth=(ADMIN_USER, ADMIN_PASSWORD),
        timeout=30,
    ).json()["token"]
    answer = httpx.get(
        f"http://{host}/v2/{repository}/tags/list", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    return set(answer.json()["tags"] or [])


def test_policy_lifecycle(ee: Enterprise, world: dict[str, Any]) -> None:
    instance_id = world["instance"]
    name = unique("lifecycle")
    policy_id = create_policy(
        ee, world, "keep", [retention_rule("nDaysSinceLastPull", 30, tags="v*", repositories="web/**")], name=name
    )
    other_id = create_policy(ee, world, "other", [retention_rule("always", None)])
    shown = ee.client.show_instance_retention_policy(
        ShowInstanceRetentionPolicyRequest(instance_id=instance_id, namespace_name="keep", policy_id=policy_id)
    )
    assert_sdk_types(shown, optional=frozenset({"extras"}))
    assert (shown.name, shown.algorithm, shown.enabled, shown.namespace_name, shown.trigger.type) == (
        name,
        "or",
        True,
        "keep",
        "manual",
    )
    rule = shown.rules[0]
    assert (rule.id, rule.template, rule.params, rule.action, rule.repo_scope_mode) == (
        1,
        "nDaysSinceLastPull",
        {"nDaysSinceLastPull": 30},
        "retain",
        "regular",
    )
    assert (rule.tag_selectors[0].pattern, rule.scope_selectors["repository"][0].pattern) == ("v*", "web/**")

    listed = ee.client.list_instance_retention_policies(ListInstanceRetentionPoliciesRequest(instance_id=instance_id))
    assert {p.id for p in listed.retentions} >= {policy_id, other_id}
    narrowed = ee.client.list_instance_retention_policies(
        ListInstanceRetentionPoliciesRequest(instance_id=instance_id, namespace_id=world["namespace_ids"]["other"])
    )
    assert [p.id for p in narrowed.retentions] == [other_id] and narrowed.total == 1
    by_name = ee.client.list_instance_retention_policies(
        ListInstanceRetentionPoliciesRequest(instance_id=instance_id, name=name)
    )
    assert [p.id for p in by_name.retentions] == [policy_id]

    ee.client.update_instance_retention_policy(
        UpdateInstanceRetentionPolicyRequest(
            instance_id=instance_id,
            namespace_name="keep",
            policy_id=policy_id,
            body=UpdateRetentionPolicyRequestBody(
                algorithm="or",
                enabled=False,
                rules=[retention_rule("latestPushedK", 5)],
                name=name + "-renamed",
                trigger=TriggerConfig(type="scheduled", trigger_settings=TriggerSetting(cron="0 0 2 * * *")),
            ),
        )
    )
    changed = ee.client.show_instance_retention_policy(
        ShowInstanceRetentionPolicyRequest(instance_id=instance_id, namespace_name="keep", policy_id=policy_id)
    )
    assert (
        changed.name,
        changed.enabled,
        changed.trigger.type,
        changed.trigger.trigger_settings.cron,
        changed.rules[0].params,
    ) == (name + "-renamed", False, "scheduled", "0 0 2 * * *", {"latestPushedK": 5})

    for namespace, policy in (("keep", policy_id), ("other", other_id)):
        ee.client.delete_instance_retention_policy(
            DeleteInstanceRetentionPolicyRequest(instance_id=instance_id, namespace_name=namespace, policy_id=policy)
        )
    with pytest.raises(ClientRequestException) as caught:
        ee.client.show_instance_retention_policy(
            ShowInstanceRetentionPolicyRequest(instance_id=instance_id, namespace_name="keep", policy_id=policy_id)
        )
    assert caught.value.status_code == 404


def test_executions_dry_run_then_for_real(ee: Enterprise, world: dict[str, Any]) -> None:
    instance_id, host = world["instance"], world["host"]
    upload(host, "keep/web", {name: f"web {name}" for name in ("v1", "v2", "v3", "stable", "v4")})
    upload(host, "keep/tools", {"t1": "tools 1", "t2": "tools 2"})
    ee.client.create_immutable_rule(
        CreateImmutableRuleRequest(
            instance_id=instance_id,
            namespace_name="keep",
            body=CreateImmutableRuleBody(
                tag_selectors=[RuleSelector(kind="doublestar", decoration="matches", pattern="stable")],
                scope_selectors={
                    "repository": [RuleSelector(kind="doublestar", decoration="repoMatches", pattern="web")]
                },
            ),
        )
    )
    policy_id = create_policy(ee, world, "keep", [retention_rule("latestPushedK", 1, repositories="web")])
    where = {"instance_id": instance_id, "namespace_name": "keep", "policy_id": policy_id}

    dry = ee.client.execute_instance_retention_policy(
        ExecuteInstanceRetentionPolicyRequest(**where, body=ExecuteRetentionPolicyRequestBody(dry_run=True))
    )
    finished = wait_finished(ee, world, "keep", policy_id, dry.id)
    assert (finished.status, finished.dry_run, finished.trigger) == ("Succeed", True, "manual")
    assert finished.start_time and finished.end_time
    assert tags_of(host, "keep/web") == {"v1", "v2", "v3", "stable", "v4"}

    real = ee.client.execute_instance_retention_policy(
        ExecuteInstanceRetentionPolicyRequest(**where, body=ExecuteRetentionPolicyRequestBody(dry_run=False))
    )
    assert wait_finished(ee, world, "keep", policy_id, real.id).status == "Succeed"
    assert tags_of(host, "keep/web") == {"stable", "v4"}  # v4 the newest; "stable" immutable
    assert tags_of(host, "keep/tools") == {"t1", "t2"}  # no rule covers "tools"
    listed = executions(ee, world, "keep", policy_id)
    assert_sdk_types(listed)
    assert [e.id for e in listed.executions] == [real.id, dry.id] and listed.total == 2

    tasks = ee.client.list_instance_retention_policy_exec_tasks(
        ListInstanceRetentionPolicyExecTasksRequest(**where, execution_id=real.id)
    )
    assert_sdk_types(tasks)
    task = tasks.tasks[0]
    assert (tasks.total, task.repository, task.status, task.status_code, task.total, task.retained) == (
        1,
        "web",
        "Succeed",
        3,
        5,
        2,
    )
    subtasks = ee.client.list_instance_retention_policy_exec_sub_tasks(
        ListInstanceRetentionPolicyExecSubTasksRequest(
            **where, execution_id=real.id, task_id=task.id, status="Succeed", offset=0, limit=2
        )
    )
    assert_sdk_types(subtasks)
    assert subtasks.total == 3 and [s.tag for s in subtasks.sub_tasks] == ["v1", "v2"]
    assert {(s.action, s.job_id, s.namespace, s.repository) for s in subtasks.sub_tasks} == {
        ("DEL", task.id, "keep", "web")
    }
    assert subtasks.sub_tasks[0].digest == layouts.manifest_digest("web v1")
    rest = ee.client.list_instance_retention_policy_exec_sub_tasks(
        ListInstanceRetentionPolicyExecSubTasksRequest(
            **where, execution_id=real.id, task_id=task.id, offset=2, limit=2
        )
    )
    assert [s.tag for s in rest.sub_tasks] == ["v3"]
    failed = ee.client.list_instance_retention_policy_exec_sub_tasks(
        ListInstanceRetentionPolicyExecSubTasksRequest(**where, execution_id=real.id, task_id=task.id, status="Failed")
    )
    assert failed.total == 0
    with ee.http() as api:
        base = f"/v2/{ee.project}/instances/{instance_id}/namespaces/keep/retention/policies/{policy_id}/executions"
        for query in ({"offset": 1, "limit": 2}, {"limit": 101}, {"status": "Done"}):
            answer = api.get(f"{base}/{real.id}/tasks/{task.id}/subtasks", params=query)
            assert answer.status_code == 400 and answer.json()["error_code"] == "SVCSTG.SWR.4000014", answer.text
        assert api.get(f"{base}/{real.id}/tasks/{task.id + 999}/subtasks").status_code == 404
        assert api.get(f"{base}/{real.id + 999}/tasks").status_code == 404


def test_a_scheduled_policy_runs_on_its_cron(ee: Enterprise, world: dict[str, Any]) -> None:
    upload(world["host"], "other/cron", {"a": "cron a", "b": "cron b"})
    every_second = TriggerConfig(type="scheduled", trigger_settings=TriggerSetting(cron="* * * * * *"))
    policy_id = create_policy(
        ee, world, "other", [retention_rule("latestPushedK", 1, repositories="cron")], trigger=every_second
    )
    deadline = time.monotonic() + 30
    found: list[Any] = []
    while not found and time.monotonic() < deadline:
        found = [e for e in executions(ee, world, "other", policy_id).executions if e.trigger == "scheduled"]
        time.sleep(0.3)
    assert found, ee.server.log()[-3000:]
    # Found as soon as it is created: wait for the run to end before looking at the tags.
    finished = wait_finished(ee, world, "other", policy_id, found[0].id)
    ee.client.delete_instance_retention_policy(
        DeleteInstanceRetentionPolicyRequest(instance_id=world["instance"], namespace_name="other", policy_id=policy_id)
    )
    assert finished.status == "Succeed"
    assert tags_of(world["host"], "other/cron") == {"b"}


def _rule(**change: Any) -> dict[str, Any]:
    return {
        "priority": 0,
        "action": "retain",
        "template": "latestPushedK",
        "params": {"latestPushedK": 3},
        "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "**"}],
        "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]},
        **change,
    }


def _body(**change: Any) -> dict[str, Any]:
    return {
        "algorithm": "or",
        "enabled": True,
        "name": "bad-input",
        "trigger": {"type": "manual"},
        "rules": [_rule()],
        **change,
    }


def _tag_selector(pattern: str) -> list[dict[str, str]]:
    return [{"kind": "doublestar", "decoration": "matches", "pattern": pattern}]


BAD_BODIES: dict[str, Any] = {
    "unknown template": _body(rules=[_rule(template="keepNewest")]),
    "negative count": _body(rules=[_rule(params={"latestPushedK": -1})]),
    "zero count": _body(rules=[_rule(params={"latestPushedK": 0})]),
    "count of another template": _body(rules=[_rule(params={"latestPulledN": 3})]),
    "count not a number": _body(rules=[_rule(params={"latestPushedK": "ten"})]),
    "other action": _body(rules=[_rule(action="delete")]),
    "invalid cron": _body(trigger={"type": "scheduled", "trigger_settings": {"cron": "* * *"}}),
    "cron out of range": _body(trigger={"type": "scheduled", "trigger_settings": {"cron": "0 61 * * * *"}}),
    "event trigger": _body(trigger={"type": "event_based"}),
    "unknown trigger": _body(trigger={"type": "hourly"}),
    "other algorithm": _body(algorithm="and"),
    "no rules": _body(rules=[]),
    "bad name": _body(name="no spaces allowed"),
    "tag selector that does not compile": _body(rules=[_rule(tag_selectors=_tag_selector("v{1"))]),
    "repository selector that does not compile": _body(
        rules=[
            _rule(
                scope_selectors={
                    "repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "[z-a]"}]
                }
            )
        ]
    ),
    "selector too long": _body(rules=[_rule(tag_selectors=_tag_selector("a" * 513))]),
    "regexp selector": _body(
        rules=[_rule(tag_selectors=[{"kind": "regexp", "decoration": "matches", "pattern": "v.*"}])]
    ),
    "extras not JSON": _body(
        rules=[
            _rule(
                tag_selectors=[{"kind": "doublestar", "decoration": "matches", "pattern": "**", "extras": "{untagged"}]
            )
        ]
    ),
    "unknown scope": _body(
        rules=[
            _rule(scope_selectors={"project": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]})
        ]
    ),
    "negative priority": _body(rules=[_rule(priority=-1)]),
    "rules not a list": _body(rules={"template": "always"}),
    "not an object": ["or"],
}


def test_bad_input_is_refused_and_nothing_is_stored(ee: Enterprise, world: dict[str, Any]) -> None:
    instance_id = world["instance"]
    base = f"/v2/{ee.project}/instances/{instance_id}/namespaces/keep/retention/policies"
    policy_id = create_policy(ee, world, "keep", [retention_rule("always", None)], name="stays-as-it-is")
    before = ee.client.list_instance_retention_policies(
        ListInstanceRetentionPoliciesRequest(instance_id=instance_id, limit=100)
    )
    with ee.http() as api:
        for what, body in BAD_BODIES.items():
            for method, path in (("POST", base), ("PUT", f"{base}/{policy_id}")):
                answer = api.request(method, path, json=body)
                assert answer.status_code == 400, (what, method, answer.text)
                error = answer.json()
                assert error["error_code"].startswith("SVCSTG.SWR.400") and error["error_msg"], (what, error)
        duplicate = api.post(base, json=_body(name="stays-as-it-is"))
        assert duplicate.status_code == 409, duplicate.text
        missing = api.post(base.replace("/keep/", "/no-such-namespace/"), json=_body())
        assert missing.status_code == 404, missing.text
        listing = f"/v2/{ee.project}/instances/{instance_id}/retention/policies"
        for query in ({"offset": 3, "limit": 2}, {"offset": 2**70, "limit": 2}, {"namespace_id": 2**64}):
            assert api.get(listing, params=query).status_code == 400, query
        for beyond in (2**63, 2**70):  # no id past PostgreSQL's bigint reaches the database
            assert api.get(f"{base}/{beyond}").status_code == 400
            assert api.get(f"{base}/{policy_id}/executions/{beyond}/tasks").status_code == 400
    after = ee.client.list_instance_retention_policies(
        ListInstanceRetentionPoliciesRequest(instance_id=instance_id, limit=100)
    )
    assert [(p.id, p.to_dict()) for p in after.retentions] == [(p.id, p.to_dict()) for p in before.retentions]
    ee.client.delete_instance_retention_policy(
        DeleteInstanceRetentionPolicyRequest(instance_id=instance_id, namespace_name="keep", policy_id=policy_id)
    )
