"""Retention runs against real SQLite and PostgreSQL databases (moorage in the test process, images
pushed through its OCI API, the job bodies called directly):

- a shared-edition run deletes the tags no rule keeps and logs them; an image goes with its last tag,
  and with it its signatures (cosign tags and referrers); a manifest an index lists stays;
- a tag pushed (or moved) after the run decided survives: the deletion re-checks in its transaction;
- what an immutable tag rule protects stays, also when the rule arrives between decision and deletion;
- an execution of an Enterprise Edition policy plans tasks and subtasks, deletes per Harbor's rules,
  leaves young untagged artifacts alone, records a dry run without deleting, and settles statuses;
- the scheduler starts the shared edition's daily runs and scheduled policies once;
- on PostgreSQL, a push of a tag racing its deletion keeps the tag (the tag write inserts it again).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select, update

from moorage.domain.enterprise import RunStatus, Selector, Trigger
from moorage.domain.events import WebhookEventType, webhook_event_type
from moorage.domain.jobs import Job, JobKind, JobStatus
from moorage.domain.names import RepositoryName
from moorage.domain.registry import DEFAULT_INSTANCE, Repository
from moorage.domain.webhooks import harbor_payload
from moorage.metadata.database import Database, now_ms
from moorage.metadata.queries import events as events_q
from moorage.metadata.queries import manifests as manifest_q
from moorage.metadata.queries import repositories as repositories_q
from moorage.metadata.queries import retention as retention_q
from moorage.metadata.queries import retention_runs as policy_q
from moorage.metadata.tables import events, jobs, manifests, tags
from moorage.services.enterprise.immutability import ImmutableTagGuard
from moorage.services.image_removal import ImageRemoval, Outcome
from moorage.services.retention.policies import PolicyChanges
from moorage.services.retention.rules import DAY_MS, RuleFields
from moorage.services.retention.runner import ExecutionRunner, run_shared
from moorage.services.retention.shared import SharedRuleFields
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, DATABASES, database_url_for
from tests.support import swr_images as img
from tests.support.accounts import Account, iam_token, management, project_id
from tests.support.inprocess import InProcessMoorage, running, settings_for

ADMIN = Account(ADMIN_USER, ADMIN_PASSWORD, ADMIN_USER)


@dataclass
class Control:
    """A ``JobControl`` whose ``progress`` can act between a run's decision and each deletion."""

    before_step: Callable[[int], None] | None = None
    job: Job = field(
        default_factory=lambda: Job(
            "0" * 32,
            JobKind.RETENTION_RUN.value,
            JobStatus.RUNNING,
            {},
            None,
            "",
            0,
            0,
            1,
            3,
            False,
            None,
            0,
            None,
            None,
        )
    )

    def progress(self, done: int, total: int | None = None) -> None:
        if self.before_step is not None and total is not None and done < total:
            self.before_step(done)

    def check_stopped(self) -> None:
        """Never stopped."""


@pytest.fixture(scope="module", params=DATABASES)
def registry(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessMoorage]:
    """moorage in this process, one per database for the module (each test uses names of its own)."""
    directory = tmp_path_factory.mktemp("retention")
    settings = settings_for(
        directory,
        database_url=database_url_for(request, str(request.param), directory),
        enterprise={"allowed_domain_suffixes": "example.test"},
    )
    with running(settings) as moorage:
        yield moorage


def pusher(registry: InProcessMoorage, host: str | None = None) -> httpx.Client:
    return registry.client(auth=(ADMIN_USER, ADMIN_PASSWORD), headers={"Host": host} if host else None)


def image(label: str, *, subject: img.Image | None = None) -> img.Image:
    return img.image(
        [{"f": label.encode()}],
        label=label,
        subject=subject,
        artifact_type="application/vnd.example.sbom" if subject else "",
    )


def age(db: Database, repository_id: int, tag: str, days: float) -> None:
    """Make a tag look pushed ``days`` ago."""
    db.run_write(
        lambda conn: conn.execute(
            update(tags)
            .where(tags.c.repository_id == repository_id, tags.c.name == tag)
            .values(updated_at=now_ms() - int(days * DAY_MS))
        )
    )


