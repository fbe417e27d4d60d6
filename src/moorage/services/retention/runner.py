"""The jobs of retention: a shared-edition retention's run, and an execution of an Enterprise
Edition retention policy.

An execution:

1. Plans, once: each repository of the policy's namespace that an enabled rule covers becomes a task
   with the number of artifacts it looked at and kept; each artifact to delete becomes a ``Pending``
   subtask holding the decision (the manifest and its tags with their push times). Artifacts an
   immutable tag rule protects are kept, and counted as kept. A dry run's subtasks are ``Succeed``
   at once ("would be deleted") and nothing is deleted.
2. Deletes subtask by subtask, oldest artifact first, each in one transaction that re-checks the
   decision (``services/image_removal.py``) and records the subtask's outcome: ``Succeed`` (deleted,
   or kept because it was pushed again, is protected now or was deleted by somebody else, as its
   ``status_text`` says) or ``Failed``. A job that died half way runs again and goes on with what
   is left.
3. Settles: each task and the execution get the status their subtasks add up to (the signature
   executions' vocabulary and rule).

A lost lease (or the policy deleted meanwhile) stops it: what is left is marked ``Stopped``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy.engine import Connection

from moorage.domain.enterprise import RunStatus, summarize
from moorage.domain.errors import Denied
from moorage.domain.events import RETENTION_EVENT_ITEMS, NewEvent, retention_run_event
from moorage.domain.jobs import JobControl, JobStopped
from moorage.domain.registry import DEFAULT_INSTANCE, Repository
from moorage.domain.retention import Candidate, RetentionExecution, RetentionPolicy, RetentionSubtask
from moorage.metadata.database import Database, now_ms
from moorage.metadata.queries import enterprise_repositories as instance_repositories_q
from moorage.metadata.queries import repositories as repositories_q
from moorage.metadata.queries import retention_candidates as candidates_q
from moorage.metadata.queries import retention_policies as q
from moorage.metadata.queries import retention_runs as runs_q
from moorage.services.enterprise.immutability import ImmutableTagGuard
from moorage.services.events.recorder import record_events
from moorage.services.image_removal import ImageRemoval, Outcome, removal_event
from moorage.services.retention.rules import policy_decision, rules_for, wants_untagged_artifacts
from moorage.services.retention.shared import SharedRetentionRunner
from moorage.services.runs import StopPoll, must_stop
from moorage.services.tag_protection import TagProtection
from moorage.settings import Settings

log = logging.getLogger(__name__)

STOP_CHECK_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class _TaskPlan:
    repository_id: int
    repository: str
    total: int
    retained: int
    deletions: tuple[runs_q.PlannedDeletion, ...]


def decision_json(candidate: Candidate) -> str:
    """What a subtask stores of the run's decision: the manifest and its tags with their push times."""
    return json.dumps(
        {"manifest_id": candidate.manifest_id, "tags": {t.name: t.pushed_at for t in candidate.tags}}, sort_keys=True
    )


