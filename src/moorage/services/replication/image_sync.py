"""Shared-edition image synchronisation: SWR's regions are the peer moorage sites of
``MOORAGE_SYNC__PEERS``; a repository's rules name a peer and a namespace there.

- ``CreateImageSyncRepo`` / ``DeleteImageSyncRepo`` / ``ListImageAutoSyncReposDetails``: the rules.
- Automatic sync: ``ImageSyncConsumer`` (an event consumer) makes a sync job for every pushed or
  re-tagged tag of a repository with an automatic rule, in the dispatcher's transaction.
- ``CreateManualImageSyncRepo``: sync jobs for chosen tags, now.
- ``ShowSyncJob``: the repository's sync jobs with their status.

A sync job copies one tag (what it names when the job runs: a job converges the peer on the current
state, it does not replay a push) with the copy engine, from this moorage's default instance to
``<remoteNamespace>/<repository>`` at the peer, as the peer's configured user. It is a job row
(``registry.image_sync``) retried with backoff up to ``MOORAGE_SYNC__MAX_ATTEMPTS``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from moorage.clients.errors import RegistryError
from moorage.domain.errors import Conflict, Invalid, ManifestUnknown, MoorageError, NotFound
from moorage.domain.events import Event, Operation, ResourceType, WebhookEventType, change_event, webhook_event_type
from moorage.domain.identity import Principal
from moorage.domain.image_sync import SyncJob, SyncRule, SyncStatus, validate_remote_namespace
from moorage.domain.jobs import JobControl, JobKind, JobSubmitter, RetryLater
from moorage.domain.names import RepositoryName, validate_tag
from moorage.domain.registry import DEFAULT_INSTANCE, Repository
from moorage.metadata.database import Database
from moorage.metadata.queries import image_sync as q
from moorage.metadata.queries import jobs as jobs_q
from moorage.metadata.queries import manifests as manifest_q
from moorage.metadata.queries import repositories as repo_q
from moorage.services.events.recorder import record_events
from moorage.services.replication.endpoints import LocalEndpoint
from moorage.services.replication.transfer import CopyOptions, copy_artifact
from moorage.services.replication.wiring import local_registry, remote_endpoint
from moorage.settings import Settings
from moorage.settings.sections import SyncPeer
from moorage.storage.blobstore import BlobStore

log = logging.getLogger(__name__)

MAX_RULES_PER_REPOSITORY = 20
MAX_MANUAL_TAGS = 100


@dataclass(frozen=True, slots=True)
class SyncRuleFields:
    """What ``CreateImageSyncRepo`` sets."""

    remote_region_id: str
    remote_namespace: str
    sync_auto: bool
    override: bool


def _repository(conn: Connection, instance_id: str, name: RepositoryName) -> Repository:
    found = repo_q.get(conn, instance_id, name)
    if found is None:
        raise NotFound(f"repository {name} not found", reason="repository_not_found")
    return found


def _rule_event(operation: Operation, repository: Repository, region: str, namespace: str) -> Any:
    return change_event(
        operation,
        ResourceType.SYNC_RULE,
        instance_id=repository.instance_id,
        resource=f"{repository.full_name}->{region}/{namespace}",
        namespace=repository.namespace,
        repository=repository.full_name,
        domain_id=repository.domain_id,
        detail={"remote_region_id": region, "remote_namespace": namespace},
    )


class ImageSyncService:
    """The image synchronisation operations of the shared edition's API."""

    def __init__(
        self, db: Database, jobs: JobSubmitter, *, region: str, peers: Sequence[SyncPeer], max_attempts: int
    ) -> None:
        self.db = db
        self.jobs = jobs
        self.region = region
        self.peers = tuple(peers)
        self.max_attempts = max_attempts

    def _open_to(self, principal: Principal) -> list[str]:
        """The peers the principal's account may sync to (a peer with ``accounts`` serves those only)."""
        return [p.region_id for p in self.peers if p.user_for(principal.domain_name) is not None]

    def regions(self, principal: Principal) -> list[str]:
        """SWR's regions: this deployment's own, then the sync peers the caller's account may use."""
        return list(dict.fromkeys([self.region, *self._open_to(principal)]))

    def _check_target(self, principal: Principal, region: str, namespace: str) -> None:
        # A peer the account may not use is refused as an unknown one: another tenant's peers stay unnamed.
        usable = self._open_to(principal)
        if region not in usable:
            known = ", ".join(usable) or "none is configured"
            raise Invalid(f"remoteRegionId {region[:64]!r} is not a sync peer ({known})", reason="invalid_region")
        validate_remote_namespace(namespace)

    async def create_rule(
        self, principal: Principal, *, instance_id: str, name: RepositoryName, fields: SyncRuleFields
    ) -> None:
        """Add a rule (``Conflict`` when the repository has one for this peer and namespace)."""
        self._check_target(principal, fields.remote_region_id, fields.remote_namespace)

        def work(conn: Connection) -> None:
            repository = _repository(conn, instance_id, name)
            if len(q.rules_of(conn, repository.id)) >= MAX_RULES_PER_REPOSITORY:
                raise Invalid(f"repository {name} already has {MAX_RULES_PER_REPOSITORY} sync rules")
            created = q.create_rule(
                conn,
                repository_id=repository.id,
                domain_id=repository.domain_id or principal.domain_id or "",
                domain_name=principal.domain_name,
                remote_region_id=fields.remote_region_id,
                remote_namespace=fields.remote_namespace,
                sync_auto=fields.sync_auto,
                override=fields.override,
            )
            if not created:
                raise Conflict(
                    f"{name} already syncs to {fields.remote_region_id}/{fields.remote_namespace}",
                    reason="sync_rule_exists",
                )
            record_events(
                conn, _rule_event(Operation.CREATE, repository, fields.remote_region_id, fields.remote_namespace)
            )

        await self.db.write(work)

    async def delete_rule(
        self, *, instance_id: str, name: RepositoryName, remote_region_id: str, remote_namespace: str
    ) -> None:
        """Remove a rule (``NotFound`` when there is none); its jobs stay listed."""

        def work(conn: Connection) -> None:
            repository = _repository(conn, instance_id, name)
            if not q.delete_rule(conn, repository.id, remote_region_id, remote_namespace):
                raise NotFound(
                    f"{name} has no sync rule to {remote_region_id[:64]}/{remote_namespace[:64]}",
                    reason="sync_rule_not_found",
                )
            record_events(conn, _rule_event(Operation.DELETE, repository, remote_region_id, remote_namespace))

        await self.db.write(work)

    async def list_rules(self, *, instance_id: str, name: RepositoryName) -> list[SyncRule]:
        """A repository's rules."""
        return await self.db.read(lambda conn: q.rules_of(conn, _repository(conn, instance_id, name).id))

    async def sync_now(
        self,
        principal: Principal,
        *,
        instance_id: str,
        name: RepositoryName,
        tags: Sequence[str],
        remote_region_id: str,
        remote_namespace: str,
        override: bool,
    ) -> list[SyncJob]:
        """A sync job per tag (each must exist), sent to the workers once recorded."""
        self._check_target(principal, remote_region_id, remote_namespace)
        wanted = list(dict.fromkeys(validate_tag(t) for t in tags))
        if not wanted:
            raise Invalid("imageTag names no tag", reason="invalid_parameter")
        if len(wanted) > MAX_MANUAL_TAGS:
            raise Invalid(f"at most {MAX_MANUAL_TAGS} tags per request", reason="invalid_parameter")

        def work(conn: Connection) -> list[SyncJob]:
            repository = _repository(conn, instance_id, name)
            made = []
            for tag in wanted:
                if manifest_q.by_tag(conn, repository.id, tag, with_payload=False) is None:
                    raise ManifestUnknown(f"tag {tag} not found in {name}", reason="tag_not_found")
                job_id = secrets.token_hex(16)
                sync_id = q.create_job(
                    conn,
                    repository_id=repository.id,
                    domain_id=repository.domain_id or principal.domain_id or "",
                    domain_name=principal.domain_name,
                    tag=tag,
                    remote_region_id=remote_region_id,
                    remote_namespace=remote_namespace,
                    override=override,
                    operator_id=principal.user_id or "",
                    operator_name=principal.user_name,
                    job_id=job_id,
                )
                _job_row(conn, job_id, sync_id, self.max_attempts, repository.domain_id)
                found = q.get_job(conn, sync_id or 0)
                assert found is not None
                made.append(found)
            return made

        made = await self.db.write(work)
        for job in made:
            self.jobs.send(job.job_id)
        return made

    async def list_jobs(
        self, *, instance_id: str, name: RepositoryName, limit: int, offset: int, descending: bool
    ) -> tuple[list[SyncJob], int]:
        """One page of a repository's sync jobs and their number."""

        def work(conn: Connection) -> tuple[list[SyncJob], int]:
            repository = _repository(conn, instance_id, name)
            return q.jobs_of(conn, repository.id, limit=limit, offset=offset, descending=descending)

        return await self.db.read(work)


