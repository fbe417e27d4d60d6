"""One execution of a replication policy (the ``enterprise.replication_execution`` job): plan one
task per artifact the filters select, copy each through the copy engine
(``moorage.services.replication``), record per manifest and per blob what the copy did (the
subtasks), and settle the execution.

- **Plan** (once; a re-run of the job after a crash continues with the tasks not finished): a full
  run lists the source's repositories (``name`` filters), their tags (``tag`` filters) and, when the
  policy filters on labels, reads each image's labels. An event-based run has one artifact, the one
  the event named: a push is a copy, a delete (when the policy replicates deletions) a deletion.
- **Copy**: ``override``, ``copy_by_chunk`` and the bandwidth limit (one token bucket for the whole
  execution) are the policy's; referrers (signatures, SBOMs) go with their artifact. A tag the
  destination holds with another digest is skipped without ``override`` (the task says so).
- **Stop**: checked before each artifact and every few blob chunks, so a stop lands mid-artifact;
  what was not done is marked ``Stopped``.
- **Events**: the execution's start (``create``) and end (``update``, with its status and counts)
  are ``replication`` events, which webhook policies see as ``REPLICATION``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from sqlalchemy.engine import Connection

from moorage.auth.keys import MasterKey
from moorage.clients.errors import RegistryError, public_reason
from moorage.domain.enterprise import RunStatus, summarize
from moorage.domain.errors import MoorageError
from moorage.domain.events import NewEvent, Operation, ResourceType
from moorage.domain.jobs import JobControl, JobStopped, JobSubmitter
from moorage.domain.manifests import ImageManifest, parse_manifest
from moorage.domain.replication import (
    ReplicationFilter,
    ReplicationPolicy,
    ReplicationRegistry,
    ReplicationTask,
    destination_repository,
    has_label_filter,
    labels_selected,
    repository_selected,
    tag_selected,
)
from moorage.metadata.database import Database, now_ms
from moorage.metadata.queries import enterprise_instances as instances_q
from moorage.metadata.queries import replication as q
from moorage.metadata.queries import replication_runs as runs_q
from moorage.services.enterprise.replication.ends import Ends, StoppableSource
from moorage.services.enterprise.replication.registries import RegistryAccess, catalog_type
from moorage.services.events.recorder import record_events
from moorage.services.replication import (
    ArtifactSource,
    CopyOptions,
    CopyReport,
    LocalEndpoint,
    TokenBucket,
    copy_artifact,
    delete_artifact,
    local_registry,
    push_listeners,
    remote_endpoint,
)
from moorage.services.runs import must_stop
from moorage.services.security.catalogs import RemoteRegistry, make_catalog
from moorage.services.security.remote_access import RemoteAccess, remote_access_of
from moorage.settings import Settings
from moorage.storage.blobstore import BlobStore

log = logging.getLogger(__name__)

STOP_POLL_SECONDS = 0.5
"""How often a running execution asks the database whether it must stop (a stop request, or its
policy deleted), besides the runner's own flag."""
MAX_CONFIG_BYTES = 1 << 20


def _text(error: BaseException) -> str:
    """What a task may say about a failure (no credentials, no addresses of remote internals)."""
    if isinstance(error, RegistryError):
        return public_reason(error)
    if isinstance(error, MoorageError):
        return str(error)[:500]
    return f"{type(error).__name__}: {str(error)[:300]}"


