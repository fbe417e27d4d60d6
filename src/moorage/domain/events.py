"""The event stream's vocabulary: what happened (an operation on a resource, with its result), who did
it from where, and the request context that carries "who" and "from where" down to the services.

Every registry and management change is recorded as an ``events`` row in the transaction of the
change (the outbox, ``services/events``); the rows are the audit log and the input of every consumer
(webhooks, triggers, and later replication and synchronisation). docs/events.md has the design.

Who did it is a property of the request, not of the operation: the HTTP edge sets an ``EventContext``
(actor, client address, registry instance) in ``CURRENT`` once per request, and the recorder reads it
when it writes a row. A ``ContextVar`` holds one value per task (each request runs in its own task,
and ``anyio.to_thread`` copies it into the worker thread a transaction runs in), so nothing is shared
between requests; passing the actor through every write path's signature would touch forty functions
for one value. Outside a request (jobs, the CLI) the context is the system's.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from moorage.domain.identity import Principal
from moorage.domain.registry import Repository


class Operation(StrEnum):
    """What was done, in the words of the audit log (``list_audit_logs``' ``operation`` filter)."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    PULL = "pull"
    SCAN = "scan"
    LOGIN = "login"


class ResourceType(StrEnum):
    """What it was done to."""

    ARTIFACT = "artifact"
    """A manifest (by digest, or pushed as a tag)."""
    TAG = "tag"
    REPOSITORY = "repository"
    NAMESPACE = "namespace"
    PERMISSION = "permission"
    """A user's grant on a namespace or repository."""
    SHARE = "share"
    """A repository shared with another account."""
    SIGNATURE_POLICY = "signature_policy"
    IMMUTABLE_RULE = "immutable_rule"
    WEBHOOK_POLICY = "webhook_policy"
    TRIGGER = "trigger"
    REPLICATION_REGISTRY = "replication_registry"
    REPLICATION_POLICY = "replication_policy"
    REPLICATION = "replication"
    """An execution of a replication policy: created when it starts, updated when it ends (its
    ``detail`` says the status and counts)."""
    SYNC_RULE = "sync_rule"
    """An image synchronisation rule of a repository (shared edition)."""
    USER = "user"
    """An IAM user (created, deleted) and logins (the resource is the user name tried)."""
    ACCESS_KEY = "access_key"
    QUOTA = "quota"
    """An organization's storage or repository quota; a push it refused is a ``create`` that failed."""
    RETENTION_POLICY = "retention_policy"
    """A retention policy (Enterprise) or a repository's retention rule (shared edition)."""
    RETENTION_RUN = "retention_run"
    """A retention execution that ended (what it deleted and kept)."""
    GC = "gc"
    """A garbage collection run or schedule of an instance."""
    SECURITY_POLICY = "security_policy"
    """HSS image-security settings: a namespace's scan policy, path allowlist, weak passwords,
    sensitive-file handling."""
    VULNERABILITY_WHITELIST = "vulnerability_whitelist"
    VULNERABILITY = "vulnerability"
    """A vulnerability handled (ignored, fixed, verified) on images."""
    CONNECTED_REGISTRY = "connected_registry"
    """An external registry HSS scans."""
    CICD_CONFIGURATION = "cicd_configuration"
    """An HSS CI/CD configuration (its gate), and the scan-upload credentials issued for it."""
    CREDENTIAL = "credential"
    """An Enterprise Edition instance's registry credential (the resource is its id, never its secret)."""
    ENDPOINT_POLICY = "endpoint_policy"
    RESOURCE_TAG = "resource_tag"
    JOB = "job"


class Result(StrEnum):
    """How it ended."""

    SUCCESS = "success"
    FAILURE = "failure"


class WebhookEventType(StrEnum):
    """Harbor's webhook event types, which SWR's ``event_types`` take (``PUSH_ARTIFACT``...).

    A push a storage quota refuses is ``QUOTA_EXCEED``; one that takes the stored bytes past
    ``quota.warning_percent`` of a storage quota is ``QUOTA_WARNING``."""

    PUSH_ARTIFACT = "PUSH_ARTIFACT"
    PULL_ARTIFACT = "PULL_ARTIFACT"
    DELETE_ARTIFACT = "DELETE_ARTIFACT"
    SCANNING_COMPLETED = "SCANNING_COMPLETED"
    SCANNING_FAILED = "SCANNING_FAILED"
    QUOTA_EXCEED = "QUOTA_EXCEED"
    QUOTA_WARNING = "QUOTA_WARNING"
    REPLICATION = "REPLICATION"
    TAG_RETENTION = "TAG_RETENTION"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acted: a user (id, name, account), an anonymous client, or moorage itself (jobs)."""

    user_id: str = ""
    user_name: str = ""
    domain_id: str = ""
    domain_name: str = ""
    via: str = ""
    """How they proved it (``password``, ``token``, ``access-key``, ``bearer``...); ``system`` for moorage."""

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        """The actor a principal is (anonymous: no user)."""
        if principal.anonymous:
            return ANONYMOUS_ACTOR
        return cls(
            principal.user_id or "",
            principal.user_name,
            principal.domain_id or "",
            principal.domain_name,
            principal.via,
        )

    @property
    def label(self) -> str:
        """The name the audit log shows."""
        return self.user_name or ("moorage" if self.via == "system" else "anonymous")


ANONYMOUS_ACTOR = Actor(via="none")
SYSTEM_ACTOR = Actor(user_name="moorage", via="system")


@dataclass(frozen=True, slots=True)
class EventContext:
    """What the HTTP edge knows about a request that events record: the actor, the client address and
    the registry instance the request addresses (from its host name)."""

    actor: Actor = SYSTEM_ACTOR
    client_address: str = ""
    instance_id: str = "default"


SYSTEM_CONTEXT = EventContext()

CURRENT: contextvars.ContextVar[EventContext] = contextvars.ContextVar("moorage_event_context", default=SYSTEM_CONTEXT)
"""The request's ``EventContext`` (see the module docstring for why a context variable)."""


def current_context() -> EventContext:
    """The event context of the running request (the system's outside one)."""
    return CURRENT.get()


@contextmanager
def event_context(context: EventContext) -> Iterator[EventContext]:
    """Run the body with ``context`` as the current event context, restored afterwards."""
    token = CURRENT.set(context)
    try:
        yield context
    finally:
        CURRENT.reset(token)


def act_as(principal: Principal) -> None:
    """Name the authenticated caller in the current request's context (the edge calls it once the
    caller is known; the middleware that opened the context restores it when the request ends)."""
    CURRENT.set(replace(CURRENT.get(), actor=Actor.of(principal)))


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event a service records (``services.events.recorder.record``) in its own transaction."""

    operation: Operation
    resource_type: ResourceType
    instance_id: str
    resource: str
    """What the audit log shows: ``team/app:1.0``, ``team/app@sha256:...``, ``team``, a user name."""
    domain_id: str | None = None
    """The account the resource belongs to; None: the recorder looks it up from the namespace."""
    namespace: str = ""
    repository: str = ""
    """The repository's full name (``namespace/name``)."""
    tag: str = ""
    digest: str = ""
    result: Result = Result.SUCCESS
    detail: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), hash=False, compare=False)
    """Small JSON-able facts consumers need (media type, size, scan summary, the tags a delete removed)."""
    context: EventContext | None = None
    """Who and from where; None: the current request's context when the row is written."""


