"""The pure parts of webhooks, triggers and events: target and auth-header rules (property-tested: any
text is accepted or refused with ``Invalid``, never another error), RE2 conditions (linear time on a
pattern that would stall a backtracking engine), the event-type mapping and Harbor's payload."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moorage.domain.errors import Invalid
from moorage.domain.events import (
    Actor,
    Event,
    Operation,
    ResourceType,
    Result,
    WebhookEventType,
    webhook_event_type,
)
from moorage.domain.triggers import TriggerType, check_condition, selects
from moorage.domain.webhooks import check_address, check_event_types, check_name, harbor_payload, parse_auth_header
from moorage.services.events.delivery import DeliveryPolicy, sign
from moorage.services.events.scheduling import PruneSchedule


@pytest.mark.parametrize(
    "value, headers",
    [
        ("Bearer abc", {"Authorization": "Bearer abc"}),
        ("Authorization:Basic eA==;X-Team: ops", {"Authorization": "Basic eA==", "X-Team": "ops"}),
        ("", {}),
    ],
)
def test_auth_headers_in_both_forms(value: str, headers: dict[str, str]) -> None:
    assert parse_auth_header(value) == headers


@pytest.mark.parametrize(
    "value", ["X-A:1\r\nX-B:2", "Bad Name:1", "Content-Length:5", "X-Moorage-Signature-256:x", ":no-name"]
)
def test_bad_auth_headers_are_refused(value: str) -> None:
    with pytest.raises(Invalid):
        parse_auth_header(value)


@given(st.text(max_size=300))
def test_auth_header_parser_accepts_or_refuses_any_text(value: str) -> None:
    try:
        headers = parse_auth_header(value)
    except Invalid:
        return
    assert all("\r" not in v and "\n" not in v for v in headers.values())


@pytest.mark.parametrize("address", ["http://127.0.0.1:8080/hook", "https://hooks.example.test/a?b=c"])
def test_good_addresses(address: str) -> None:
    assert check_address(address) == address


@pytest.mark.parametrize(
    "address",
    [
        "ftp://h/x",
        "http:///x",
        "http://u:p@h/x",
        "http://h:0/x",
        "http://h/x#f",
        "http://h/a b",
        "",
        "http://h:99999/x",
        "x" * 3000,
    ],
)
def test_bad_addresses(address: str) -> None:
    with pytest.raises(Invalid):
        check_address(address)


@given(st.text(max_size=200))
def test_address_check_accepts_or_refuses_any_text(value: str) -> None:
    with contextlib.suppress(Invalid):
        check_address(value)


def test_names_and_event_types() -> None:
    assert check_name("构建-hook_1") == "构建-hook_1"
    for bad in ("", "a b", "x" * 257, "a/b"):
        with pytest.raises(Invalid):
            check_name(bad)
    assert check_event_types(["PUSH_ARTIFACT", "PUSH_ARTIFACT", "SCANNING_FAILED"]) == (
        "PUSH_ARTIFACT",
        "SCANNING_FAILED",
    )
    with pytest.raises(Invalid):
        check_event_types(["push_artifact"])


def test_trigger_conditions() -> None:
    assert check_condition(TriggerType.ALL, "anything") == ".*"
    assert check_condition(TriggerType.TAG, " v1, latest ,v1") == "v1,latest"
    assert selects(TriggerType.TAG, "v1,latest", "latest") and not selects(TriggerType.TAG, "v1,latest", "v2")
    assert selects(TriggerType.REGULAR, r"v1\.\d+", "v1.20") and not selects(TriggerType.REGULAR, r"v1\.\d+", "v1.x")
    assert not selects(TriggerType.REGULAR, "v1", "v1.0")  # the whole tag must match
    for bad in ("(", r"(a)\1", "x" * 600):
        with pytest.raises(Invalid):
            check_condition(TriggerType.REGULAR, bad)


def test_a_catastrophic_pattern_matches_in_linear_time() -> None:
    check_condition(TriggerType.REGULAR, "(a+)+$")
    started = time.monotonic()
    assert not selects(TriggerType.REGULAR, "(a+)+$", "a" * 127 + "!")  # Python's re takes ages on this
    assert time.monotonic() - started < 0.5


def _event(operation: Operation, kind: ResourceType, result: Result = Result.SUCCESS, tag: str = "1.0") -> Event:
    return Event(
        id=7,
        occurred_at=1_700_000_000_123,
        instance_id="i",
        domain_id="d",
        operation=operation,
        resource_type=kind,
        resource=f"team/app:{tag}",
        result=result,
        namespace="team",
        repository="team/app",
        tag=tag,
        digest="sha256:" + "b" * 64,
        actor=Actor("u", "alice", "d", "acme", "token"),
        client_address="127.0.0.1",
        detail={},
    )


def test_which_events_are_which_webhook_types() -> None:
    assert webhook_event_type(_event(Operation.CREATE, ResourceType.ARTIFACT)) is WebhookEventType.PUSH_ARTIFACT
    assert webhook_event_type(_event(Operation.CREATE, ResourceType.TAG)) is WebhookEventType.PUSH_ARTIFACT
    assert webhook_event_type(_event(Operation.PULL, ResourceType.ARTIFACT)) is WebhookEventType.PULL_ARTIFACT
    for kind in (ResourceType.ARTIFACT, ResourceType.TAG, ResourceType.REPOSITORY):
        assert webhook_event_type(_event(Operation.DELETE, kind)) is WebhookEventType.DELETE_ARTIFACT
    assert webhook_event_type(_event(Operation.SCAN, ResourceType.ARTIFACT)) is WebhookEventType.SCANNING_COMPLETED
    assert (
        webhook_event_type(_event(Operation.SCAN, ResourceType.ARTIFACT, Result.FAILURE))
        is WebhookEventType.SCANNING_FAILED
    )
    assert webhook_event_type(_event(Operation.CREATE, ResourceType.NAMESPACE)) is None
    assert webhook_event_type(_event(Operation.LOGIN, ResourceType.USER, Result.FAILURE)) is None


def test_harbors_payload() -> None:
    body = json.loads(
        harbor_payload(
            _event(Operation.CREATE, ResourceType.ARTIFACT),
            WebhookEventType.PUSH_ARTIFACT,
            registry_host="reg.test:5000",
            repository_public=True,
            repository_created_at=1_600_000_000_999,
        )
    )
    assert body == {
        "type": "PUSH_ARTIFACT",
        "occur_at": 1_700_000_000,
        "operator": "alice",
        "event_data": {
            "resources": [{"digest": "sha256:" + "b" * 64, "tag": "1.0", "resource_url": "reg.test:5000/team/app:1.0"}],
            "repository": {
                "date_created": 1_600_000_000,
                "name": "app",
                "namespace": "team",
                "repo_full_name": "team/app",
                "repo_type": "public",
            },
        },
    }


def test_signature_and_backoff() -> None:
    assert sign("k", b"{}") == "sha256=" + hmac.new(b"k", b"{}", hashlib.sha256).hexdigest()
    policy = DeliveryPolicy(egress=None, retry_base_seconds=2, retry_max_seconds=10)  # type: ignore[arg-type]
    assert [policy.backoff(n) for n in range(1, 6)] == [2, 4, 8, 10, 10]


def test_the_prune_is_queued_once_per_interval() -> None:
    queued: list[str] = []
    schedule = PruneSchedule(
        lambda kind, params, *, dedupe_key, max_attempts: queued.append(dedupe_key), interval_seconds=3600
    )
    assert schedule.tick(now=7200) and not schedule.tick(now=7300) and schedule.tick(now=10800)
    assert queued == ["events.prune:2", "events.prune:3"]