def repository(db: Database, name: str, instance_id: str = DEFAULT_INSTANCE) -> Repository:
    found = db.run_read(lambda conn: repositories_q.get(conn, instance_id, RepositoryName.parse(name)))
    assert found is not None
    return found


def tag_names(db: Database, repository_id: int) -> set[str]:
    return {
        str(r[0])
        for r in db.run_read(
            lambda conn: conn.execute(select(tags.c.name).where(tags.c.repository_id == repository_id)).all()
        )
    }


def digests(db: Database, repository_id: int) -> set[str]:
    return {
        str(r[0])
        for r in db.run_read(
            lambda conn: conn.execute(
                select(manifests.c.digest).where(manifests.c.repository_id == repository_id)
            ).all()
        )
    }


def cosign_tag(subject: img.Image) -> str:
    return "sha256-" + subject.digest.split(":")[1] + ".sig"


def shared_rule(template: str, count: int, *selectors: tuple[str, str]) -> SharedRuleFields:
    key = "num" if template == "tag_rule" else "days"
    return SharedRuleFields(template, {key: str(count)}, tuple(selectors))


async def _create(
    registry: InProcessMoorage, name: str, rules: list[SharedRuleFields], instance_id: str = DEFAULT_INSTANCE
) -> int:
    return await registry.services.retention.shared.create(
        instance_id=instance_id, name=RepositoryName.parse(name), algorithm="or", fields=rules
    )


def create_retention(
    registry: InProcessMoorage, name: str, rules: list[SharedRuleFields], instance_id: str = DEFAULT_INSTANCE
) -> int:
    """A shared-edition retention through the service (its first run is a queued job nobody runs here)."""
    portal = registry.http.portal  # type: ignore[attr-defined]
    return int(portal.call(_create, registry, name, rules, instance_id))


# Shared edition --------------------------------------------------------------------------------------
def _events(db: Database, *where: Any) -> list[dict[str, Any]]:
    """Event rows (oldest first) as dicts, their detail parsed."""
    rows = db.run_read(lambda conn: conn.execute(select(events).where(*where).order_by(events.c.id)).mappings().all())
    return [{**row, "detail": json.loads(row["detail"]) if row["detail"] else {}} for row in rows]


def deletions(db: Database, instance_id: str, repository: str) -> list[dict[str, Any]]:
    """The delete events of a repository's artifacts and tags."""
    return _events(
        db,
        events.c.instance_id == instance_id,
        events.c.repository == repository,
        events.c.operation == "delete",
    )


def changes_of(db: Database, resource_type: str) -> list[dict[str, Any]]:
    """Every event about one kind of resource."""
    return _events(db, events.c.resource_type == resource_type)


def test_a_run_deletes_what_no_rule_keeps_with_its_signatures_and_logs_it(registry: InProcessMoorage) -> None:
    db = registry.services.db
    images = {name: image(name) for name in ("v1", "v2", "v3", "v4")}
    with pusher(registry) as client:
        for name, made in images.items():
            img.push(client, "team/app", name, made)
        img.push(client, "team/app", "pinned", images["v2"])  # the v2 image under a tag the rule excepts
        signature = image("signature of v1")
        img.push(client, "team/app", cosign_tag(images["v1"]), signature)
        sbom_v1 = image("sbom of v1", subject=images["v1"])
        sbom_v4 = image("sbom of v4", subject=images["v4"])
        img.push(client, "team/app", sbom_v1.digest, sbom_v1)
        img.push(client, "team/app", sbom_v4.digest, sbom_v4)
    repo = repository(db, "team/app")
    for days, name in ((40, "v1"), (30, "v2"), (20, "v3"), (10, "pinned")):
        age(db, repo.id, name, days)
    retention_id = create_retention(registry, "team/app", [shared_rule("tag_rule", 2, ("label", "pinned"))])

    result = run_shared(Control(), retention_id, settings=registry.settings, db=db)

    assert (result["decided"], result["deleted"]) == (2, 2), result
    assert tag_names(db, repo.id) == {"v3", "v4", "pinned"}
    remaining = digests(db, repo.id)
    assert images["v1"].digest not in remaining and signature.digest not in remaining  # with its signature
    assert sbom_v1.digest not in remaining and sbom_v4.digest in remaining  # a referrer goes with its subject
    assert images["v2"].digest in remaining  # "pinned" still names it
    logged = db.run_read(lambda conn: retention_q.list_logs(conn, repo.id, offset=0, limit=None))
    assert [(e.tag, e.retention_id) for e in logged.items] == [("v2", retention_id), ("v1", retention_id)]
    assert json.loads(logged.items[0].rule_type) == {
        "template": "tag_rule",
        "params": {"num": "2"},
        "tag_selectors": [{"kind": "label", "pattern": "pinned"}],
    }
    deletes = deletions(db, DEFAULT_INSTANCE, "team/app")
    assert [(e["resource_type"], e["tag"], e["digest"]) for e in deletes] == [
        ("tag", "v1", images["v1"].digest),
        ("tag", "v2", images["v2"].digest),
    ]
    assert all(e["actor_via"] == "system" and e["detail"]["by"] == "retention" for e in deletes)
    assert [e["resource_type"] for e in changes_of(db, "retention_policy")][-1:] == ["retention_policy"]
    again = run_shared(Control(), retention_id, settings=registry.settings, db=db)
    assert again["decided"] == 0 and tag_names(db, repo.id) == {"v3", "v4", "pinned"}
    with management(registry, iam_token(registry, ADMIN)) as api:
        answer = api.get("/v2/manage/namespaces/team/repos/app/retentions/histories", params={"limit": 1})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-range"] == "0-1/2" and answer.json()["retention_log"][0]["tag"] == "v2"