class ExecutionRunner:
    """Runs executions of retention policies (one per call of ``run``)."""

    def __init__(self, db: Database, protection: TagProtection, *, untagged_grace_ms: int) -> None:
        self.db = db
        self.protection = protection
        self.removal = ImageRemoval(protection)
        self.untagged_grace_ms = untagged_grace_ms
        self._stop_poll = StopPoll(STOP_CHECK_SECONDS)

    def run(self, execution_id: int, control: JobControl) -> dict[str, Any]:
        """Plan (once), delete what is left to delete, settle."""
        execution = self.db.run_read(lambda conn: runs_q.execution_by_id(conn, execution_id))
        policy = self.db.run_read(lambda conn: q.policy_by_id(conn, execution.policy_id)) if execution else None
        if execution is None or policy is None or execution.status.finished:
            return {"execution": execution_id, "skipped": "the execution has finished or no longer exists"}
        try:
            self.db.run_write(lambda conn: runs_q.set_execution_status(conn, execution_id, RunStatus.IN_PROGRESS))
            self._plan(execution, policy, control.job.id)
            todo = self.db.run_read(lambda conn: runs_q.unfinished_subtasks(conn, execution_id))
            for done, (subtask, decision) in enumerate(todo):
                self._check_stop(control, execution_id)
                control.progress(done, len(todo))
                self.db.run_write(partial(self._delete, subtask=subtask, decision_text=decision))
            control.progress(len(todo), len(todo))
        except JobStopped:
            self.db.run_write(lambda conn: self._stop(conn, execution_id))
            raise
        except Exception as exc:
            if control.job.attempts >= control.job.max_attempts:
                final = f"{type(exc).__name__}: {exc}"
                self.db.run_write(lambda conn: self._fail_all(conn, execution_id, final))
            raise
        return self.db.run_write(lambda conn: self._settle(conn, execution))

    # Planning ---------------------------------------------------------------------------------------
    def _plan(self, execution: RetentionExecution, policy: RetentionPolicy, job_id: str) -> None:
        if self.db.run_read(lambda conn: runs_q.has_tasks(conn, execution.id)):
            return  # a job that ran before planned already
        plans = self.db.run_read(lambda conn: self._decide(conn, policy))

        def write(conn: Connection) -> None:
            if runs_q.has_tasks(conn, execution.id):
                return
            for plan in plans:
                runs_q.create_task(
                    conn,
                    execution_id=execution.id,
                    job_id=job_id,
                    repository_id=plan.repository_id,
                    namespace=policy.namespace_name,
                    repository=plan.repository,
                    total=plan.total,
                    retained=plan.retained,
                    deletions=plan.deletions,
                    dry_run=execution.dry_run,
                )

        self.db.run_write(write)

    def _decide(self, conn: Connection, policy: RetentionPolicy) -> list[_TaskPlan]:
        now = now_ms()
        plans = []
        for repository_id, name in instance_repositories_q.repositories_of_namespace(conn, policy.namespace_id):
            rules = rules_for(policy.rules, name)
            repository = repositories_q.by_id(conn, repository_id)
            if not rules or repository is None:
                continue
            tagged = candidates_q.tagged_candidates(conn, repository_id)
            untagged = []
            if wants_untagged_artifacts(rules):
                untagged = candidates_q.untagged_candidates(
                    conn, repository_id, created_before=now - self.untagged_grace_ms
                )
            decision = policy_decision(rules, tagged, untagged, now)
            deletions = [c for c in decision.deletions if not self._protected(conn, repository, c)]
            plans.append(
                _TaskPlan(
                    repository_id,
                    name,
                    decision.total,
                    decision.retained + len(decision.deletions) - len(deletions),
                    tuple(runs_q.PlannedDeletion(",".join(c.tag_names), c.digest, decision_json(c)) for c in deletions),
                )
            )
        return plans

    def _protected(self, conn: Connection, repository: Repository, candidate: Candidate) -> bool:
        try:
            self.protection.check_manifest_removal(conn, repository, candidate.digest)
        except Denied:
            return True
        return False

    # Deleting ---------------------------------------------------------------------------------------
    def _delete(self, conn: Connection, *, subtask: RetentionSubtask, decision_text: str) -> None:
        decision = json.loads(decision_text)
        repository_id = runs_q.task_repository(conn, subtask.task_id)
        repository = repositories_q.by_id(conn, repository_id) if repository_id is not None else None
        if repository is None:
            status, text, kept = RunStatus.SUCCEED, "the repository was deleted meanwhile", False
        else:
            removal = self.removal.remove_artifact(
                conn,
                repository,
                manifest_id=int(decision["manifest_id"]),
                tags={str(k): int(v) for k, v in decision["tags"].items()},
            )
            kept = removal.outcome in (Outcome.CHANGED, Outcome.PROTECTED)
            text = f"kept: {removal.reason}" if kept else removal.reason
            status = RunStatus.SUCCEED
            if removal.outcome is Outcome.DELETED:
                record_events(conn, removal_event(repository, subtask.digest, tuple(decision["tags"])))
        if kept:
            runs_q.add_retained(conn, subtask.task_id)
        runs_q.set_subtask_status(conn, subtask.id, status, text)
        runs_q.settle_tasks(conn, subtask.execution_id, task_id=subtask.task_id)

    def _check_stop(self, control: JobControl, execution_id: int) -> None:
        """Stop when the lease is lost, a stop was asked, or the execution was deleted (its policy
        was); the database is asked at most every ``STOP_CHECK_SECONDS``."""
        control.check_stopped()
        if self._stop_poll.due() and self.db.run_read(
            lambda conn: must_stop(conn, control.job.id, lambda c: runs_q.execution_by_id(c, execution_id))
        ):
            raise JobStopped(control.job.id)

    # Ending -----------------------------------------------------------------------------------------
    @staticmethod
    def _settle(conn: Connection, execution: RetentionExecution) -> dict[str, Any]:
        runs_q.settle_tasks(conn, execution.id)
        counts = runs_q.execution_counts(conn, execution.id)
        status, text = summarize(counts)
        deleted = sum(counts.values())
        if execution.dry_run:
            text = f"dry run: {deleted} artifacts would be deleted"
        elif status is RunStatus.SUCCEED:
            text = f"{deleted} artifacts processed" if deleted else "nothing to delete"
        runs_q.set_execution_status(conn, execution.id, status, text)
        if not execution.dry_run:
            record_events(conn, _run_event(conn, execution, status))
        return {"execution": execution.id, "status": status.value, **counts}

    @staticmethod
    def _stop(conn: Connection, execution_id: int) -> None:
        runs_q.stop_unfinished(conn, execution_id)
        runs_q.set_execution_status(conn, execution_id, RunStatus.STOPPED, "stopped")

    @staticmethod
    def _fail_all(conn: Connection, execution_id: int, reason: str) -> None:
        for subtask, _decision in runs_q.unfinished_subtasks(conn, execution_id):
            runs_q.set_subtask_status(conn, subtask.id, RunStatus.FAILED, reason)
        runs_q.settle_tasks(conn, execution_id)
        runs_q.set_execution_status(conn, execution_id, RunStatus.FAILED, reason)


