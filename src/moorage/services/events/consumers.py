"""The consumers the dispatcher hands events to: webhook policies (Enterprise Edition) and triggers
(shared edition). Each writes one delivery per (event, policy or trigger, target) with its payload
frozen, and a job row that sends it; triggers of the CCE/CCI kinds get a delivery recorded as not
executed and no job."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence

from sqlalchemy.engine import Connection

from moorage.domain.enterprise import RunStatus
from moorage.domain.errors import Invalid
from moorage.domain.events import Event, WebhookEventType, webhook_event_type
from moorage.domain.hosts import parse_host
from moorage.domain.jobs import JobKind
from moorage.domain.names import RepositoryName
from moorage.domain.registry import DEFAULT_INSTANCE
from moorage.domain.triggers import NOT_EXECUTED, Trigger, selects
from moorage.domain.webhooks import WebhookPolicy, harbor_payload
from moorage.metadata.database import Database
from moorage.metadata.queries import enterprise_instances as instances_q
from moorage.metadata.queries import events as events_q
from moorage.metadata.queries import jobs as jobs_q
from moorage.metadata.queries import repositories as repo_q
from moorage.metadata.queries import triggers as triggers_q
from moorage.metadata.queries import webhooks as q
from moorage.services.enterprise.replication.triggers import ReplicationConsumer
from moorage.services.enterprise.selectors import repository_selected, tag_selected
from moorage.services.events.delivery import DeliveryPolicy
from moorage.services.events.dispatch import EventDispatcher
from moorage.services.replication.image_sync import ImageSyncConsumer
from moorage.services.security.remote_access import remote_access_of
from moorage.settings import Settings

JOB_SLACK = 2
"""Job attempts beyond the delivery's own, for runs cut short by a killed worker (the delivery counts
its HTTP attempts itself)."""


def scan_overview(event: Event) -> dict[str, object]:
    """Harbor's ``scan_overview`` of a scan event (keyed by the report's media type, as Harbor does)."""
    detail = dict(event.detail)
    status = "Success" if event.result == "success" else "Error"
    return {
        "application/vnd.security.vulnerability.report; version=1.1": {
            "scan_status": status,
            "severity": str(detail.get("severity", "")).capitalize() or "Unknown",
            "summary": {"total": detail.get("vulnerabilities", 0)},
            "failed_code": detail.get("failed_code", ""),
            "scanner": {"name": "moorage", "vendor": "moorage", "version": str(detail.get("scanner_version", ""))},
            "complete_percent": 100,
        }
    }


def instance_host(conn: Connection, instance_id: str, registry_host: str) -> str:
    """``host[:port]`` clients pull an instance's images from: its first custom domain name (else its
    default one), with the registry's port when the name has none; the registry's own for the shared
    edition."""
    if instance_id == DEFAULT_INSTANCE:
        return registry_host
    names = sorted(instances_q.list_domain_names(conn, instance_id), key=lambda n: n.type != "custom")
    port = registry_host.rpartition(":")[2] if ":" in registry_host else ""
    for entry in names:
        try:
            name = parse_host(entry.domain_name)
        except Invalid:
            continue  # a wildcard names no one host
        return str(name) if name.port is not None or not port else f"{name.host}:{port}"
    return registry_host


def _payload(conn: Connection, event: Event, event_type: WebhookEventType, registry_host: str) -> str:
    registry_host = instance_host(conn, event.instance_id, registry_host)
    facts = events_q.repository_facts(conn, event.instance_id, event.repository)
    overview = (
        scan_overview(event)
        if event_type in (WebhookEventType.SCANNING_COMPLETED, WebhookEventType.SCANNING_FAILED)
        else None
    )
    return harbor_payload(
        event,
        event_type,
        registry_host=registry_host,
        repository_public=bool(facts and facts[1]),
        repository_created_at=facts[2] if facts else 0,
        scan_overview=overview,
    )


def _in_scope(policy: WebhookPolicy, event: Event) -> bool:
    """Whether the policy's scope rules cover the event (no rules: the whole namespace). The tag
    selector applies to events that name a tag; a delete by digest or of a repository passes it."""
    if not policy.scope_rules:
        return True
    name = event.repository_name
    return any(
        repository_selected(rule, name) and (not event.tag or tag_selected(rule, event.tag))
        for rule in policy.scope_rules
    )


class WebhookConsumer:
    """Deliveries for the webhook policies an event matches."""

    name = "webhooks"

    def __init__(self, *, registry_host: str, max_attempts: int) -> None:
        self.registry_host = registry_host
        self.max_attempts = max_attempts

    def consume(self, conn: Connection, events: Sequence[Event]) -> list[str]:
        """See ``EventConsumer``."""
        jobs: list[str] = []
        policies: dict[tuple[str, str], list[WebhookPolicy]] = {}
        for event in events:
            event_type = webhook_event_type(event)
            if event_type is None or not event.namespace:
                continue
            key = (event.instance_id, event.namespace)
            if key not in policies:
                policies[key] = q.enabled_policies(conn, *key)
            for policy in policies[key]:
                if str(event_type) not in policy.event_types or not _in_scope(policy, event):
                    continue
                payload = _payload(conn, event, event_type, self.registry_host)
                for index, target in enumerate(policy.targets):
                    job_id = secrets.token_hex(16)
                    delivery = q.create_delivery(
                        conn,
                        instance_id=event.instance_id,
                        consumer=f"policy:{policy.id}",
                        policy_id=policy.id,
                        trigger_id=None,
                        event_id=event.id,
                        target_index=index,
                        event_type=str(event_type),
                        address=target.address,
                        tag=event.tag,
                        status=RunStatus.PENDING,
                        status_text="",
                        payload=payload,
                        job_id=job_id,
                    )
                    if delivery is not None:
                        jobs_q.create(
                            conn,
                            job_id=job_id,
                            kind=JobKind.WEBHOOK_DELIVERY,
                            params={"delivery_id": delivery},
                            max_attempts=self.max_attempts + JOB_SLACK,
                            dedupe_key=None,
                            domain_id=event.domain_id or None,
                        )
                        jobs.append(job_id)
        return jobs


class TriggerConsumer:
    """Deliveries (or not-executed records) for the triggers a pushed or re-tagged tag matches."""

    name = "triggers"

    def __init__(self, *, registry_host: str, max_attempts: int) -> None:
        self.registry_host = registry_host
        self.max_attempts = max_attempts

    def consume(self, conn: Connection, events: Sequence[Event]) -> list[str]:
        """See ``EventConsumer``."""
        jobs: list[str] = []
        # Per repository once a batch: a batch is often many tags pushed to a few repositories.
        enabled: dict[tuple[str, str], list[Trigger]] = {}
        for event in events:
            if webhook_event_type(event) is not WebhookEventType.PUSH_ARTIFACT or not event.tag:
                continue
            key = (event.instance_id, event.repository)
            if key not in enabled:
                repository = repo_q.get(conn, event.instance_id, RepositoryName.parse(event.repository))
                enabled[key] = (
                    [] if repository is None else triggers_q.of_repository(conn, repository.id, enabled_only=True)
                )
            matched = [t for t in enabled[key] if selects(t.trigger_type, t.condition, event.tag)]
            if not matched:
                continue
            payload = _payload(conn, event, WebhookEventType.PUSH_ARTIFACT, self.registry_host)
            for trigger in matched:
                job_id = self._delivery(conn, trigger, event, payload)
                if job_id:
                    jobs.append(job_id)
        return jobs

    def _delivery(self, conn: Connection, trigger: Trigger, event: Event, payload: str) -> str | None:
        executed = trigger.mode.executed
        job_id = secrets.token_hex(16) if executed else ""
        delivery = q.create_delivery(
            conn,
            instance_id=event.instance_id,
            consumer=f"trigger:{trigger.id}",
            policy_id=None,
            trigger_id=trigger.id,
            event_id=event.id,
            target_index=0,
            event_type=str(WebhookEventType.PUSH_ARTIFACT),
            address=trigger.address,
            tag=event.tag,
            status=RunStatus.PENDING if executed else RunStatus.STOPPED,
            status_text="" if executed else NOT_EXECUTED.format(mode=trigger.mode.upper()),
            payload=payload,
            job_id=job_id,
        )
        if delivery is None or not executed:
            return None
        jobs_q.create(
            conn,
            job_id=job_id,
            kind=JobKind.WEBHOOK_DELIVERY,
            params={"delivery_id": delivery},
            max_attempts=self.max_attempts + JOB_SLACK,
            dedupe_key=None,
            domain_id=event.domain_id or None,
        )
        return job_id


def build_dispatcher(settings: Settings, db: Database, *, send: Callable[[str], None]) -> EventDispatcher:
    """The dispatcher a worker runs, with every consumer moorage has."""
    host, attempts = settings.registry_host, settings.webhooks.max_attempts
    return EventDispatcher(
        db,
        [
            WebhookConsumer(registry_host=host, max_attempts=attempts),
            TriggerConsumer(registry_host=host, max_attempts=attempts),
            ReplicationConsumer(),
            ImageSyncConsumer(
                peers=[p.region_id for p in settings.sync.peers], max_attempts=settings.sync.max_attempts
            ),
        ],
        send=send,
        batch=settings.events.dispatch_batch,
    )


def delivery_policy(settings: Settings) -> DeliveryPolicy:
    """How deliveries are sent under the deployment's settings."""
    return DeliveryPolicy(
        egress=remote_access_of(settings).egress,
        timeout_seconds=settings.webhooks.timeout_seconds,
        max_attempts=settings.webhooks.max_attempts,
        retry_base_seconds=settings.webhooks.retry_base_seconds,
        retry_max_seconds=settings.webhooks.retry_max_seconds,
    )