@dataclass(frozen=True, slots=True)
class Event:
    """A recorded event (one ``events`` row)."""

    id: int
    occurred_at: int
    """Epoch milliseconds."""
    instance_id: str
    domain_id: str
    operation: Operation
    resource_type: ResourceType
    resource: str
    result: Result
    namespace: str
    repository: str
    tag: str
    digest: str
    actor: Actor
    client_address: str
    detail: Mapping[str, Any] = field(hash=False, compare=False)

    @property
    def repository_name(self) -> str:
        """The repository's name inside its namespace (what scope selectors match)."""
        prefix = f"{self.namespace}/"
        return self.repository[len(prefix) :] if self.repository.startswith(prefix) else self.repository


def webhook_event_type(event: Event) -> WebhookEventType | None:
    """The Harbor event type an event is, if any: a push or a retag is ``PUSH_ARTIFACT``; a delete of an
    artifact, a tag or a repository ``DELETE_ARTIFACT``; a pull ``PULL_ARTIFACT``; a scan result
    ``SCANNING_COMPLETED`` or ``SCANNING_FAILED``; a push a quota refused ``QUOTA_EXCEED``, one that
    passed a quota's warning share ``QUOTA_WARNING``; a retention run that ended ``TAG_RETENTION``.
    Other failed operations and other changes have none."""
    kind = (event.operation, event.resource_type)
    if event.resource_type is ResourceType.REPLICATION:
        return WebhookEventType.REPLICATION  # started and finished, however it ended
    if kind == (Operation.SCAN, ResourceType.ARTIFACT):
        return (
            WebhookEventType.SCANNING_COMPLETED if event.result is Result.SUCCESS else WebhookEventType.SCANNING_FAILED
        )
    if kind == (Operation.CREATE, ResourceType.QUOTA) and event.result is Result.FAILURE:
        return WebhookEventType.QUOTA_EXCEED
    if event.result is not Result.SUCCESS:
        return None
    if kind == (Operation.UPDATE, ResourceType.QUOTA):
        return WebhookEventType.QUOTA_WARNING
    if kind == (Operation.DELETE, ResourceType.RETENTION_RUN):
        return WebhookEventType.TAG_RETENTION
    if kind in ((Operation.CREATE, ResourceType.ARTIFACT), (Operation.CREATE, ResourceType.TAG)):
        return WebhookEventType.PUSH_ARTIFACT
    if kind == (Operation.PULL, ResourceType.ARTIFACT):
        return WebhookEventType.PULL_ARTIFACT
    if event.operation is Operation.DELETE and event.resource_type in (
        ResourceType.ARTIFACT,
        ResourceType.TAG,
        ResourceType.REPOSITORY,
    ):
        return WebhookEventType.DELETE_ARTIFACT
    return None


