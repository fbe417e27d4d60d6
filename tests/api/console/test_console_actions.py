"""The write forms of an instance's operations pages, in process on SQLite: an administrator runs,
enables, disables and deletes retention, replication and webhook policies and runs and schedules
garbage collection, and the SWR Enterprise API then shows the change; a read-only member of the
namespace sees no form and is refused (403) with nothing changed; a post without the session's CSRF
token, or with a wrong one, is refused with nothing changed; a refused form says why in words with a
link back to its page."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from moorage.domain.enterprise import RunStatus
from moorage.metadata.queries import retention_runs as runs_q
from tests.api.console.test_console_operations import ALERT, Made, _created, _fill, _instance
from tests.api.console.test_console_pages import _create_user
from tests.api.console.test_console_sessions import ORIGIN, _csrf, sign_in
from tests.support.accounts import management
from tests.support.inprocess import InProcessMoorage

READER = ("ops-member", "ops-member-password-1")


@dataclass(frozen=True)
class Ids:
    retention: int
    replication: int
    webhook: int


@dataclass(frozen=True)
class Form:
    """A form: the page that shows it, where it posts, what it sends, and the API's view of what it
    changes (``state``: read through the API before and after)."""

    name: str
    page: str
    action: str
    data: dict[str, str]
    state: Callable[[httpx.Client], Any]


def _ids(server: InProcessMoorage, made: Made) -> Ids:
    with management(server, made.token) as api:
        retention = _created(api.get(made.path("/retention/policies")))["retentions"][0]["id"]
        replication = _created(api.get(made.path("/replication/policies")))["policies"][0]["id"]
        webhook = _created(api.get(made.path("/webhook/policies")))["policies"][0]["id"]
    return Ids(int(retention), int(replication), int(webhook))


def _filled(server: InProcessMoorage, remote: str, name: str) -> tuple[Made, Ids]:
    made = _instance(server, name)
    _fill(server, made, remote)
    return made, _ids(server, made)


def _forms(made: Made, ids: Ids) -> list[Form]:
    """Every form, with the API reads that show its effect."""
    console = f"/console/enterprise/{made.instance_id}"
    team = console + "/namespaces/team"
    retention = made.path(f"/namespaces/team/retention/policies/{ids.retention}")
    webhook = made.path(f"/namespaces/team/webhook/policies/{ids.webhook}")
    replication = made.path(f"/replication/policies/{ids.replication}")

    def show(path: str) -> Callable[[httpx.Client], Any]:
        def read(api: httpx.Client) -> Any:
            answer = api.get(path)
            return answer.json() if answer.status_code == 200 else answer.status_code

        return read

    def count(path: str, key: str = "total") -> Callable[[httpx.Client], Any]:
        return lambda api: _created(api.get(path))[key]

    return [
        Form(
            "retention run",
            f"{team}/retention/{ids.retention}",
            f"{team}/retention/{ids.retention}/run",
            {},
            count(retention + "/executions"),
        ),
        Form(
            "retention disable",
            f"{team}/retention/{ids.retention}",
            f"{team}/retention/{ids.retention}/enabled",
            {"enabled": "no"},
            show(retention),
        ),
        Form(
            "retention delete",
            f"{team}/retention/{ids.retention}",
            f"{team}/retention/{ids.retention}/delete",
            {"confirm": "yes"},
            show(retention),
        ),
        Form(
            "gc schedule",
            console + "/gc",
            console + "/gc/schedule",
            {"cron": "0 30 2 * * *", "delete_untagged": "yes", "workers": "3"},
            show(made.path("/system/gc/schedule")),
        ),
        Form(
            "gc run",
            console + "/gc",
            console + "/gc/run",
            {},
            lambda api: len(_created(api.get(made.path("/system/gc")))["tasks"]),
        ),
        Form(
            "replication run",
            console + "/replication/policies",
            console + f"/replication/policies/{ids.replication}/run",
            {},
            count(made.path(f"/replication/executions?policy_id={ids.replication}")),
        ),
        Form(
            "replication disable",
            console + "/replication/policies",
            console + f"/replication/policies/{ids.replication}/enabled",
            {"enabled": "no"},
            show(replication),
        ),
        Form(
            "webhook disable",
            f"{team}/webhooks/{ids.webhook}/jobs",
            f"{team}/webhooks/{ids.webhook}/enabled",
            {"enabled": "no"},
            show(webhook),
        ),
        Form(
            "webhook delete",
            f"{team}/webhooks/{ids.webhook}/jobs",
            f"{team}/webhooks/{ids.webhook}/delete",
            {"confirm": "yes"},
            show(webhook),
        ),
    ]


def _post(client: httpx.Client, form: Form, csrf: str | None) -> httpx.Response:
    data = dict(form.data)
    if csrf is not None:
        data["csrf_token"] = csrf
    return client.post(form.action, data=data, headers={**ORIGIN, "Referer": f"http://127.0.0.1:5000{form.page}"})


def _finish_gc(server: InProcessMoorage, made: Made) -> None:
    """Stop the instance's pending GC run (no job worker runs in process), so a new one may start."""
    with management(server, made.token) as api:
        for task in _created(api.get(made.path("/system/gc")))["tasks"]:
            if task["job_status"] in ("Pending", "Running"):
                assert api.put(made.path(f"/system/gc/{task['id']}")).status_code == 200