def _job_row(conn: Connection, job_id: str, sync_id: int | None, max_attempts: int, domain_id: str | None) -> None:
    jobs_q.create(
        conn,
        job_id=job_id,
        kind=JobKind.IMAGE_SYNC,
        params={"sync_job_id": sync_id},
        max_attempts=max_attempts,
        dedupe_key=None,
        domain_id=domain_id or None,
    )


class ImageSyncConsumer:
    """Sync jobs for every pushed or re-tagged tag of a repository with an automatic rule."""

    name = "image_sync"

    def __init__(self, *, peers: Sequence[str], max_attempts: int) -> None:
        self.peers = frozenset(peers)
        self.max_attempts = max_attempts

    def consume(self, conn: Connection, events: Sequence[Event]) -> list[str]:
        """See ``EventConsumer``."""
        jobs: list[str] = []
        # Per repository once a batch: a batch is often many tags pushed to a few repositories.
        automatic: dict[str, tuple[Repository, list[SyncRule]] | None] = {}
        for event in events:
            if (
                event.instance_id != DEFAULT_INSTANCE
                or not event.tag
                or webhook_event_type(event) is not WebhookEventType.PUSH_ARTIFACT
            ):
                continue
            if event.repository not in automatic:
                repository = repo_q.get(conn, event.instance_id, RepositoryName.parse(event.repository))
                automatic[event.repository] = (
                    None if repository is None else (repository, q.rules_of(conn, repository.id, automatic_only=True))
                )
            found = automatic[event.repository]
            if found is None:
                continue
            repository, rules = found
            for rule in rules:
                if rule.remote_region_id not in self.peers:
                    log.warning("sync rule %d names region %s, which is not configured", rule.id, rule.remote_region_id)
                    continue
                job_id = secrets.token_hex(16)
                sync_id = q.create_job(
                    conn,
                    repository_id=repository.id,
                    domain_id=rule.domain_id,
                    domain_name=rule.domain_name,
                    tag=event.tag,
                    remote_region_id=rule.remote_region_id,
                    remote_namespace=rule.remote_namespace,
                    override=rule.override,
                    operator_id=event.actor.user_id,
                    operator_name=event.actor.user_name,
                    job_id=job_id,
                    event_id=event.id,
                )
                if sync_id is not None:
                    _job_row(conn, job_id, sync_id, self.max_attempts, repository.domain_id)
                    jobs.append(job_id)
        return jobs