def test_an_index_goes_with_its_platforms_but_a_manifest_an_index_lists_stays(registry: InProcessMoorage) -> None:
    db = registry.services.db
    first = [image("old amd64"), image("old arm64")]
    second = [image("new amd64"), image("new arm64")]
    with pusher(registry) as client:
        for child in (*first, *second):
            img.push(client, "team/multi", child.digest, child)
        img.push(client, "team/multi", "old", img.index(first))
        img.push(client, "team/multi", "old-arm64", first[1])  # a platform with a tag of its own
        img.push(client, "team/multi", "current", img.index(second))
        img.push(client, "team/multi", "amd64", second[0])  # a platform of an index that stays
    repo = repository(db, "team/multi")
    for days, name in ((30, "old"), (30, "amd64"), (1, "old-arm64")):
        age(db, repo.id, name, days)
    retention_id = create_retention(registry, "team/multi", [shared_rule("date_rule", 7)])

    run_shared(Control(), retention_id, settings=registry.settings, db=db)

    assert tag_names(db, repo.id) == {"current", "old-arm64"}
    remaining = digests(db, repo.id)
    assert img.index(first).digest not in remaining and first[0].digest not in remaining
    assert first[1].digest in remaining  # still tagged
    assert second[0].digest in remaining  # its tag went, the index "current" needs it
    with pusher(registry) as client:
        assert (
            client.get(f"/v2/team/multi/manifests/{second[0].digest}", headers={"Accept": img.OCI_MANIFEST}).status_code
            == 200
        )


def test_a_tag_pushed_after_the_run_decided_survives(registry: InProcessMoorage) -> None:
    db = registry.services.db
    with pusher(registry) as client:
        for name in ("old1", "old2", "old3", "new"):
            img.push(client, "team/race", name, image(name))
    repo = repository(db, "team/race")
    for days, name in ((30, "old1"), (29, "old2"), (28, "old3")):
        age(db, repo.id, name, days)
    retention_id = create_retention(registry, "team/race", [shared_rule("tag_rule", 1)])

    def push_meanwhile(step: int) -> None:
        if step == 0:  # the run has decided to delete old1, old2 and old3
            with pusher(registry) as client:
                img.push(client, "team/race", "old1", image("old1"))  # the same image again
                img.push(client, "team/race", "old2", image("old2 rebuilt"))  # the tag moves

    result = run_shared(Control(push_meanwhile), retention_id, settings=registry.settings, db=db)

    assert (result["decided"], result["deleted"], result["changed"]) == (3, 1, 2), result
    assert tag_names(db, repo.id) == {"old1", "old2", "new"}