def test_an_administrator_uses_every_form_and_the_api_shows_the_change(
    loopback_moorage: InProcessMoorage, remote: str
) -> None:
    server = loopback_moorage
    made, ids = _filled(server, remote, "act-admin")
    _finish_gc(server, made)
    with server.client(headers={"Accept": "text/html"}) as client, management(server, made.token) as api:
        sign_in(client)
        for form in _forms(made, ids):
            page = client.get(form.page)
            assert page.status_code == 200, (form.name, page.text)
            assert f'action="{form.action}"' in page.text, form.name  # the form is shown
            before = form.state(api)
            answer = _post(client, form, _csrf(page.text))
            assert answer.status_code == 303, (form.name, answer.text)
            back = client.get(answer.headers["location"])
            assert back.status_code == 200, (form.name, back.text)
            after = form.state(api)
            assert after != before, form.name
            match form.name:
                case "retention run" | "replication run":
                    assert after == before + 1
                case "gc run":
                    assert after == before + 1 and "<td>manual</td>" in back.text.lower()
                case "retention disable" | "replication disable" | "webhook disable":
                    assert before["enabled"] is True and after["enabled"] is False
                    assert ">Enable<" in back.text  # the form now offers the inverse
                case "retention delete" | "webhook delete":
                    assert after == 404
                case "gc schedule":
                    assert after["schedule"]["cron"] == "0 30 2 * * *" and after["schedule"]["type"] == "Custom"
                    assert after["parameters"]["delete_untagged"] is True and after["parameters"]["workers"] == 3


def test_disabling_a_webhook_keeps_its_targets_and_auth_header(loopback_moorage: InProcessMoorage, remote: str) -> None:
    server = loopback_moorage
    made, ids = _filled(server, remote, "act-hook")
    form = next(f for f in _forms(made, ids) if f.name == "webhook disable")
    with server.client(headers={"Accept": "text/html"}) as client, management(server, made.token) as api:
        sign_in(client)
        before = form.state(api)
        assert _post(client, form, _csrf(client.get(form.page).text)).status_code == 303
        again = Form(form.name, form.page, form.action, {"enabled": "yes"}, form.state)
        disabled = form.state(api)
        assert _post(client, again, _csrf(client.get(form.page).text)).status_code == 303
        after = form.state(api)
    assert disabled["enabled"] is False and after["enabled"] is True
    assert {**after, "updated_at": ""} == {**before, "updated_at": ""}  # nothing else changed
    assert [t["auth_header"] for t in after["targets"]] == ["******"]  # the stored header, masked


def _plan(server: InProcessMoorage, made: Made, ids: Ids) -> int:
    """Give the policy's (dry-run) execution what its job would: two repositories' tasks, one that
    succeeded and one whose deletion failed (no job worker runs in process); the execution's id."""
    with management(server, made.token) as api:
        executions = api.get(made.path(f"/namespaces/team/retention/policies/{ids.retention}/executions"))
        execution_id = int(_created(executions)["executions"][0]["id"])

    def write(conn: Any) -> None:
        def task(repository_id: int, repository: str, deletions: tuple[runs_q.PlannedDeletion, ...]) -> int:
            return runs_q.create_task(
                conn,
                execution_id=execution_id,
                job_id="0" * 32,
                repository_id=repository_id,
                namespace="team",
                repository=repository,
                total=3,
                retained=3 - len(deletions),
                deletions=deletions,
                dry_run=False,
            )

        task(1, "team/kept", ())
        pruned = task(2, "team/pruned", (runs_q.PlannedDeletion("old", "sha256:" + "a" * 64, "{}"),))
        (subtask,) = runs_q.list_subtasks(conn, pruned, status=None, offset=0, limit=10).items
        runs_q.set_subtask_status(conn, subtask.id, RunStatus.FAILED, "storage refused")
        runs_q.settle_tasks(conn, execution_id)

    server.services.db.run_write(write)
    return execution_id


