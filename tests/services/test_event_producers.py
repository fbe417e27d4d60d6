"""Changes outside the registry's push and delete path are events too (docs/events.md): IAM users and
access keys, HSS image-security settings, organizations' quota refusals (Harbor's ``QUOTA_EXCEED``),
through moorage in the test process over HTTP, with who did it and from where, and never a secret."""

from __future__ import annotations

import hashlib
import json
import os
import time
from typing import Any

import anyio
from sqlalchemy import select

from moorage.domain.events import WebhookEventType, webhook_event_type
from moorage.domain.webhooks import harbor_payload
from moorage.metadata.database import Database
from moorage.metadata.queries import events as events_q
from moorage.metadata.tables import events
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, AppFactory
from tests.support.accounts import Account, create_access_key, iam_token, management, project_id

ADMIN = Account(ADMIN_USER, ADMIN_PASSWORD, ADMIN_USER)


def recorded(db: Database, resource_type: str) -> list[dict[str, Any]]:
    """Event rows about one kind of resource, oldest first, their detail parsed."""
    rows = db.run_read(
        lambda conn: (
            conn.execute(select(events).where(events.c.resource_type == resource_type).order_by(events.c.id))
            .mappings()
            .all()
        )
    )
    return [{**row, "detail": json.loads(row["detail"]) if row["detail"] else {}} for row in rows]


def wait_for(db: Database, resource_type: str, count: int, *, seconds: float = 10.0) -> list[dict[str, Any]]:
    """The events of a kind once there are ``count`` (events noted in the buffer are written in batches)."""
    deadline = time.monotonic() + seconds
    while True:
        found = recorded(db, resource_type)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_iam_users_and_access_keys_are_recorded_without_secrets(app_moorage_factory: AppFactory) -> None:
    server = app_moorage_factory()
    db = server.services.db
    with management(server, iam_token(server, ADMIN)) as api:
        made = api.post("/v3/users", json={"user": {"name": "auditee", "password": "user-password-1"}})
        assert made.status_code == 201, made.text
        user_id = made.json()["user"]["id"]
        access, secret = create_access_key(server, ADMIN)
        assert api.delete(f"/v3.0/OS-CREDENTIAL/credentials/{access}").status_code == 204
        assert api.delete(f"/v3/users/{user_id}").status_code == 204

    users = [
        (e["operation"], e["resource"], e["actor_name"]) for e in recorded(db, "user") if e["resource"] == "auditee"
    ]
    assert users == [("create", "auditee", ADMIN_USER), ("delete", "auditee", ADMIN_USER)]
    keys = recorded(db, "access_key")
    assert [(e["operation"], e["resource"]) for e in keys] == [("create", access), ("delete", access)]
    assert all(e["client_address"] and e["domain_id"] and e["actor_name"] == ADMIN_USER for e in keys)
    everything = db.run_read(lambda conn: conn.execute(select(events.c.detail, events.c.resource)).all())
    assert not any(secret in f"{detail}{resource}" for detail, resource in everything)


def test_hss_settings_are_recorded_for_the_account(app_moorage_factory: AppFactory) -> None:
    server = app_moorage_factory()
    db = server.services.db
    project = project_id(server)
    with management(server, iam_token(server, ADMIN)) as api:
        paths = api.post(f"/v5/{project}/image/sensitive/filepath-whitelist", json={"customized_path": ["/opt/a"]})
        assert paths.status_code == 200, paths.text
        words = api.post(
            f"/v5/{project}/image/baseline/extended-weak-password",
            json={"extended_weak_password": ["hunter2-but-longer"]},
        )
        assert words.status_code == 200, words.text
        added = api.post(
            f"/v5/{project}/image/whitelists", json={"vul_ids": ["CVE-2031-0001"], "rule_type": "all_images"}
        )
        assert added.status_code == 200, added.text
        (whitelist,) = api.get(f"/v5/{project}/image/whitelists").json()["data_list"]
        assert api.request("DELETE", f"/v5/{project}/image/whitelists", json={"ids": [whitelist["id"]]}).is_success

    settings = [(e["operation"], e["resource"], e["detail"]) for e in recorded(db, "security_policy")]
    assert settings == [
        ("update", "path_allowlist", {"paths": 1}),
        ("update", "weak_passwords", {"passwords": 1}),  # how many, never the words
    ]
    whitelists = recorded(db, "vulnerability_whitelist")
    assert [(e["operation"], e["resource"]) for e in whitelists] == [
        ("create", whitelist["id"]),
        ("delete", whitelist["id"]),
    ]
    assert whitelists[0]["detail"]["vul_id"] == "CVE-2031-0001" and whitelists[0]["actor_name"] == ADMIN_USER