# Enterprise Edition ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Instance:
    id: str
    project: str
    token: str
    host: str

    def path(self, rest: str) -> str:
        return f"/v2/{self.project}/instances/{self.id}{rest}"


def instance(registry: InProcessMoorage, name: str, *namespaces: str) -> Instance:
    """An instance called ``name`` reached at ``<name>.example.test``, with ``namespaces``."""
    token = iam_token(registry, ADMIN)
    project = project_id(registry)
    with management(registry, token) as api:
        created = api.post(
            f"/v2/{project}/instances",
            json={
                "name": name,
                "spec": "swr.ee.professional",
                "charge_mode": "postPaid",
                "vpc_id": "vpc",
                "subnet_id": "subnet",
                "project_id": project,
            },
        )
        assert created.status_code == 201, created.text
        found = Instance(created.json()["instance_id"], project, token, f"{name}.example.test")
        added = api.post(found.path("/domainname"), json={"domain_name": found.host})
        assert added.status_code == 201, added.text
        for name in namespaces:
            made = api.post(found.path("/namespaces"), json={"namespace_name": name, "metadata": {"public": "false"}})
            assert made.status_code == 201, made.text
    registry.services.enterprise.hosts.invalidate()
    return found


def immutable_rule(registry: InProcessMoorage, where: Instance, namespace: str, tags: str) -> None:
    with management(registry, where.token) as api:
        made = api.post(
            where.path(f"/namespaces/{namespace}/immutabletagrules"),
            json={
                "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": tags}],
                "scope_selectors": {
                    "repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]
                },
            },
        )
        assert made.status_code == 201, made.text


def doublestar(decoration: str, pattern: str, extras: str = "") -> Selector:
    return Selector("doublestar", decoration, pattern, extras)


def policy_rule(
    template: str, count: int | None, *, tags: str = "**", repositories: str = "**", untagged: bool = False
) -> RuleFields:
    return RuleFields(
        template,
        {template: count} if count is not None else {},
        [doublestar("matches", tags, '{"untagged": true}' if untagged else "")],
        {"repository": [doublestar("repoMatches", repositories)]},
    )


async def _create_policy(
    registry: InProcessMoorage, where: Instance, namespace: str, rules: list[RuleFields], trigger: Trigger
) -> int:
    return await registry.services.retention.policies.create(
        instance_id=where.id, namespace=namespace, changes=PolicyChanges("keep-few", "or", True, trigger, rules)
    )


def create_policy(
    registry: InProcessMoorage,
    where: Instance,
    namespace: str,
    rules: list[RuleFields],
    trigger: Trigger = Trigger("manual"),
) -> int:
    portal = registry.http.portal  # type: ignore[attr-defined]
    return int(portal.call(_create_policy, registry, where, namespace, rules, trigger))


def start_execution(registry: InProcessMoorage, policy_id: int, *, dry_run: bool) -> int:
    db = registry.services.db
    return int(
        db.run_write(
            lambda conn: policy_q.create_execution(conn, policy_id=policy_id, trigger="manual", dry_run=dry_run)
        )
    )