def test_the_retention_execution_list_counts_tasks_and_links_them(
    loopback_moorage: InProcessMoorage, remote: str
) -> None:
    server = loopback_moorage
    made, ids = _filled(server, remote, "act-counts")
    page = f"/console/enterprise/{made.instance_id}/namespaces/team/retention/{ids.retention}"
    with server.client(headers={"Accept": "text/html"}) as client:
        sign_in(client)
        unplanned = client.get(page).text
        assert '<th scope="col">Repositories</th><th scope="col">Succeeded</th><th scope="col">Failed</th>' in unplanned
        assert "<td>manual</td><td>yes</td><td>0</td><td>0</td><td>0</td>" in unplanned  # no task planned yet
        execution_id = _plan(server, made, ids)
        shown = client.get(page).text
        link = f"{page}/executions/{execution_id}/tasks"
        counted = rf'<td><a href="{re.escape(link)}">2<span[^>]*>[^<]*</span></a></td><td>(\d+)</td><td>(\d+)</td>'
        row = re.search("<td>manual</td><td>yes</td>" + counted, shown)
        assert row is not None, shown
        assert (row[1], row[2]) == ("1", "1")  # succeeded, failed
        tasks = client.get(link)
    assert tasks.status_code == 200
    assert "<tr><td>team/kept</td><td>Succeed</td><td>3</td><td>3</td>" in tasks.text
    assert "<tr><td>team/pruned</td><td>Failed (" in tasks.text and "<td>3</td><td>2</td>" in tasks.text


def test_a_read_only_member_sees_no_form_and_is_refused(loopback_moorage: InProcessMoorage, remote: str) -> None:
    server = loopback_moorage
    made, ids = _filled(server, remote, "act-member")
    with management(server, made.token) as api:  # a public namespace: every user of the account reads it
        _created(api.put(made.path("/namespaces/team"), json={"metadata": {"public": "true"}}))
    _create_user(server, *READER)
    forms = _forms(made, ids)
    with server.client(headers={"Accept": "text/html"}) as client, management(server, made.token) as api:
        assert sign_in(client, *READER).status_code == 303
        before = [f.state(api) for f in forms]
        team_page = client.get(forms[0].page)
        assert team_page.status_code == 200 and "keep-ten" in team_page.text  # reads the policy...
        csrf = _csrf(client.get("/console/orgs").text)
        for form in forms:
            page = client.get(form.page)
            assert f'action="{form.action}"' not in page.text, form.name  # ...but is offered no form
            answer = _post(client, form, csrf)
            assert answer.status_code == 403 and ALERT in answer.text, (form.name, answer.status_code)
        assert [f.state(api) for f in forms] == before


def test_a_post_without_or_with_a_wrong_csrf_token_is_refused(loopback_moorage: InProcessMoorage, remote: str) -> None:
    server = loopback_moorage
    made, ids = _filled(server, remote, "act-csrf")
    _finish_gc(server, made)
    forms = _forms(made, ids)
    with server.client(headers={"Accept": "text/html"}) as client, management(server, made.token) as api:
        sign_in(client)
        before = [f.state(api) for f in forms]
        good = _csrf(client.get("/console/orgs").text)
        for form in forms:
            for csrf in (None, "", good[:-2] + ("AA" if not good.endswith("AA") else "BB")):
                answer = _post(client, form, csrf)
                assert answer.status_code == 403 and "CSRF token is missing or wrong" in answer.text, form.name
        assert [f.state(api) for f in forms] == before


def test_a_refused_form_says_why_in_words_and_links_back(loopback_moorage: InProcessMoorage, remote: str) -> None:
    server = loopback_moorage
    made, ids = _filled(server, remote, "act-errors")  # its manual GC run is still pending
    forms = {f.name: f for f in _forms(made, ids)}
    with server.client(headers={"Accept": "text/html"}) as client, management(server, made.token) as api:
        sign_in(client)
        csrf = _csrf(client.get("/console/orgs").text)
        cases: tuple[tuple[Form, dict[str, str], int, str], ...] = (
            (forms["gc run"], {}, 409, "still pending or running"),
            (forms["gc schedule"], {"cron": "every day"}, 400, "cron"),
            (forms["gc schedule"], {"cron": "0 0 4 * * *", "workers": "9"}, 400, "workers must be between 1 and 5"),
            (forms["gc schedule"], {"cron": "0 0 4 * * *", "workers": "-1"}, 400, "workers must be a number"),
            (forms["retention delete"], {}, 400, "tick the box"),
            (forms["webhook delete"], {"confirm": "maybe"}, 400, "confirm must be yes or no"),
            (forms["retention disable"], {"enabled": "perhaps"}, 400, "enabled must be yes or no"),
        )
        for form, data, status, words in cases:
            before = form.state(api)
            answer = _post(client, Form(form.name, form.page, form.action, data, form.state), csrf)
            assert answer.status_code == status, (form.name, answer.text)
            assert ALERT in answer.text and words in answer.text, (form.name, answer.text)
            assert f'<a href="{form.page}">Back to the page</a>' in answer.text, form.name
            assert "Traceback" not in answer.text and '{"' not in answer.text, form.name
            assert form.state(api) == before, form.name