def test_a_push_a_quota_refuses_is_recorded_once_per_window_as_quota_exceed(app_moorage_factory: AppFactory) -> None:
    server = app_moorage_factory(
        quota={"namespace_storage_bytes": 4096},
        events={"buffer_flush_seconds": 0.1, "quota_refusal_repeat_seconds": 60},
    )
    db = server.services.db
    data = os.urandom(10_000)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with server.client(auth=(ADMIN_USER, ADMIN_PASSWORD)) as client:
        for _ in range(3):  # a client retrying: one event
            refused = client.post(f"/v2/full/app/blobs/uploads/?digest={digest}", content=data)
            assert refused.status_code == 403, refused.text
            assert refused.json()["errors"][0]["code"] == "DENIED"

    (event,) = wait_for(db, "quota", 1)
    time.sleep(0.3)  # a second flush would have written any repeat
    assert len(recorded(db, "quota")) == 1
    assert (event["operation"], event["result"], event["repository"], event["namespace"]) == (
        "create",
        "failure",
        "full/app",
        "full",
    )
    assert event["actor_name"] == ADMIN_USER and event["detail"]["reason"] == "storage_quota"
    stored = db.run_read(lambda conn: events_q.get(conn, event["id"]))
    assert stored is not None and webhook_event_type(stored) is WebhookEventType.QUOTA_EXCEED
    payload = json.loads(
        harbor_payload(
            stored,
            WebhookEventType.QUOTA_EXCEED,
            registry_host="r.example",
            repository_public=False,
            repository_created_at=0,
        )
    )
    assert payload["type"] == "QUOTA_EXCEED"
    assert "refused" in payload["event_data"]["custom_attributes"]["Details"]
    assert payload["event_data"]["repository"]["repo_full_name"] == "full/app"


def test_a_push_crossing_the_warning_share_of_a_quota_is_recorded_once_as_quota_warning(
    app_moorage_factory: AppFactory,
) -> None:
    """10,000-byte organization quota, warning at 50%: 3,000 bytes stay below, the next 3,000 cross
    (one warning), 2,000 more stay past it (none), and pushes to another organization warn nothing."""
    server = app_moorage_factory(quota={"namespace_storage_bytes": 10_000, "warning_percent": 50})
    db = server.services.db
    with server.client(auth=(ADMIN_USER, ADMIN_PASSWORD)) as client:
        for namespace, size in (("near", 3_000), ("near", 3_000), ("near", 2_000), ("other", 3_000)):
            data = os.urandom(size)
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            pushed = client.post(f"/v2/{namespace}/app/blobs/uploads/?digest={digest}", content=data)
            assert pushed.status_code == 201, pushed.text

    (event,) = recorded(db, "quota")  # written with the reservation: no buffer to wait for
    assert (event["operation"], event["result"], event["repository"]) == ("update", "success", "near/app")
    assert event["detail"]["reason"] == "storage_quota_warning"
    assert (event["detail"]["used"], event["detail"]["limit"]) == (6_000, 10_000)
    stored = db.run_read(lambda conn: events_q.get(conn, event["id"]))
    assert stored is not None and webhook_event_type(stored) is WebhookEventType.QUOTA_WARNING
    payload = json.loads(
        harbor_payload(
            stored,
            WebhookEventType.QUOTA_WARNING,
            registry_host="r.example",
            repository_public=False,
            repository_created_at=0,
        )
    )
    assert payload["type"] == "QUOTA_WARNING"
    assert "6,000 bytes of its 10,000" in payload["event_data"]["custom_attributes"]["Details"]


def test_a_mount_crossing_the_warning_share_is_a_quota_warning_too(app_moorage_factory: AppFactory) -> None:
    server = app_moorage_factory(quota={"namespace_storage_bytes": 10_000, "warning_percent": 50})
    db = server.services.db
    data = os.urandom(6_000)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with server.client(auth=(ADMIN_USER, ADMIN_PASSWORD)) as client:
        pushed = client.post(f"/v2/first/app/blobs/uploads/?digest={digest}", content=data)
        assert pushed.status_code == 201, pushed.text
        mounted = client.post("/v2/second/app/blobs/uploads/", params={"mount": digest, "from": "first/app"})
        assert mounted.status_code == 201, mounted.text

    warnings = [(e["repository"], e["detail"]["used"]) for e in recorded(db, "quota")]
    assert warnings == [("first/app", 6_000), ("second/app", 6_000)]


def test_a_gc_schedule_change_is_recorded_for_the_instance(app_moorage_factory: AppFactory) -> None:
    server = app_moorage_factory()
    db = server.services.db
    anyio.run(
        lambda: server.services.gc.set_schedule(
            instance_id="default", type_="Custom", cron="0 0 3 * * *", parameters=None
        )
    )
    (event,) = recorded(db, "gc")
    assert (event["operation"], event["resource"], event["instance_id"]) == ("update", "schedule", "default")
    assert event["detail"] == {"type": "Custom", "cron": "0 0 3 * * *"} and event["actor_via"] == "system"