def test_an_execution_deletes_per_the_policy_and_records_tasks_and_subtasks(registry: InProcessMoorage) -> None:
    db = registry.services.db
    where = instance(registry, "apps", "apps")
    with pusher(registry, where.host) as client:
        for name in ("v1", "v2", "v3", "v4"):
            img.push(client, "apps/web", name, image(f"web {name}"))
        for name in ("t1", "t2"):
            img.push(client, "apps/tools", name, image(f"tools {name}"))
        orphan, young = image("untagged old"), image("untagged young")  # the first made 50 days old below
        img.push(client, "apps/web", orphan.digest, orphan)
        img.push(client, "apps/web", young.digest, young)
        signature = image("signature of web v1")
        img.push(client, "apps/web", cosign_tag(image("web v1")), signature)
    web, tools = repository(db, "apps/web", where.id), repository(db, "apps/tools", where.id)
    for days, name in ((40, "v1"), (30, "v2"), (20, "v3"), (10, "v4")):
        age(db, web.id, name, days)
    db.run_write(
        lambda conn: conn.execute(
            update(manifests).where(manifests.c.digest == orphan.digest).values(created_at=now_ms() - 50 * DAY_MS)
        )
    )
    immutable_rule(registry, where, "apps", "v2")
    policy_id = create_policy(
        registry, where, "apps", [policy_rule("latestPushedK", 1, repositories="web", untagged=True)]
    )
    runner = ExecutionRunner(db, ImmutableTagGuard(), untagged_grace_ms=3600_000)

    dry = start_execution(registry, policy_id, dry_run=True)
    assert runner.run(dry, Control())["status"] == "Succeed"
    assert tag_names(db, web.id) == {"v1", "v2", "v3", "v4", cosign_tag(image("web v1"))}
    execution = db.run_read(lambda conn: policy_q.get_execution(conn, policy_id, dry))
    assert execution is not None and execution.dry_run and execution.finished_at is not None
    assert execution.status_text == "dry run: 3 artifacts would be deleted"

    real = start_execution(registry, policy_id, dry_run=False)
    result = runner.run(real, Control())

    assert result["status"] == "Succeed", result
    assert tag_names(db, web.id) == {"v2", "v4"}  # v2: immutable; v4: the newest
    assert tag_names(db, tools.id) == {"t1", "t2"}  # no rule covers "tools": no task
    remaining = digests(db, web.id)
    assert orphan.digest not in remaining and young.digest in remaining  # young: within the grace period
    assert signature.digest not in remaining
    tasks = db.run_read(lambda conn: policy_q.list_tasks(conn, real, status=None, offset=0, limit=10))
    assert [(t.repository, t.status, t.total, t.retained) for t in tasks.items] == [("web", RunStatus.SUCCEED, 5, 2)]
    subtasks = db.run_read(
        lambda conn: policy_q.list_subtasks(conn, tasks.items[0].id, status=RunStatus.SUCCEED, offset=0, limit=10)
    )
    assert [(s.tags, s.digest) for s in subtasks.items] == [
        ("", orphan.digest),
        ("v1", image("web v1").digest),
        ("v3", image("web v3").digest),
    ]
    assert runner.run(real, Control())["skipped"]  # a finished execution does not run again

    # The audit trail: each deletion an event of the system (the dry run recorded none), and one
    # event of the run with its totals, which webhooks send as Harbor's TAG_RETENTION.
    deleted = [(e["resource_type"], e["digest"], e["detail"]["tags"]) for e in deletions(db, where.id, "apps/web")]
    assert deleted == [
        ("artifact", orphan.digest, []),
        ("artifact", image("web v1").digest, ["v1"]),
        ("artifact", image("web v3").digest, ["v3"]),
    ]
    (run_event,) = [e for e in changes_of(db, "retention_run") if e["instance_id"] == where.id]
    assert run_event["namespace"] == "apps" and run_event["actor_via"] == "system"
    detail = run_event["detail"]
    assert (detail["policy_id"], detail["status"], detail["total"], detail["retained"]) == (policy_id, "Succeed", 5, 2)
    assert [item["tag"] for item in detail["deleted"]] == ["", "v1", "v3"]
    as_event = db.run_read(lambda conn: events_q.get(conn, run_event["id"]))
    assert as_event is not None
    assert webhook_event_type(as_event) is WebhookEventType.TAG_RETENTION
    payload = json.loads(
        harbor_payload(
            as_event,
            WebhookEventType.TAG_RETENTION,
            registry_host="r.example",
            repository_public=False,
            repository_created_at=0,
        )
    )
    retention = payload["event_data"]["retention"]
    assert (retention["total"], retention["retained"], retention["ProjectName"]) == (5, 2, "apps")
    assert [a["tag"] for a in retention["deleted_artifact"]] == ["", "v1", "v3"]


