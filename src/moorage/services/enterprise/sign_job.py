"""The job that runs one execution of a signature policy.

1. Plan, once: the repositories of the policy's namespace its rules select become tasks, and the
   tags (or untagged artifacts) they select become ``Pending`` subtasks, with the digest each tag
   points at now.
2. Sign each unfinished subtask in order: ``InProgress``, then ``Succeed`` or ``Failed`` with the
   reason. A signature already present for the same reference and digest is not made again, so a
   job that died half way (server killed, worker lost its lease) and runs again picks up where it
   was and leaves exactly one signature per tag.
3. Settle: each task and the execution get the status their subtasks add up to.

A stop request (the API's stop, or a lost lease) marks what is left ``Stopped``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from moorage.auth.keys import MasterKey
from moorage.domain.enterprise import RunStatus, SignPolicy, SignSubtask, summarize
from moorage.domain.jobs import JobControl, JobStopped
from moorage.domain.names import RepositoryName
from moorage.domain.registry import Repository
from moorage.metadata.database import Database
from moorage.metadata.queries import enterprise_artifacts as artifacts_q
from moorage.metadata.queries import enterprise_repositories as instance_repositories_q
from moorage.metadata.queries import enterprise_signing as q
from moorage.metadata.queries import manifests as manifest_q
from moorage.metadata.queries import repositories as repositories_q
from moorage.metadata.queries import sign_runs as runs_q
from moorage.services.enterprise.hosts import HostDirectory
from moorage.services.enterprise.instances import InstanceService
from moorage.services.enterprise.selectors import repository_selected, tag_selected
from moorage.services.enterprise.signature_store import SignatureStore
from moorage.services.enterprise.signing_keys import sealing_context
from moorage.services.runs import StopPoll, must_stop
from moorage.settings import Settings
from moorage.signing import key_algorithm, signature_scheme
from moorage.signing.cosign import decode_signature, new_entry
from moorage.signing.interface import KeyAlgorithm, SignatureEntry, SignatureScheme, SigningError, Subject
from moorage.storage.blobstore import BlobStore

log = logging.getLogger(__name__)

MAX_WRITE_ATTEMPTS = 10
CONCURRENCY = 4
STOP_CHECK_SECONDS = 0.5


class SubtaskFailed(Exception):
    """A subtask that cannot succeed; its message becomes the subtask's status text."""


@dataclass(frozen=True, slots=True)
class _Key:
    private_pem: str
    public_pem: str
    algorithm: KeyAlgorithm