def _run_event(conn: Connection, execution: RetentionExecution, status: RunStatus) -> NewEvent:
    """The event of an execution that ended (``TAG_RETENTION`` for webhooks): its totals and the
    first deletions."""
    policy = q.policy_by_id(conn, execution.policy_id)
    total, retained = runs_q.execution_totals(conn, execution.id)
    deleted = runs_q.deleted_subtasks(conn, execution.id, limit=RETENTION_EVENT_ITEMS)
    namespace = policy.namespace_name if policy is not None else (deleted[0].namespace if deleted else "")
    return retention_run_event(
        instance_id=policy.instance_id if policy is not None else DEFAULT_INSTANCE,
        namespace=namespace,
        domain_id=None,
        policy_id=execution.policy_id,
        status=status.value,
        total=total,
        retained=retained,
        deleted=[
            {"repository": subtask.repository, "tag": subtask.tags, "digest": subtask.digest} for subtask in deleted
        ],
    )


def run_execution(job: JobControl, execution_id: int, *, settings: Settings, db: Database) -> dict[str, Any]:
    """The body of the ``enterprise.retention_execution`` job."""
    runner = ExecutionRunner(
        db, ImmutableTagGuard(), untagged_grace_ms=settings.retention.untagged_grace_seconds * 1000
    )
    return runner.run(execution_id, job)


def run_shared(job: JobControl, retention_id: int, *, settings: Settings, db: Database) -> dict[str, Any]:
    """The body of the ``registry.retention_run`` job (the repository may be an Enterprise Edition
    instance's, addressed through the shared edition's API on the instance's host name: its immutable
    tag rules hold)."""
    runner = SharedRetentionRunner(
        db, ImageRemoval(ImmutableTagGuard()), log_max_entries=settings.retention.log_max_entries
    )
    return runner.run(retention_id, job)