def test_a_rule_made_between_decision_and_deletion_protects(registry: InProcessMoorage) -> None:
    db = registry.services.db
    where = instance(registry, "guarded", "guarded")
    with pusher(registry, where.host) as client:
        for name in ("a", "b", "c"):
            img.push(client, "guarded/app", name, image(f"guarded {name}"))
    repo = repository(db, "guarded/app", where.id)
    age(db, repo.id, "a", 3)
    age(db, repo.id, "b", 2)
    policy_id = create_policy(registry, where, "guarded", [policy_rule("latestPushedK", 1)])
    execution_id = start_execution(registry, policy_id, dry_run=False)

    def protect_meanwhile(step: int) -> None:
        if step == 0:
            immutable_rule(registry, where, "guarded", "a")

    ExecutionRunner(db, ImmutableTagGuard(), untagged_grace_ms=0).run(execution_id, Control(protect_meanwhile))

    assert tag_names(db, repo.id) == {"a", "c"}
    task = db.run_read(lambda conn: policy_q.list_tasks(conn, execution_id, status=None, offset=0, limit=1)).items[0]
    subtasks = db.run_read(lambda conn: policy_q.list_subtasks(conn, task.id, status=None, offset=0, limit=10)).items
    assert [(s.tags, s.status) for s in subtasks] == [("a", RunStatus.SUCCEED), ("b", RunStatus.SUCCEED)]
    assert subtasks[0].status_text.startswith("kept: ") and "immutable tag rule" in subtasks[0].status_text
    assert task.retained == 1 + 1  # "c" by the rule, "a" by the re-check


def test_the_shared_api_on_an_instance_host_keeps_immutable_tags(registry: InProcessMoorage) -> None:
    db = registry.services.db
    where = instance(registry, "frozen", "frozen")
    immutable_rule(registry, where, "frozen", "release-*")
    with pusher(registry, where.host) as client:
        for name in ("release-1", "dev-1", "dev-2"):
            img.push(client, "frozen/app", name, image(f"frozen {name}"))
    repo = repository(db, "frozen/app", where.id)
    age(db, repo.id, "release-1", 9)
    age(db, repo.id, "dev-1", 8)
    retention_id = create_retention(registry, "frozen/app", [shared_rule("tag_rule", 1)], instance_id=where.id)
    result = run_shared(Control(), retention_id, settings=registry.settings, db=db)
    assert (result["deleted"], result["protected"]) == (1, 1), result
    assert tag_names(db, repo.id) == {"release-1", "dev-2"}


