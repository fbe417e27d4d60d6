"""The Enterprise operations pages in process, on SQLite (what they show; their forms are
test_console_actions.py): retention, garbage collection, replication, webhooks and the audit log of
an instance show what the API made, page by 20 rows, have empty states, are refused (403) to a user
without the API's right and show nothing of the instance to a user who may see only part of it, and
never print a registry's password or a webhook's auth header."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Any

import httpx

from tests.api.console.test_console_pages import _create_user
from tests.api.console.test_console_sessions import sign_in
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.support.accounts import Account, iam_token, management, project_id
from tests.support.inprocess import InProcessMoorage

ADMIN = Account(ADMIN_USER, ADMIN_PASSWORD, ADMIN_USER)
EMPTY = 'class="empty" role="status"'
ALERT = 'class="alert" role="alert"'
REGISTRY_PASSWORD = "registry-password-never-shown"
AUTH_HEADER = "Authorization:Bearer hook-token-never-shown"
SECTIONS = ("retention", "gc", "replication", "webhooks", "audit")


@dataclass(frozen=True)
class Made:
    instance_id: str
    project: str
    token: str

    def path(self, rest: str) -> str:
        return f"/v2/{self.project}/instances/{self.instance_id}{rest}"


def _created(answer: httpx.Response) -> Any:
    assert answer.status_code in (200, 201), answer.text
    return answer.json() if answer.content else None


def _instance(server: InProcessMoorage, name: str) -> Made:
    """An instance with the namespace ``team``, through the SWR Enterprise API."""
    token = iam_token(server, ADMIN)
    project = project_id(server)
    with management(server, token) as api:
        created = _created(
            api.post(
                f"/v2/{project}/instances",
                json={"name": name, "spec": "swr.ee.professional", "charge_mode": "postPaid"},
            )
        )
        made = Made(str(created["instance_id"]), project, token)
        _created(api.post(made.path("/namespaces"), json={"namespace_name": "team", "metadata": {"public": "false"}}))
    return made


def _selector(decoration: str) -> dict[str, str]:
    return {"kind": "doublestar", "decoration": decoration, "pattern": "**"}


def _fill(server: InProcessMoorage, made: Made, remote: str) -> None:
    """One of each: retention policy (run once, dry), GC schedule and a run, registry with a
    password, replication policy and an execution, webhook policy with an auth header (no job
    worker runs in process: the runs stay queued)."""
    with management(server, made.token) as api:
        retention = _created(
            api.post(
                made.path("/namespaces/team/retention/policies"),
                json={
                    "name": "keep-ten",
                    "algorithm": "or",
                    "enabled": True,
                    "trigger": {"type": "scheduled", "trigger_settings": {"cron": "0 0 1 * * *"}},
                    "rules": [
                        {
                            "template": "latestPushedK",
                            "params": {"latestPushedK": 10},
                            "tag_selectors": [_selector("matches")],
                            "scope_selectors": {"repository": [_selector("repoMatches")]},
                        }
                    ],
                },
            )
        )
        _created(
            api.post(
                made.path(f"/namespaces/team/retention/policies/{retention['id']}/executions"), json={"dry_run": True}
            )
        )
        _created(
            api.put(made.path("/system/gc/schedule"), json={"schedule": {"type": "Custom", "cron": "0 0 3 * * *"}})
        )
        registry = _created(
            api.post(
                made.path("/registries"),
                json={
                    "name": "mirror-site",
                    "type": "docker-registry",
                    "url": remote,
                    "credential": {"type": "basic", "access_key": "mirror-user", "access_secret": REGISTRY_PASSWORD},
                },
            )
        )
        replication = _created(
            api.post(
                made.path("/replication/policies"),
                json={
                    "name": "to-mirror",
                    "dest_registry": {"id": registry["id"]},
                    "dest_namespace": "copies",
                    "enabled": True,
                    "trigger": {"type": "manual"},
                },
            )
        )
        _created(api.post(made.path("/replication/executions"), json={"policy_id": replication["id"]}))
        _created(api.post(made.path("/system/gc/schedule"), json={"schedule": {"type": "Manual"}}))
        _created(
            api.post(
                made.path("/namespaces/team/webhook/policies"),
                json={
                    "name": "notify",
                    "description": "",
                    "enabled": True,
                    "event_types": ["PUSH_ARTIFACT"],
                    "targets": [
                        {
                            "type": "http",
                            "address": "https://hooks.example.test/moorage?a=1&b='2'",
                            "auth_header": AUTH_HEADER,
                            "skip_cert_verify": False,
                            "address_type": "internet",
                        }
                    ],
                    "scope_rules": [
                        {
                            "tag_selectors": [_selector("matches")],
                            "scope_selectors": {"repository": [_selector("repoMatches")]},
                            "repo_scope_mode": "regular",
                        }
                    ],
                },
            )
        )


def _pages(made: Made) -> dict[str, str]:
    base = f"/console/enterprise/{made.instance_id}"
    return {
        "retention": base + "/retention",
        "gc": base + "/gc",
        "registries": base + "/replication",
        "replication policies": base + "/replication/policies",
        "replication executions": base + "/replication/executions",
        "webhooks": base + "/webhooks",
        "audit": base + "/audit",
    }


def test_each_page_shows_what_the_api_made_and_no_secret(loopback_moorage: InProcessMoorage, remote: str) -> None:
    app_moorage = loopback_moorage
    made = _instance(app_moorage, "ops-full")
    _fill(app_moorage, made, remote)
    pages = _pages(made)
    with app_moorage.client(headers={"Accept": "text/html"}) as client:
        sign_in(client)
        seen = {name: client.get(path) for name, path in pages.items()}
        for name, answer in seen.items():
            assert answer.status_code == 200, (name, answer.text)
            assert REGISTRY_PASSWORD not in answer.text and "hook-token-never-shown" not in answer.text, name
            assert "created and edited through the SWR Enterprise API" in answer.text, name
        retention = seen["retention"].text
        assert "keep-ten" in retention
        assert "latestPushedK 10" in retention and "<code>0 0 1 * * *</code>" in retention
        policy_link = re.search(r'href="(/console/enterprise/[^"]+/namespaces/team/retention/\d+)"', retention)
        assert policy_link is not None
        policy = client.get(policy_link[1])
        assert policy.status_code == 200 and "<h2>Executions</h2>" in policy.text
        assert EMPTY not in policy.text and "<td>manual</td><td>yes</td>" in policy.text  # the dry run
        assert "Custom <code>0 0 3 * * *</code>" in seen["gc"].text
        assert EMPTY not in seen["gc"].text and "<td>manual</td>" in seen["gc"].text.lower()
        registries = seen["registries"].text
        assert "mirror-site" in registries
        assert remote in registries and "docker-registry" in registries
        assert "mirror-user" not in registries
        assert "to-mirror" in seen["replication policies"].text
        executions = seen["replication executions"].text
        assert EMPTY not in executions and "<td>manual</td><td>0</td><td>0</td><td>0</td>" in executions
        webhooks = seen["webhooks"].text
        assert "notify" in webhooks and "PUSH_ARTIFACT" in webhooks
        assert "https://hooks.example.test/moorage?a=1&amp;b=&#39;2&#39;" in webhooks  # escaped
        assert "******" not in webhooks  # not even the mask: the page shows addresses only
        jobs_link = re.search(r'href="(/console/enterprise/[^"]+/namespaces/team/webhooks/\d+/jobs)"', webhooks)
        assert jobs_link is not None
        jobs = client.get(jobs_link[1])
        assert jobs.status_code == 200 and "Nothing has been delivered for this policy yet." in jobs.text
        audit = seen["audit"].text
        assert EMPTY not in audit and "<td>create</td>" in audit
        only_deletes = client.get(pages["audit"], params={"operation": "delete"})
        assert (
            only_deletes.status_code == 200 and "No event of this instance matches these filters." in only_deletes.text
        )
        assert client.get(pages["audit"], params={"operation": "nonsense"}).status_code == 400


def test_the_navigation_and_the_instance_page_link_every_section(app_moorage: InProcessMoorage) -> None:
    made = _instance(app_moorage, "ops-nav")
    with app_moorage.client(headers={"Accept": "text/html"}) as client:
        sign_in(client)
        overview = client.get("/console/orgs")
        instance = client.get(f"/console/enterprise/{made.instance_id}")
        for section in SECTIONS:
            assert f'href="/console/enterprise?section={section}"' in overview.text
            listing = client.get("/console/enterprise", params={"section": section})
            assert listing.status_code == 200
            suffix = {"gc": "/gc", "audit": "/audit"}.get(section, f"/{section}")
            assert f'href="/console/enterprise/{made.instance_id}{suffix}"' in listing.text, section
            assert f'href="/console/enterprise/{made.instance_id}{suffix}"' in instance.text, section
        assert client.get("/console/enterprise", params={"section": "nope"}).status_code == 400


def test_empty_states(app_moorage: InProcessMoorage) -> None:
    made = _instance(app_moorage, "ops-empty")
    pages = _pages(made)
    with app_moorage.client(headers={"Accept": "text/html"}) as client:
        sign_in(client)
        for name, text in (
            ("retention", "No retention policy in the namespaces you can see."),
            ("gc", "No garbage collection has run on this instance yet."),
            ("registries", "This instance has no replication registry."),
            ("replication policies", "This instance has no replication policy."),
            ("replication executions", "No replication has run yet."),
            ("webhooks", "No webhook policy in the namespaces you may write to."),
        ):
            answer = client.get(pages[name])
            assert answer.status_code == 200 and EMPTY in answer.text and text in answer.text, name
        assert "Schedule</dt><dd>None" in client.get(pages["gc"]).text


def test_a_user_without_the_right_is_refused_and_sees_no_instance_data(
    loopback_moorage: InProcessMoorage, remote: str
) -> None:
    app_moorage = loopback_moorage
    made = _instance(app_moorage, "ops-denied")
    _fill(app_moorage, made, remote)
    pages = _pages(made)
    _create_user(app_moorage, "ops-reader", "ops-reader-password-1")
    with app_moorage.client(headers={"Accept": "text/html"}) as client:
        assert sign_in(client, "ops-reader", "ops-reader-password-1").status_code == 303
        # the administrators' pages, as their API twins: 403
        for name in ("gc", "registries", "replication policies", "replication executions", "audit"):
            answer = client.get(pages[name])
            assert answer.status_code == 403 and ALERT in answer.text, (name, answer.status_code)
            assert "mirror-site" not in answer.text and "to-mirror" not in answer.text, name
        # the members' listings, filtered as the API filters them: nothing of namespace team
        for name in ("retention", "webhooks"):
            answer = client.get(pages[name])
            assert answer.status_code == 200 and EMPTY in answer.text, name
            assert "keep-ten" not in answer.text and "hooks.example.test" not in answer.text, name
        # a policy's own pages need read (retention) or write (webhooks) on its namespace
        base = f"/console/enterprise/{made.instance_id}/namespaces/team"
        for path in (base + "/retention/1", base + "/webhooks/1/jobs"):
            answer = client.get(path)
            assert answer.status_code == 403 and ALERT in answer.text, path


def test_the_audit_log_is_paged_by_twenty(app_moorage: InProcessMoorage) -> None:
    made = _instance(app_moorage, "ops-paged")
    with management(app_moorage, made.token) as api:
        for number in range(21):  # each creation is recorded in the instance's audit log
            _created(
                api.post(
                    made.path("/namespaces"), json={"namespace_name": f"n{number}", "metadata": {"public": "false"}}
                )
            )
    audit = f"/console/enterprise/{made.instance_id}/audit"
    with app_moorage.client(headers={"Accept": "text/html"}) as client:
        sign_in(client)
        first = client.get(audit)
        second = client.get(audit, params={"page": 2})
    rows = re.compile(r"<tr><td>\d{4}-\d\d-\d\d ")
    assert len(rows.findall(first.text)) == 20 and 'rel="next" href="?page=2"' in first.text
    assert 'rel="prev"' not in first.text
    assert 1 <= len(rows.findall(second.text)) <= 20 and 'rel="prev" href="?page=1"' in second.text
    # newest first: the last namespace made is on the first page, the first one is not
    assert "<td>namespace <code>n20</code>" in first.text and "<td>namespace <code>n0</code>" not in first.text
    assert "<td>namespace <code>n0</code>" in second.text


def test_the_audit_log_filters_by_resource_type_user_and_days(app_moorage: InProcessMoorage) -> None:
    made = _instance(app_moorage, "ops-filters")
    with management(app_moorage, made.token) as api:  # a second kind of record: an update of the GC schedule
        schedule = {"schedule": {"type": "Custom", "cron": "0 0 3 * * *"}}
        _created(api.put(made.path("/system/gc/schedule"), json=schedule))
    audit = f"/console/enterprise/{made.instance_id}/audit"
    today = datetime.datetime.now(datetime.UTC).date()
    day = datetime.timedelta(days=1)
    rows = re.compile(r"<tr><td>\d{4}-\d\d-\d\d [^<]*</td><td>([^<]*)</td><td>([^<]*)</td><td>([^ ]*) ")
    with app_moorage.client(headers={"Accept": "text/html"}) as client:
        sign_in(client)

        def found(**params: str) -> list[tuple[str, str, str]]:
            answer = client.get(audit, params=params)
            assert answer.status_code == 200, (params, answer.text)
            return rows.findall(answer.text)

        everything = found()
        assert {kind for _, _, kind in everything} >= {"namespace"} and len({k for _, _, k in everything}) > 1
        assert found(resource_type="namespace") == [r for r in everything if r[2] == "namespace"]
        assert found(user=ADMIN_USER) == [r for r in everything if r[0] == ADMIN_USER] != []
        assert found(user="nobody-of-ours") == []
        assert found(since=today.isoformat(), until=today.isoformat()) == everything
        assert found(since=(today + day).isoformat()) == []
        assert found(until=(today - day).isoformat()) == []
        assert found(operation="create", resource_type="namespace", page="1") == found(resource_type="namespace")
        for bad in ({"since": "yesterday"}, {"resource_type": "spaceship"}, {"until": "2026-13-01"}):
            answer = client.get(audit, params=bad)
            assert answer.status_code == 400 and ALERT in answer.text, bad
        # the form keeps what was asked and the pager carries it
        kept = client.get(audit, params={"user": "a&b", "since": today.isoformat()})
        assert 'name="user" value="a&amp;b"' in kept.text and f'value="{today.isoformat()}"' in kept.text
