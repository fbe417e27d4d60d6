"""The shared edition's retentions (SWR ``CreateRetention``, ``ListRetentions``, ``ShowRetention``,
``UpdateRetention``, ``DeleteRetention``, ``ListRetentionHistories``) and their runs.

A repository has at most one retention (SWR: "only one retention rule can be added to an image").
A retention runs once when it is created or changed (a ``registry.retention_run`` job) and then on
the schedule of ``MOORAGE_RETENTION__SCHEDULE`` (daily by default). A run deletes the tags no rule
keeps, oldest first, each in a transaction of its own that re-checks the decision and writes the
tag's log entry (``services/image_removal.py``): a tag pushed after the run decided survives, and a
run that dies half way leaves a log that says exactly what it deleted.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy.engine import Connection

from moorage.domain.enterprise import Page
from moorage.domain.errors import Conflict, NotFound
from moorage.domain.events import NewEvent, Operation, ResourceType, change_event
from moorage.domain.jobs import JobControl, JobKind, JobSubmitter
from moorage.domain.names import RepositoryName
from moorage.domain.registry import Repository
from moorage.domain.retention import RetentionLog, SharedRetention, SharedRule, TagState
from moorage.metadata.database import Database, now_ms
from moorage.metadata.queries import repositories as repositories_q
from moorage.metadata.queries import retention as q
from moorage.metadata.queries import retention_candidates as candidates_q
from moorage.services.events.recorder import record_events
from moorage.services.image_removal import ImageRemoval, Outcome, removal_event
from moorage.services.retention.rules import check_shared_rules, shared_deletions, shared_rule

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SharedRuleFields:
    """A rule of a create or update request as it came: ``template``, ``params`` and the tag
    selectors as (kind, pattern)."""

    template: str
    params: Mapping[str, object]
    tag_selectors: tuple[tuple[str, str], ...] = ()

    def checked(self) -> SharedRule:
        """The rule, checked (``Invalid`` names the first problem)."""
        return shared_rule(self.template, self.params, self.tag_selectors)


def _repository(conn: Connection, instance_id: str, name: RepositoryName) -> Repository:
    found = repositories_q.get(conn, instance_id, name)
    if found is None:
        raise NotFound(f"repository {name} not found", reason="repository_not_found")
    return found


def _retention(conn: Connection, repository: Repository, retention_id: int) -> SharedRetention:
    found = q.get(conn, retention_id)
    if found is None or found.repository_id != repository.id:
        raise NotFound(f"retention {retention_id} not found in {repository.full_name}", reason="retention_not_found")
    return found


def rule_type(retention: SharedRetention) -> str:
    """What a log entry says about the rules a tag fell under: the rule's JSON (SWR's ``rule_type``),
    a list of them when the retention has several."""
    rules = [q.rule_json(r) for r in retention.rules]
    return json.dumps(rules[0] if len(rules) == 1 else rules, separators=(",", ":"))


class SharedRetentionService:
    """The retention operations of the shared edition's API."""

    def __init__(self, db: Database, jobs: JobSubmitter) -> None:
        self.db = db
        self.jobs = jobs

    async def create(
        self, *, instance_id: str, name: RepositoryName, algorithm: str, fields: Sequence[SharedRuleFields]
    ) -> int:
        """A new retention of a repository (``Conflict`` when it has one); it runs now."""
        rules = [f.checked() for f in fields]
        check_shared_rules(algorithm, rules)

        def work(conn: Connection) -> int:
            repository = _repository(conn, instance_id, name)
            created = q.create(conn, repository_id=repository.id, algorithm=algorithm, rules=rules)
            if created is None:
                raise Conflict(
                    f"repository {repository.full_name} already has a retention: change or delete it",
                    reason="retention_exists",
                )
            record_events(conn, _changed(Operation.CREATE, repository, created))
            return created

        retention_id = await self.db.write(work)
        await self.run_soon(retention_id, trigger="created")
        return retention_id

    async def list_retentions(self, *, instance_id: str, name: RepositoryName) -> list[SharedRetention]:
        """The repository's retentions (none or one)."""
        return await self.db.read(lambda conn: q.of_repository(conn, _repository(conn, instance_id, name).id))

    async def get(self, *, instance_id: str, name: RepositoryName, retention_id: int) -> SharedRetention:
        """One retention of a repository."""
        return await self.db.read(lambda conn: _retention(conn, _repository(conn, instance_id, name), retention_id))

    async def update(
        self,
        *,
        instance_id: str,
        name: RepositoryName,
        retention_id: int,
        algorithm: str,
        fields: Sequence[SharedRuleFields],
    ) -> None:
        """Replace a retention's rules; it runs now."""
        rules = [f.checked() for f in fields]
        check_shared_rules(algorithm, rules)

        def work(conn: Connection) -> None:
            repository = _repository(conn, instance_id, name)
            found = _retention(conn, repository, retention_id)
            q.update_rules(conn, found.id, algorithm=algorithm, rules=rules)
            record_events(conn, _changed(Operation.UPDATE, repository, found.id))

        await self.db.write(work)
        await self.run_soon(retention_id, trigger="changed")

    async def delete(self, *, instance_id: str, name: RepositoryName, retention_id: int) -> None:
        """Delete a retention (its log stays)."""

        def work(conn: Connection) -> None:
            repository = _repository(conn, instance_id, name)
            q.delete_retention(conn, _retention(conn, repository, retention_id).id)
            record_events(conn, _changed(Operation.DELETE, repository, retention_id))

        await self.db.write(work)

    async def histories(
        self, *, instance_id: str, name: RepositoryName, offset: int, limit: int | None
    ) -> Page[RetentionLog]:
        """The repository's retention log, newest first."""
        return await self.db.read(
            lambda conn: q.list_logs(conn, _repository(conn, instance_id, name).id, offset=offset, limit=limit)
        )

    async def run_soon(self, retention_id: int, *, trigger: str, dedupe_key: str | None = None) -> None:
        """Queue a run of a retention."""
        await self.jobs.submit(
            JobKind.RETENTION_RUN, {"retention_id": retention_id, "trigger": trigger}, dedupe_key=dedupe_key
        )