class SignRunner:
    """Runs executions (one per call of ``run``)."""

    def __init__(
        self, db: Database, store: BlobStore, master_key: MasterKey, *, external_url: str, pause_seconds: float = 0.0
    ) -> None:
        self.db = db
        self.master_key = master_key
        self.signatures = SignatureStore(db, store)
        self.instances = InstanceService(db, HostDirectory(db), external_url=external_url)
        self.pause_seconds = pause_seconds
        self.scheme: SignatureScheme = signature_scheme()
        self._stop_poll = StopPoll(STOP_CHECK_SECONDS)

    async def run(self, execution_id: int, context: JobControl) -> dict[str, Any]:
        """Plan (once) and sign every unfinished subtask of an execution."""
        scope = await self.db.read(lambda conn: runs_q.execution_scope(conn, execution_id))
        if scope is None:
            return {"execution": execution_id, "skipped": "the execution no longer exists"}
        policy_id, only_repository, only_tag = scope
        policy = await self.db.read(lambda conn: q.policy_by_id(conn, policy_id))
        status = await self.db.read(lambda conn: runs_q.execution_status(conn, execution_id))
        if policy is None or status is None or status.finished:
            return {"execution": execution_id, "skipped": "already finished"}
        try:
            await self.db.write(lambda conn: runs_q.set_execution_status(conn, execution_id, RunStatus.IN_PROGRESS))
            await self.db.write(
                lambda conn: self._plan(conn, execution_id, context.job.id, policy, only_repository, only_tag)
            )
            key = await self._key(policy)
            host = await self.instances.access_address(policy.instance_id)
            todo = await self.db.read(lambda conn: runs_q.unfinished_subtasks(conn, execution_id))
            # A few subtasks at a time: their database and storage round trips overlap (measured
            # 2x on two cores); with a pause configured, one at a time.
            width = 1 if self.pause_seconds else CONCURRENCY
            for start in range(0, len(todo), width):
                await self._check_stop(context, execution_id)
                context.progress(start, len(todo))
                await asyncio.gather(
                    *(self._run_subtask(policy, key, host, subtask) for subtask in todo[start : start + width])
                )
                if self.pause_seconds:
                    await asyncio.sleep(self.pause_seconds)
            context.progress(len(todo), len(todo))
        except JobStopped:
            await self.db.write(lambda conn: self._stop(conn, execution_id))
            raise
        except SubtaskFailed as failure:  # the whole execution cannot run (its key is gone...)
            reason = str(failure)
            await self.db.write(lambda conn: self._fail_all(conn, execution_id, reason))
            return {"execution": execution_id, "status": RunStatus.FAILED.value, "error": reason}
        except Exception as exc:
            if context.job.attempts >= context.job.max_attempts:
                final = f"{type(exc).__name__}: {exc}"
                await self.db.write(lambda conn: self._fail_all(conn, execution_id, final))
            raise
        counts = await self.db.write(lambda conn: self._settle(conn, execution_id))
        return {"execution": execution_id, **counts}

    # Steps ----------------------------------------------------------------------------------------
    @staticmethod
    def _plan(
        conn: Connection,
        execution_id: int,
        job_id: str,
        policy: SignPolicy,
        only_repository: str | None,
        only_tag: str | None,
    ) -> None:
        if runs_q.has_tasks(conn, execution_id):
            return
        for repository_id, name in instance_repositories_q.repositories_of_namespace(conn, policy.namespace_id):
            if only_repository is not None and name != only_repository:
                continue
            rules = [r for r in policy.scope_rules if repository_selected(r, name)]
            if not rules:
                continue
            chosen = [
                (tag, digest)
                for tag, digest in artifacts_q.tagged_digests(conn, repository_id)
                if (only_tag is None or tag == only_tag) and any(tag_selected(r, tag) for r in rules)
            ]
            if only_tag is None and any(tag_selected(r, "") for r in rules):
                chosen += [("", digest) for digest in artifacts_q.untagged_digests(conn, repository_id)]
            if chosen:
                runs_q.create_task(
                    conn,
                    execution_id=execution_id,
                    job_id=job_id,
                    namespace=policy.namespace_name,
                    repository=name,
                    subtasks=chosen,
                )

    async def _key(self, policy: SignPolicy) -> _Key:
        found = await self.db.read(lambda conn: q.private_key(conn, policy.signature_key))
        public = await self.db.read(lambda conn: q.get_key(conn, policy.instance_id, policy.signature_key))
        if found is None or public is None or found[0] != policy.instance_id:
            raise SubtaskFailed(f"signing key {policy.signature_key} no longer exists")
        private_pem = self.master_key.decrypt(found[1], context=sealing_context(policy.signature_key))
        try:
            algorithm = key_algorithm(public.algorithm)
        except SigningError as exc:
            raise SubtaskFailed(str(exc)) from exc
        return _Key(private_pem, public.public_key_pem, algorithm)

    async def _check_stop(self, context: JobControl, execution_id: int) -> None:
        """Stop when asked (the API's stop, a lost lease) or when the execution was deleted; the
        database is asked at most every ``STOP_CHECK_SECONDS``."""
        context.check_stopped()
        if self._stop_poll.due() and await self.db.read(
            lambda conn: must_stop(conn, context.job.id, lambda c: runs_q.execution_scope(c, execution_id))
        ):
            raise JobStopped(context.job.id)

    async def _run_subtask(self, policy: SignPolicy, key: _Key, host: str, subtask: SignSubtask) -> None:
        await self.db.write(lambda conn: self._mark(conn, subtask, RunStatus.IN_PROGRESS, ""))
        try:
            note = await self._sign(policy, key, host, subtask)
        except (SubtaskFailed, SigningError) as exc:
            reason = str(exc)
            await self.db.write(lambda conn: self._mark(conn, subtask, RunStatus.FAILED, reason))
            return
        if note is not None:  # nothing written: record the outcome on its own
            await self.db.write(lambda conn: self._mark(conn, subtask, RunStatus.SUCCEED, note))

    @staticmethod
    def _mark(conn: Connection, subtask: SignSubtask, status: RunStatus, text: str) -> None:
        runs_q.set_subtask_status(conn, subtask.id, status, text)
        if status == RunStatus.IN_PROGRESS:
            runs_q.set_task_status(conn, subtask.task_id, RunStatus.IN_PROGRESS)
        elif not runs_q.task_has_unfinished(conn, subtask.task_id):  # the task's last subtask: settle it
            runs_q.settle_tasks(conn, subtask.execution_id, task_id=subtask.task_id)

    async def _sign(self, policy: SignPolicy, key: _Key, host: str, subtask: SignSubtask) -> str | None:
        """Sign one subtask; None when the signature was written together with the subtask's
        ``Succeed`` (one transaction), else the note of a success that wrote nothing."""
        name = RepositoryName(subtask.namespace, subtask.repository)
        repository: Repository | None = await self.db.read(
            lambda conn: repositories_q.get(conn, policy.instance_id, name)
        )
        record = None
        if repository is not None:
            record = await self.db.read(
                lambda conn: manifest_q.by_digest(conn, repository.id, subtask.digest, with_payload=False)
            )
        if repository is None or record is None:
            raise SubtaskFailed(f"{name}@{subtask.digest} no longer exists")
        if not host:
            raise SubtaskFailed("the instance has no domain name to name the image with; add one first")
        reference = f"{host}/{name}" + (f":{subtask.tag}" if subtask.tag else "")
        subject = Subject(subtask.digest, record.media_type, record.size, reference)
        tag = self.scheme.signature_tag(subtask.digest)
        payload = self.scheme.payload(subject)
        entry = new_entry(payload, key.algorithm.sign(key.private_pem, payload))
        for _attempt in range(MAX_WRITE_ATTEMPTS):
            current = await self.signatures.current(repository, tag)
            entries = self.scheme.entries(current[1]) if current is not None else []
            if any(self._vouches(key, existing, payload, entry.payload_digest) for existing in entries):
                return "already signed"
            artifact = self.scheme.artifact(subject, [*entries, entry])
            if await self.signatures.write(
                repository,
                artifact,
                replacing=current[0] if current else None,
                also=lambda conn: self._mark(conn, subtask, RunStatus.SUCCEED, ""),
            ):
                return None
        raise SubtaskFailed("the signature artifact kept changing under concurrent writers; run again")

    @staticmethod
    def _vouches(key: _Key, existing: SignatureEntry, payload: bytes, payload_digest: str) -> bool:
        """Whether an existing signature is this key's signature of this very payload."""
        if existing.payload_digest != payload_digest:
            return False
        try:
            return key.algorithm.verify(key.public_pem, payload, decode_signature(existing.signature))
        except SigningError:
            return False

    @staticmethod
    def _settle(conn: Connection, execution_id: int) -> dict[str, int]:
        runs_q.settle_tasks(conn, execution_id)
        counts = runs_q.execution_counts(conn, execution_id)
        status, text = summarize(counts)
        if not counts:
            status, text = RunStatus.SUCCEED, "nothing matched the policy's rules"
        runs_q.set_execution_status(conn, execution_id, status, text)
        return counts

    @staticmethod
    def _stop(conn: Connection, execution_id: int) -> None:
        runs_q.stop_unfinished(conn, execution_id)
        runs_q.set_execution_status(conn, execution_id, RunStatus.STOPPED, "stopped on request")

    @staticmethod
    def _fail_all(conn: Connection, execution_id: int, reason: str) -> None:
        for subtask in runs_q.unfinished_subtasks(conn, execution_id):
            runs_q.set_subtask_status(conn, subtask.id, RunStatus.FAILED, reason)
        runs_q.settle_tasks(conn, execution_id)
        runs_q.set_execution_status(conn, execution_id, RunStatus.FAILED, reason)


def run_execution(
    job: JobControl, execution_id: int, *, settings: Settings, db: Database, store: BlobStore, master_key: MasterKey
) -> dict[str, Any]:
    """The body of the ``enterprise.sign_execution`` job (synchronous, as job bodies are)."""
    runner = SignRunner(
        db,
        store,
        master_key,
        external_url=settings.resolved_external_url,
        pause_seconds=settings.enterprise.sign_pause_ms / 1000,
    )
    return asyncio.run(runner.run(execution_id, job))