def _peer(settings: Settings, region: str) -> SyncPeer | None:
    return next((p for p in settings.sync.peers if p.region_id == region), None)


def run_sync_job(control: JobControl, *, settings: Settings, db: Database, store: BlobStore) -> dict[str, Any]:
    """Copy one sync job's tag to its peer (the ``registry.image_sync`` job's body). A failure that
    attempts remain for is recorded ``waiting`` and retried after the configured backoff; the last
    one is recorded ``failed``."""
    sync_id = int(control.job.params["sync_job_id"])
    job = db.run_read(lambda conn: q.get_job(conn, sync_id))
    if job is None:
        return {"sync_job_id": sync_id, "status": "gone"}
    peer = _peer(settings, job.remote_region_id)
    if peer is None:
        detail = f"region {job.remote_region_id} is no longer configured"
        db.run_write(lambda conn: q.set_status(conn, sync_id, SyncStatus.FAILED, detail))
        return {"sync_job_id": sync_id, "status": str(SyncStatus.FAILED)}
    user = peer.user_for(job.domain_name)
    if user is None:
        # The peer's accounts changed since the rule was made: a retry cannot succeed.
        detail = f"account {job.domain_name} may not sync to region {job.remote_region_id}"
        db.run_write(lambda conn: q.set_status(conn, sync_id, SyncStatus.FAILED, detail))
        return {"sync_job_id": sync_id, "status": str(SyncStatus.FAILED)}
    db.run_write(lambda conn: q.set_status(conn, sync_id, SyncStatus.RUNNING, ""))
    try:
        report = asyncio.run(_copy(settings, db, store, job, peer, user))
    except (MoorageError, RegistryError) as exc:
        public = exc.public if isinstance(exc, RegistryError) else exc.message
        log.warning("sync job %d (%s:%s to %s) failed: %s", sync_id, job.repo_name, job.tag, peer.region_id, exc)
        last = control.job.attempts >= control.job.max_attempts
        status = SyncStatus.FAILED if last else SyncStatus.WAITING
        db.run_write(lambda conn: q.set_status(conn, sync_id, status, public))
        if last:
            raise
        delay = min(settings.sync.retry_base_seconds * 2 ** (control.job.attempts - 1), 600.0)
        raise RetryLater(f"sync job {sync_id}: {public}", delay_seconds=delay) from exc
    status = SyncStatus.EXISTED if report["skipped"] else SyncStatus.SUCCESS
    db.run_write(lambda conn: q.set_status(conn, sync_id, status, json.dumps(report)))
    return {"sync_job_id": sync_id, "status": str(status), **report}


async def _copy(
    settings: Settings, db: Database, store: BlobStore, job: SyncJob, peer: SyncPeer, user: tuple[str, str]
) -> dict[str, Any]:
    source = LocalEndpoint(local_registry(settings, db, store), DEFAULT_INSTANCE)
    sink = remote_endpoint(peer.url, settings=settings, username=user[0], password=user[1], verify_tls=peer.verify_tls)
    options = CopyOptions(
        override=job.override,
        copy_by_chunk=settings.sync.chunk_bytes > 0,
        chunk_size=settings.sync.chunk_bytes or CopyOptions().chunk_size,
        bandwidth_limit=settings.sync.bandwidth_limit_bytes or None,
    )
    try:
        report = await copy_artifact(
            source,
            sink,
            f"{job.namespace}/{job.repo_name}",
            job.tag,
            f"{job.remote_namespace}/{job.repo_name}",
            options,
        )
    finally:
        await sink.client.aclose()
    return report.to_json()