class SharedRetentionRunner:
    """Runs one retention (the body of a ``registry.retention_run`` job)."""

    def __init__(self, db: Database, removal: ImageRemoval, *, log_max_entries: int) -> None:
        self.db = db
        self.removal = removal
        self.log_max_entries = log_max_entries

    def run(self, retention_id: int, control: JobControl) -> dict[str, Any]:
        """Decide, then delete tag by tag; the result counts what was deleted and what was kept."""
        found = self.db.run_read(lambda conn: self._plan(conn, retention_id))
        if found is None:
            return {"retention": retention_id, "skipped": "the retention or its repository no longer exists"}
        retention, repository, decided = found
        counts = {outcome.value: 0 for outcome in Outcome}
        text = rule_type(retention)
        for done, (state, digest) in enumerate(decided):
            control.check_stopped()
            control.progress(done, len(decided))
            outcome = self.db.run_write(
                partial(
                    self._delete, retention=retention, repository=repository, state=state, digest=digest, rule_type=text
                )
            )
            counts[outcome.value] += 1
        control.progress(len(decided), len(decided))
        self.db.run_write(lambda conn: q.trim_logs(conn, repository.id, keep=self.log_max_entries))
        return {"retention": retention_id, "repository": repository.full_name, "decided": len(decided), **counts}

    def _delete(
        self,
        conn: Connection,
        *,
        retention: SharedRetention,
        repository: Repository,
        state: TagState,
        digest: str,
        rule_type: str,
    ) -> Outcome:
        """Delete one tag as decided, and log it in the same transaction."""
        removal = self.removal.remove_tag(
            conn, repository, state.name, manifest_id=state.manifest_id, pushed_at=state.pushed_at
        )
        if removal.outcome is Outcome.DELETED:
            q.add_log(conn, retention=retention, tag=state.name, digest=digest, rule_type=rule_type)
            record_events(conn, removal_event(repository, digest, (state.name,), tag=state.name))
        elif removal.outcome is not Outcome.GONE:
            log.info("retention %d kept %s:%s: %s", retention.id, repository.full_name, state.name, removal.reason)
        return removal.outcome

    @staticmethod
    def _plan(
        conn: Connection, retention_id: int
    ) -> tuple[SharedRetention, Repository, list[tuple[TagState, str]]] | None:
        retention = q.get(conn, retention_id)
        repository = repositories_q.by_id(conn, retention.repository_id) if retention else None
        if retention is None or repository is None:
            return None
        candidates = candidates_q.tagged_candidates(conn, repository.id)
        digests = {c.manifest_id: c.digest for c in candidates}
        states = [state for candidate in candidates for state in candidate.tags]
        return (
            retention,
            repository,
            [(state, digests[state.manifest_id]) for state in shared_deletions(retention.rules, states, now_ms())],
        )


def _changed(operation: Operation, repository: Repository, retention_id: int) -> NewEvent:
    """The event of a repository's retention created, changed or deleted."""
    return change_event(
        operation,
        ResourceType.RETENTION_POLICY,
        instance_id=repository.instance_id,
        resource=f"{repository.full_name}/{retention_id}",
        namespace=repository.namespace,
        repository=repository.full_name,
        domain_id=repository.domain_id,
    )