def reference(repository: str, *, tag: str = "", digest: str = "") -> str:
    """``repository:tag``, ``repository@digest`` or the repository: the ``resource`` of an artifact event."""
    if tag:
        return f"{repository}:{tag}"
    if digest:
        return f"{repository}@{digest}"
    return repository


def artifact_event(
    operation: Operation,
    *,
    instance_id: str,
    repository: str,
    namespace: str,
    domain_id: str | None,
    tag: str = "",
    digest: str = "",
    resource_type: ResourceType | None = None,
    result: Result = Result.SUCCESS,
    detail: Mapping[str, Any] | None = None,
) -> NewEvent:
    """An event about an image of a repository (a push, pull or delete of a manifest or tag, a scan)."""
    kind = resource_type or (ResourceType.TAG if tag and operation is Operation.DELETE else ResourceType.ARTIFACT)
    return NewEvent(
        operation,
        kind,
        instance_id,
        reference(repository, tag=tag, digest=digest),
        domain_id=domain_id,
        namespace=namespace,
        repository=repository,
        tag=tag,
        digest=digest,
        result=result,
        detail=MappingProxyType(dict(detail or {})),
    )


def repository_event(
    operation: Operation,
    repository: Repository,
    *,
    tag: str = "",
    digest: str = "",
    resource_type: ResourceType | None = None,
    detail: Mapping[str, Any] | None = None,
) -> NewEvent:
    """``artifact_event`` for an image of a ``Repository`` row (its instance, names and account)."""
    return artifact_event(
        operation,
        instance_id=repository.instance_id,
        repository=repository.full_name,
        namespace=repository.namespace,
        domain_id=repository.domain_id,
        tag=tag,
        digest=digest,
        resource_type=resource_type,
        detail=detail,
    )


def change_event(
    operation: Operation,
    resource_type: ResourceType,
    *,
    instance_id: str,
    resource: str,
    namespace: str = "",
    repository: str = "",
    domain_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> NewEvent:
    """An event about a management change (a namespace, repository, grant, share or policy)."""
    return NewEvent(
        operation,
        resource_type,
        instance_id,
        resource,
        domain_id=domain_id,
        namespace=namespace,
        repository=repository,
        detail=MappingProxyType(dict(detail or {})),
    )


def account_event(
    operation: Operation,
    resource_type: ResourceType,
    resource: str,
    *,
    domain_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> NewEvent:
    """An event about an account's own resources, outside any registry instance's namespaces: IAM
    users and access keys, HSS settings (recorded under the shared edition's instance; the account
    is the acting user's unless given)."""
    return NewEvent(
        operation,
        resource_type,
        "default",
        resource[:512],
        domain_id=domain_id,
        detail=MappingProxyType(dict(detail or {})),
    )


def login_event(
    *, user_name: str, succeeded: bool, context: EventContext, domain_id: str = "", reason: str = ""
) -> NewEvent:
    """A login: the user name tried, and for a failure why (in general terms)."""
    return NewEvent(
        Operation.LOGIN,
        ResourceType.USER,
        context.instance_id,
        user_name[:255],
        domain_id=domain_id,
        result=Result.SUCCESS if succeeded else Result.FAILURE,
        detail=MappingProxyType({"reason": reason} if reason else {}),
        context=context if succeeded else replace(context, actor=Actor(user_name=user_name[:255], via="failed")),
    )


RETENTION_EVENT_ITEMS = 100
"""The deleted artifacts a retention run's event names at most (its counts cover them all)."""


def retention_run_event(
    *,
    instance_id: str,
    namespace: str,
    domain_id: str | None,
    policy_id: int,
    status: str,
    total: int,
    retained: int,
    deleted: Sequence[Mapping[str, str]],
) -> NewEvent:
    """A retention run that ended: which policy, how it ended, how many artifacts it looked at and
    kept, and (the first ``RETENTION_EVENT_ITEMS`` of) what it deleted (``repository``, ``tag``,
    ``digest`` each)."""
    return NewEvent(
        Operation.DELETE,
        ResourceType.RETENTION_RUN,
        instance_id,
        f"{namespace}/{policy_id}",
        domain_id=domain_id,
        namespace=namespace,
        detail=MappingProxyType(
            {
                "policy_id": policy_id,
                "status": status,
                "total": total,
                "retained": retained,
                "deleted_count": len(deleted),
                "deleted": [dict(item) for item in deleted[:RETENTION_EVENT_ITEMS]],
            }
        ),
    )