# The scheduler ---------------------------------------------------------------------------------------
def test_the_scheduler_starts_daily_and_cron_runs_once(registry: InProcessMoorage) -> None:
    db = registry.services.db
    with pusher(registry) as client:
        img.push(client, "team/daily", "v1", image("daily"))
    retention_id = create_retention(registry, "team/daily", [shared_rule("tag_rule", 5)])
    where = instance(registry, "cron", "cron")
    policy_id = create_policy(
        registry, where, "cron", [policy_rule("always", None)], Trigger("scheduled", "0 0 12 * * *")
    )
    portal = registry.http.portal  # type: ignore[attr-defined]
    midnight = (now_ms() // DAY_MS + 1) * DAY_MS

    def tick(at: int) -> int:
        return int(portal.call(partial(registry.services.retention.scheduler.tick, now=at)))

    def runs() -> list[str]:  # the triggers of this retention's jobs (other tests' retentions run too)
        found = db.run_read(
            lambda conn: conn.execute(select(jobs.c.params).where(jobs.c.kind == JobKind.RETENTION_RUN.value)).all()
        )
        return sorted(p["trigger"] for p in (json.loads(r[0]) for r in found) if p["retention_id"] == retention_id)

    def scheduled() -> list[tuple[str, bool]]:
        listed = db.run_read(lambda conn: policy_q.list_executions(conn, policy_id, offset=0, limit=10))
        return [(e.trigger, e.dry_run) for e in listed.items]

    assert runs() == ["created"]
    assert tick(midnight + 1000) >= 1 and runs() == ["created", "scheduled"]  # daily, at midnight UTC
    assert scheduled() == []
    tick(midnight + 2000)
    assert runs() == ["created", "scheduled"]  # once per firing
    tick(midnight + 12 * 3_600_000 + 1000)
    assert scheduled() == [("scheduled", False)]  # the policy's noon
    assert runs() == ["created", "scheduled"]


# PostgreSQL: pushes racing deletions -------------------------------------------------------------
@pytest.fixture(scope="module")
def postgres_registry(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InProcessMoorage]:
    directory = tmp_path_factory.mktemp("retention-races")
    with running(settings_for(directory, database_url=database_url_for(request, "postgresql", directory))) as found:
        yield found


def pause_before(conn: Any, prefix: str, reached: threading.Event, go_on: threading.Event) -> None:
    """Make the connection's next statement starting with ``prefix`` wait for ``go_on``."""

    def hook(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith(prefix) and not reached.is_set():
            reached.set()
            assert go_on.wait(10)

    event.listen(conn, "before_cursor_execute", hook)


def test_a_push_racing_the_deletion_of_its_tag_keeps_the_tag(postgres_registry: InProcessMoorage) -> None:
    registry = postgres_registry
    db = registry.services.db
    first, second = image("race first"), image("race second")
    with pusher(registry) as client:
        img.push(client, "team/pg", "t", first)
        img.push(client, "team/pg", second.digest, second)
    repo = repository(db, "team/pg")
    state = db.run_read(
        lambda conn: conn.execute(
            select(tags.c.manifest_id, tags.c.updated_at).where(tags.c.repository_id == repo.id, tags.c.name == "t")
        ).one()
    )
    second_id = db.run_read(lambda conn: manifest_q.by_digest(conn, repo.id, second.digest, with_payload=False))
    assert second_id is not None
    about_to_move, deleted = threading.Event(), threading.Event()
    outcome: list[Outcome] = []

    def push() -> None:
        with db.write_transaction() as conn:
            pause_before(conn, "UPDATE tags", about_to_move, deleted)  # the tag row was found: it moves next
            manifest_q.tag(conn, repo.id, "t", second_id.id)

    def delete() -> None:
        assert about_to_move.wait(10)
        with db.write_transaction() as conn:
            outcome.append(
                ImageRemoval().remove_tag(conn, repo, "t", manifest_id=int(state[0]), pushed_at=int(state[1])).outcome
            )
            deleted.set()
            time.sleep(0.3)  # the push's move now waits for this transaction's row lock

    threads = [threading.Thread(target=push), threading.Thread(target=delete)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert outcome == [Outcome.DELETED]
    found = db.run_read(
        lambda conn: conn.execute(
            select(tags.c.manifest_id).where(tags.c.repository_id == repo.id, tags.c.name == "t")
        ).scalar()
    )
    assert found == second_id.id  # the push said 201: the tag is there


def test_a_push_tagging_an_image_being_deleted_neither_deadlocks_nor_loses_its_tag(
    postgres_registry: InProcessMoorage,
) -> None:
    registry = postgres_registry
    db = registry.services.db
    made = image("tagged while deleted")
    with pusher(registry) as client:
        img.push(client, "team/lock", "old", made)
    repo = repository(db, "team/lock")
    state = db.run_read(
        lambda conn: conn.execute(
            select(tags.c.manifest_id, tags.c.updated_at).where(tags.c.repository_id == repo.id, tags.c.name == "old")
        ).one()
    )
    tagged, go_on = threading.Event(), threading.Event()
    errors: list[BaseException] = []
    outcome: list[Outcome] = []

    def push() -> None:
        # A new tag of the same image. On PostgreSQL its insert (which holds the manifest's key) and
        # the repository's tag count are one statement, so the push is held after it, before its
        # commit, with both locks taken: the deletion must wait for it, not deadlock with it.
        try:
            with db.write_transaction() as conn:
                manifest_q.tag(conn, repo.id, "new", int(state[0]))
                tagged.set()
                assert go_on.wait(10)
        except BaseException as error:
            errors.append(error)

    def delete() -> None:
        try:
            with db.write_transaction() as conn:
                outcome.append(
                    ImageRemoval()
                    .remove_tag(conn, repo, "old", manifest_id=int(state[0]), pushed_at=int(state[1]))
                    .outcome
                )
        except BaseException as error:
            errors.append(error)

    pushing = threading.Thread(target=push)
    pushing.start()
    assert tagged.wait(10)
    deleting = threading.Thread(target=delete)
    deleting.start()
    time.sleep(0.5)  # the deletion waits for the push's hold on the manifest (before: it had taken the counter)
    go_on.set()
    for thread in (pushing, deleting):
        thread.join(30)
    assert errors == [] and outcome == [Outcome.DELETED]
    assert tag_names(db, repo.id) == {"new"} and made.digest in digests(db, repo.id)