class ExecutionRunner:
    """Runs one execution."""

    def __init__(
        self,
        db: Database,
        *,
        settings: Settings,
        store: BlobStore,
        master_key: MasterKey,
        access: RemoteAccess,
        jobs: JobSubmitter,
    ) -> None:
        self.db = db
        self.settings = settings
        self.store = store
        self.master_key = master_key
        self.access = access
        self.jobs = jobs
        """Where the copy's pushes queue what a push sets off (scans, signing executions)."""
        self.max_artifacts = settings.replication.max_artifacts_per_execution
        self.parallel = settings.replication.parallel_artifacts

    def _registry(self, registry_id: int) -> tuple[ReplicationRegistry, str]:
        registry = self.db.run_read(lambda conn: q.registry_by_id(conn, registry_id))
        if registry is None:
            raise LookupError(f"replication registry {registry_id} no longer exists")
        sealed = self.db.run_read(lambda conn: q.sealed_password(conn, registry_id))
        password = self.master_key.decrypt(sealed, context=f"replication-registry:{registry_id}") if sealed else ""
        return registry, password

    def _ends(self, policy: ReplicationPolicy, check: Callable[[], None]) -> Ends:
        registry_id = policy.src_registry_id if policy.src_registry_id is not None else policy.dest_registry_id
        assert registry_id is not None  # a policy has exactly one registry (checked when stored)
        registry, password = self._registry(registry_id)
        instance = self.db.run_read(lambda conn: instances_q.get_instance(conn, policy.instance_id))
        local = LocalEndpoint(
            local_registry(
                self.settings, self.db, self.store, listeners=push_listeners(self.settings, self.db, self.jobs)
            ),
            policy.instance_id,
            domain_id=instance.domain_id if instance else None,
        )
        remote = remote_endpoint(
            registry.url,
            settings=self.settings,
            username=registry.username,
            password=password,
            verify_tls=not registry.insecure,
        )
        if policy.push_based:
            return Ends(StoppableSource(local, check), remote, remote, registry, f"{registry.host}/")
        return Ends(StoppableSource(remote, check), local, remote, registry, "")

    # Planning ---------------------------------------------------------------------------------------
    async def _labels(self, source: ArtifactSource, repository: str, tag: str) -> dict[str, str]:
        """An image's labels: its config's ``Labels`` and its manifest's annotations (an index: its
        annotations only)."""
        manifest = await source.get_manifest(repository, tag)
        if manifest is None:
            return {}
        parsed = parse_manifest(manifest.raw, manifest.media_type or None)
        labels: dict[str, str] = {str(k): str(v) for k, v in (parsed.annotations or {}).items()}
        if isinstance(parsed, ImageManifest) and parsed.config.size <= MAX_CONFIG_BYTES:
            body = b"".join([c async for c in source.blob_chunks(repository, parsed.config.digest, parsed.config.size)])
            try:
                config = json.loads(body)
            except ValueError:
                return labels
            found = (config.get("config") or {}).get("Labels") or {} if isinstance(config, dict) else {}
            if isinstance(found, dict):
                labels.update({str(k): str(v) for k, v in found.items()})
        return labels

    async def _list(self, policy: ReplicationPolicy, ends: Ends) -> list[tuple[str, str]]:
        """(repository, tag) pairs of the source the filters select."""
        filters: tuple[ReplicationFilter, ...] = policy.filters
        pairs: list[tuple[str, str]] = []
        if not policy.push_based and catalog_type(ends.registry.type).value != "Other":
            # Harbor and Artifactory list through their own APIs (their catalogs may be off)
            catalog = make_catalog(catalog_type(ends.registry.type), _catalog_remote(ends, self.access))
            tags = await catalog.tags(limit=self.max_artifacts)
            pairs = [(t.repository, t.tag) for t in tags]
        else:
            for repository in sorted(await ends.source.list_repositories()):
                if not repository_selected(filters, repository):
                    continue
                for tag in sorted(await ends.source.list_tags(repository)):
                    pairs.append((repository, tag))
                    if len(pairs) >= self.max_artifacts:
                        break
        chosen = []
        for repository, tag in pairs:
            if not repository_selected(filters, repository) or not tag_selected(filters, tag):
                continue
            if _cosign_tag(tag):
                continue  # signatures and attestations travel with the artifact they belong to
            if has_label_filter(filters) and not labels_selected(
                filters, await self._labels(ends.source, repository, tag)
            ):
                continue
            chosen.append((repository, tag))
        return chosen[: self.max_artifacts]

    async def _plan(
        self, execution_id: int, job_id: str, policy: ReplicationPolicy, scope: dict[str, Any], ends: Ends
    ) -> None:
        if await self.db.read(lambda conn: runs_q.has_tasks(conn, execution_id)):
            return
        planned: list[tuple[str, str, str]] = []
        if scope.get("repository"):
            repository, tag, digest = str(scope["repository"]), str(scope.get("tag", "")), str(scope.get("digest", ""))
            reference = tag or digest
            dest = destination_repository(repository, policy.dest_namespace, policy.dest_namespace_replace_count)
            separator = ":" if tag else "@"
            operation = "deletion" if scope.get("deleted") else "copy"
            if reference and (tag_selected(policy.filters, tag) or not tag):
                planned.append(
                    (
                        f"{repository}{separator}{reference}",
                        f"{ends.dest_prefix}{dest}{separator}{reference}",
                        operation,
                    )
                )
        else:
            for repository, tag in await self._list(policy, ends):
                dest = destination_repository(repository, policy.dest_namespace, policy.dest_namespace_replace_count)
                planned.append((f"{repository}:{tag}", f"{ends.dest_prefix}{dest}:{tag}", "copy"))
        await self.db.write(
            lambda conn: runs_q.create_tasks(conn, execution_id=execution_id, job_id=job_id, tasks=planned)
        )

    # Copying ----------------------------------------------------------------------------------------
    async def _task(
        self, task: ReplicationTask, policy: ReplicationPolicy, ends: Ends, bucket: TokenBucket | None
    ) -> None:
        source_repository, separator, reference = _split(task.src_resource)
        dest_repository, _, _ = _split(task.dst_resource.removeprefix(ends.dest_prefix))
        await self.db.write(lambda conn: runs_q.set_task_status(conn, task.id, RunStatus.IN_PROGRESS))
        started = now_ms()
        if task.operation == "deletion":
            deleted = await delete_artifact(ends.sink, dest_repository, reference)
            text = "deleted" if deleted else "nothing to delete at the destination"
            await self.db.write(lambda conn: runs_q.set_task_status(conn, task.id, RunStatus.SUCCEED, text))
            return
        options = CopyOptions(
            override=policy.override,
            copy_by_chunk=policy.copy_by_chunk,
            chunk_size=self.settings.replication.chunk_bytes,
            bandwidth_limit=policy.speed_kb * 1024 if policy.speed_kb > 0 else None,
        )
        report = await copy_artifact(
            ends.source, ends.sink, source_repository, reference, dest_repository, options, bucket=bucket
        )
        tag = reference if separator == ":" else ""
        await self.db.write(lambda conn: self._record(conn, task, report, dest_repository, tag, started))

    @staticmethod
    def _record(
        conn: Connection, task: ReplicationTask, report: CopyReport, dest_repository: str, tag: str, started: int
    ) -> None:
        namespace, _, repository = dest_repository.partition("/")
        if report.skipped:
            text = f"skipped: the destination tag names {report.destination_digest} (override is off)"
            runs_q.set_task_status(conn, task.id, RunStatus.SUCCEED, text)
            return

        def add(digest: str, text: str) -> None:
            runs_q.add_subtask(
                conn,
                task_id=task.id,
                execution_id=task.execution_id,
                job_id=task.job_id,
                namespace=namespace,
                repository=repository,
                tag=tag,
                digest=digest,
                status=RunStatus.SUCCEED,
                text=text,
                started_at=started,
            )

        for blob in report.blobs:
            add(blob.digest, f"blob {blob.outcome.value} ({blob.bytes_sent} of {blob.size} bytes sent)")
        for digest in report.manifests:
            add(digest, "manifest sent")
        for digest in report.manifests_present:
            add(digest, "manifest already present")
        summary = f"{len(report.manifests)} manifests and {report.bytes_sent} blob bytes sent"
        if report.referrers:
            summary += f"; {len(report.referrers)} referrers"
        runs_q.set_task_status(conn, task.id, RunStatus.SUCCEED, summary)

    # The run ----------------------------------------------------------------------------------------
    def run(self, control: JobControl, execution_id: int) -> dict[str, Any]:
        found = self.db.run_read(lambda conn: runs_q.execution_by_id(conn, execution_id))
        if found is None:
            return {"execution_id": execution_id, "status": "gone"}
        execution, scope = found
        if execution.status.finished:
            return {"execution_id": execution_id, "status": execution.status.value}
        policy = self.db.run_read(lambda conn: q.policy_by_id(conn, execution.policy_id))
        if policy is None:
            self.db.run_write(
                lambda conn: runs_q.set_execution_status(conn, execution_id, RunStatus.STOPPED, "policy deleted")
            )
            return {"execution_id": execution_id, "status": RunStatus.STOPPED.value}
        first = execution.status is not RunStatus.IN_PROGRESS

        def begin(conn: Connection) -> None:
            runs_q.set_execution_status(conn, execution_id, RunStatus.IN_PROGRESS)
            if first:
                record_events(conn, _execution_event(policy, execution_id, Operation.CREATE, scope, {}))

        self.db.run_write(begin)
        try:
            asyncio.run(self._run(control, execution_id, policy, scope))
        except JobStopped:
            self.db.run_write(lambda conn: self._end(conn, policy, execution_id, scope, stopped=True))
            raise
        except Exception as exc:
            if control.job.attempts >= control.job.max_attempts:
                reason = _text(exc)
                self.db.run_write(lambda conn: self._end(conn, policy, execution_id, scope, failure=reason))
            raise
        return self.db.run_write(lambda conn: self._end(conn, policy, execution_id, scope))

    async def _run(
        self, control: JobControl, execution_id: int, policy: ReplicationPolicy, scope: dict[str, Any]
    ) -> None:
        ends = self._ends(policy, control.check_stopped)
        try:
            await self._plan(execution_id, control.job.id, policy, scope, ends)
            todo = await self.db.read(lambda conn: runs_q.unfinished_tasks(conn, execution_id))
            bucket = TokenBucket(policy.speed_kb * 1024) if policy.speed_kb > 0 else None
            pending = iter(todo)
            done = 0

            async def worker() -> None:
                nonlocal done
                for task in pending:  # one shared iterator: each task goes to one worker
                    control.check_stopped()
                    try:
                        await self._task(task, policy, ends, bucket)
                    except (RegistryError, MoorageError, OSError, LookupError, ValueError) as exc:
                        log.warning("replication task %d failed: %s: %s", task.id, type(exc).__name__, exc)
                        await self.db.write(partial(_fail_task, task_id=task.id, text=_text(exc)))
                    done += 1
                    control.progress(done, len(todo))

            finished = asyncio.Event()

            async def watch() -> None:
                """Raise ``JobStopped`` as soon as a stop is asked: the task group then cancels
                the copies, also one waiting for the bandwidth limit's tokens."""
                while not finished.is_set():
                    control.check_stopped()
                    if await self.db.read(
                        lambda conn: must_stop(conn, control.job.id, lambda c: q.policy_by_id(c, policy.id))
                    ):
                        raise JobStopped(control.job.id)  # asked, or the policy (and execution) deleted
                    await asyncio.sleep(STOP_POLL_SECONDS)

            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(watch())
                    workers = [group.create_task(worker()) for _ in range(min(self.parallel, max(len(todo), 1)))]
                    await asyncio.gather(*workers)
                    finished.set()
            except* JobStopped:
                raise JobStopped(control.job.id) from None
            control.progress(len(todo), len(todo))
        finally:
            await ends.remote.client.aclose()

    @staticmethod
    def _end(
        conn: Connection,
        policy: ReplicationPolicy,
        execution_id: int,
        scope: dict[str, Any],
        *,
        stopped: bool = False,
        failure: str | None = None,
    ) -> dict[str, Any]:
        if stopped:
            runs_q.stop_unfinished(conn, execution_id, "stopped on request")
            status, text = RunStatus.STOPPED, "stopped on request"
        elif failure is not None:
            runs_q.stop_unfinished(conn, execution_id, failure)
            status, text = RunStatus.FAILED, failure
        else:
            counts = runs_q.task_counts(conn, execution_id)
            status, text = summarize(counts)
            if status is RunStatus.FAILED:
                text = f"{text}; first failure: {runs_q.first_failure(conn, execution_id)}"
            if status is RunStatus.SUCCEED:
                text = f"{sum(counts.values())} artifacts replicated" if counts else "nothing to replicate"
        counts = runs_q.task_counts(conn, execution_id)
        if runs_q.set_execution_status(conn, execution_id, status, text):
            detail = {"status": status.value, "tasks": sum(counts.values()), **counts}
            record_events(conn, _execution_event(policy, execution_id, Operation.UPDATE, scope, detail))
        return {"execution_id": execution_id, "status": status.value, "text": text, "tasks": counts}


