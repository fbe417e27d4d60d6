"""The shared edition's retention through the official SDK (AK/SK), on SQLite and PostgreSQL: a
retention runs as soon as it is created or changed (a job of the server's worker) and its log says
which tags it deleted; one retention per repository; paging of the log; bad input answered 400 in
the SWR error format with nothing stored."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkswr.v2 import (
    CreateNamespaceRequest,
    CreateNamespaceRequestBody,
    CreateRetentionRequest,
    CreateRetentionRequestBody,
    DeleteRetentionRequest,
    ListRetentionHistoriesRequest,
    ListRetentionsRequest,
    Rule,
    ShowRetentionRequest,
    TagSelector,
    UpdateRetentionRequest,
    UpdateRetentionRequestBody,
)

from tests.api.swr.conftest import Swr, assert_sdk_types, assert_swr_error
from tests.support import skopeo
from tests.support.swr_images import image, push, write_layout

REPO, PATH_REPO = "team/app", "team$app"


@pytest.fixture(scope="module")
def namespace(swr: Swr) -> str:
    name = f"retention-{uuid.uuid4().hex[:8]}"
    swr.sdk().create_namespace(CreateNamespaceRequest(body=CreateNamespaceRequestBody(namespace=name)))
    return name


def where(namespace: str, **more: Any) -> dict[str, Any]:
    return {"namespace": namespace, "repository": PATH_REPO, **more}


def tags_of(swr: Swr, namespace: str) -> set[str]:
    with swr.registry() as registry:
        answer = registry.get(f"/v2/{namespace}/{REPO}/tags/list")
    assert answer.status_code == 200, answer.text
    return set(answer.json()["tags"] or [])


def wait_for_log(swr: Swr, namespace: str, expected: set[str], *, timeout: float = 60) -> Any:
    """Poll ListRetentionHistories until the log names exactly ``expected``."""
    deadline = time.monotonic() + timeout
    while True:
        log = swr.sdk().list_retention_histories(ListRetentionHistoriesRequest(**where(namespace)))
        if {entry.tag for entry in log.retention_log} == expected or time.monotonic() > deadline:
            return log
        time.sleep(0.2)


def rule(template: str, count: str, *selectors: tuple[str, str]) -> Rule:
    key = "num" if template == "tag_rule" else "days"
    return Rule(
        template=template,
        params={key: count},
        tag_selectors=[TagSelector(kind=kind, pattern=pattern) for kind, pattern in selectors],
    )


@pytest.mark.requires_tool("skopeo")
def test_a_retention_runs_when_created_and_changed_and_logs_what_it_deleted(
    swr: Swr, namespace: str, tmp_path: Path
) -> None:
    images = {name: image([{"app": name.encode()}], label=name) for name in ("v1", "v2", "v3", "v4", "keep-me")}
    layout = write_layout(tmp_path / "layout", {"v1": images["v1"]})
    skopeo.push(
        layout, "v1", f"{swr.server.address}/{namespace}/{REPO}:v1", creds=(swr.account.name, swr.account.password)
    )
    with swr.registry() as registry:
        for name in ("v2", "v3", "keep-me", "v4"):  # pushed in this order: v4 is the newest
            push(registry, f"{namespace}/{REPO}", name, images[name])
    sdk = swr.sdk()

    created = sdk.create_retention(
        CreateRetentionRequest(
            **where(namespace),
            body=CreateRetentionRequestBody(
                algorithm="or", rules=[rule("tag_rule", "2", ("label", "keep-me"), ("regexp", "^v1$"))]
            ),
        )
    )
    assert isinstance(created.id, int)
    log = wait_for_log(swr, namespace, {"v2"})
    assert tags_of(swr, namespace) == {"v1", "v3", "v4", "keep-me"}
    assert_sdk_types(log)
    entry = log.retention_log[0]
    assert (entry.tag, entry.namespace, entry.repo, entry.retention_id, log.total) == (
        "v2",
        namespace,
        REPO,
        created.id,
        1,
    )
    assert '"template":"tag_rule"' in entry.rule_type and entry.created_at.endswith("Z")

    listed = sdk.list_retentions(ListRetentionsRequest(**where(namespace)))
    assert [r.id for r in listed.body] == [created.id]
    shown = sdk.show_retention(ShowRetentionRequest(**where(namespace, retention_id=created.id)))
    assert_sdk_types(shown)
    assert (shown.algorithm, shown.scope, shown.rules[0].template, shown.rules[0].params) == (
        "or",
        "",
        "tag_rule",
        {"num": "2"},
    )
    assert [(s.kind, s.pattern) for s in shown.rules[0].tag_selectors] == [("label", "keep-me"), ("regexp", "^v1$")]

    with pytest.raises(ClientRequestException) as caught:  # one retention per repository
        sdk.create_retention(
            CreateRetentionRequest(
                **where(namespace), body=CreateRetentionRequestBody(algorithm="or", rules=[rule("date_rule", "30")])
            )
        )
    assert caught.value.status_code == 409

    sdk.update_retention(
        UpdateRetentionRequest(
            **where(namespace, retention_id=created.id),
            body=UpdateRetentionRequestBody(algorithm="or", rules=[rule("tag_rule", "1")]),
        )
    )
    log = wait_for_log(swr, namespace, {"v1", "v2", "v3", "keep-me"})
    assert tags_of(swr, namespace) == {"v4"}
    assert log.total == 4 and [e.tag for e in log.retention_log][-1] == "v2"  # newest first

    page = sdk.list_retention_histories(ListRetentionHistoriesRequest(**where(namespace), limit="2", offset="2"))
    assert (page.content_range, page.total, len(page.retention_log)) == ("2-2/4", 4, 2)
    filtered = sdk.list_retention_histories(
        ListRetentionHistoriesRequest(**where(namespace), filter="limit::3|offset::0")
    )
    assert filtered.content_range == "0-3/4"

    sdk.delete_retention(DeleteRetentionRequest(**where(namespace, retention_id=created.id)))
    with pytest.raises(ClientRequestException) as caught:
        sdk.show_retention(ShowRetentionRequest(**where(namespace, retention_id=created.id)))
    assert caught.value.status_code == 404
    assert sdk.list_retention_histories(ListRetentionHistoriesRequest(**where(namespace))).total == 4  # the log stays


def _rule(**change: Any) -> dict[str, Any]:
    return {"template": "tag_rule", "params": {"num": "3"}, "tag_selectors": [], **change}


BAD_BODIES: dict[str, Any] = {
    "unknown template": {"algorithm": "or", "rules": [_rule(template="size_rule")]},
    "other algorithm": {"algorithm": "and", "rules": [_rule()]},
    "no rules": {"algorithm": "or", "rules": []},
    "negative count": {"algorithm": "or", "rules": [_rule(params={"num": "-1"})]},
    "negative days": {"algorithm": "or", "rules": [_rule(template="date_rule", params={"days": -7})]},
    "zero count": {"algorithm": "or", "rules": [_rule(params={"num": 0})]},
    "count too large": {"algorithm": "or", "rules": [_rule(params={"num": "1001"})]},
    "count not a number": {"algorithm": "or", "rules": [_rule(params={"num": "many"})]},
    "params of another template": {"algorithm": "or", "rules": [_rule(params={"days": "3"})]},
    "params not an object": {"algorithm": "or", "rules": [_rule(params="3")]},
    "missing params": {"algorithm": "or", "rules": [{"template": "tag_rule"}]},
    "unknown selector kind": {"algorithm": "or", "rules": [_rule(tag_selectors=[{"kind": "glob", "pattern": "v*"}])]},
    "regexp that does not compile": {
        "algorithm": "or",
        "rules": [_rule(tag_selectors=[{"kind": "regexp", "pattern": "v(1"}])],
    },
    "regexp with a backreference": {
        "algorithm": "or",
        "rules": [_rule(tag_selectors=[{"kind": "regexp", "pattern": "(a)\\1"}])],
    },
    "regexp too long": {"algorithm": "or", "rules": [_rule(tag_selectors=[{"kind": "regexp", "pattern": "a" * 600}])]},
    "label too long": {"algorithm": "or", "rules": [_rule(tag_selectors=[{"kind": "label", "pattern": "a" * 200}])]},
    "missing algorithm": {"rules": [_rule()]},
    "not an object": ["or"],
}


def test_bad_input_is_refused_and_nothing_is_stored(swr: Swr, namespace: str) -> None:
    base = f"/v2/manage/namespaces/{namespace}/repos/bad$input/retentions"
    with swr.registry() as registry:
        push(registry, f"{namespace}/bad/input", "v1", image([{"a": b"bad input"}], label="bad input"))
    with swr.api() as api:
        for what, body in BAD_BODIES.items():
            answer = api.post(base, json=body)
            assert answer.status_code == 400, (what, answer.text)
            error = answer.json()
            assert error["error_code"].startswith("SVCSTG.SWR.400") and error["error_msg"], (what, error)
        assert api.get(base).json() == []
        good = api.post(base, json={"algorithm": "or", "rules": [_rule(params={"num": "5"})]})
        assert good.status_code == 201, good.text
        retention_id = good.json()["id"]
        for what, body in BAD_BODIES.items():
            answer = api.patch(f"{base}/{retention_id}", json=body)
            assert answer.status_code == 400, (what, answer.text)
        shown = api.get(f"{base}/{retention_id}").json()
        assert shown["rules"] == [{"template": "tag_rule", "params": {"num": "5"}, "tag_selectors": []}]
        for query in (
            {"limit": "0"},
            {"limit": "x"},
            {"offset": "3", "limit": "2"},
            {"filter": "limit::2|colour::red"},
        ):
            answer = api.get(f"{base}/histories", params=query)
            assert answer.status_code == 400, (query, answer.text)
        missing = api.post(
            f"/v2/manage/namespaces/{namespace}/repos/no-such/retentions", json={"algorithm": "or", "rules": [_rule()]}
        )
        assert missing.status_code == 404, missing.text
        assert api.get(f"{base}/{retention_id + 1000}").status_code == 404
        for beyond in (2**63, 2**70, -1):  # no id past PostgreSQL's bigint reaches the database
            assert api.get(f"{base}/{beyond}").status_code == 400, beyond
        assert api.delete(f"{base}/{retention_id}").status_code == 204
    with pytest.raises(ClientRequestException) as caught:
        swr.sdk().list_retentions(ListRetentionsRequest(namespace=namespace, repository="no-such"))
    assert_swr_error(caught, 404, "SVCSTG.SWR.4040010")