def _fail_task(conn: Connection, *, task_id: int, text: str) -> None:
    runs_q.set_task_status(conn, task_id, RunStatus.FAILED, text)


def _execution_event(
    policy: ReplicationPolicy, execution_id: int, operation: Operation, scope: dict[str, Any], detail: dict[str, Any]
) -> NewEvent:
    repository = str(scope.get("repository", "")) if policy.push_based else ""
    namespace = repository.partition("/")[0] if repository else ""
    return NewEvent(
        operation,
        ResourceType.REPLICATION,
        policy.instance_id,
        f"{policy.name}#{execution_id}",
        namespace=namespace,
        repository=repository,
        tag=str(scope.get("tag", "")) if repository else "",
        detail={
            "policy_id": policy.id,
            "execution_id": execution_id,
            "policy_name": policy.name,
            "trigger": policy.trigger.type,
            "override": policy.override,
            "direction": "push" if policy.push_based else "pull",
            "registry_id": policy.dest_registry_id if policy.push_based else policy.src_registry_id,
            "dest_namespace": policy.dest_namespace,
            **detail,
        },
    )


def _split(resource: str) -> tuple[str, str, str]:
    """``repo:tag`` or ``repo@digest`` -> (repository, separator, reference)."""
    if "@" in resource:
        repository, _, digest = resource.partition("@")
        return repository, "@", digest
    repository, _, tag = resource.rpartition(":")
    return repository, ":", tag


def _cosign_tag(tag: str) -> bool:
    return tag.startswith("sha256-") and (tag.endswith((".sig", ".att", ".sbom")) or len(tag) == 71)


def _catalog_remote(ends: Ends, access: RemoteAccess) -> RemoteRegistry:
    """The catalogs' description of the policy's registry, with the remote client's credentials."""
    return RegistryAccess(ends.registry, ends.remote.client.credentials, access).remote()


def run_execution(
    control: JobControl,
    execution_id: int,
    *,
    settings: Settings,
    db: Database,
    store: BlobStore,
    master_key: MasterKey,
    jobs: JobSubmitter,
) -> dict[str, Any]:
    """The body of the ``enterprise.replication_execution`` job."""
    runner = ExecutionRunner(
        db, settings=settings, store=store, master_key=master_key, access=remote_access_of(settings), jobs=jobs
    )
    return runner.run(control, execution_id)
