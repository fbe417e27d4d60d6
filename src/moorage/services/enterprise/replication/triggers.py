"""What starts replication executions besides a caller: events (a consumer of the event stream)
and schedules (a scheduler every HTTP process runs, as the retention policies' does).

- **Event-based** (push-based policies whose trigger is ``event_based``): a push of a tag the
  policy's filters select starts an execution for that one artifact; a delete (of a tag or, by
  digest, of a manifest) does too when the policy replicates deletions. The execution and its job
  row are written in the dispatcher's transaction, one per (policy, event): an event never starts
  two, and a dispatch that rolls back starts none. The run reads the artifact when it copies (the
  event says "this changed", not what it became).
- **Scheduled**: every enabled policy whose trigger is ``scheduled`` runs when its cron fires; the
  policies are claimed as every scheduler claims its cron rows (``services/cron_claims.py``) and the
  execution carries an idempotency key, so
  several processes or nodes start each run once. Missed runs are not caught up.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Connection

from moorage.domain.events import Event, ResourceType, WebhookEventType, webhook_event_type
from moorage.domain.registry import DEFAULT_INSTANCE
from moorage.domain.replication import ReplicationPolicy, repository_selected, tag_selected
from moorage.metadata.database import Database, now_ms
from moorage.metadata.queries import replication as q
from moorage.metadata.replication_tables import replication_policies
from moorage.services.cron_claims import claim_fired, look_every
from moorage.services.enterprise.replication.executions import ReplicationExecutions, start_in


def _wanted(policy: ReplicationPolicy, event: Event, event_type: WebhookEventType) -> bool:
    if event_type is WebhookEventType.DELETE_ARTIFACT and not policy.replicate_deletion:
        return False
    if not repository_selected(policy.filters, event.repository):
        return False
    return not event.tag or tag_selected(policy.filters, event.tag)


class ReplicationConsumer:
    """Executions of the event-based policies a push or a delete matches."""

    name = "replication"

    def consume(self, conn: Connection, events: Sequence[Event]) -> list[str]:
        """See ``EventConsumer``."""
        jobs: list[str] = []
        policies: dict[str, list[ReplicationPolicy]] = {}
        for event in events:
            event_type = webhook_event_type(event)
            if event_type not in (WebhookEventType.PUSH_ARTIFACT, WebhookEventType.DELETE_ARTIFACT):
                continue
            if event.instance_id == DEFAULT_INSTANCE or not event.repository:
                continue
            if event.resource_type is ResourceType.REPOSITORY or not (event.tag or event.digest):
                continue  # a whole repository's delete names no artifact to replicate
            if event.instance_id not in policies:
                policies[event.instance_id] = q.event_policies(conn, event.instance_id)
            for policy in policies[event.instance_id]:
                if not _wanted(policy, event, event_type):
                    continue
                deleted = event_type is WebhookEventType.DELETE_ARTIFACT
                scope = {
                    "repository": event.repository,
                    "tag": event.tag,
                    "digest": "" if event.tag else event.digest,
                    "deleted": deleted,
                    "event_id": event.id,
                }
                job_id = start_in(
                    conn,
                    policy,
                    trigger="event_based",
                    scope=scope,
                    dedupe_key=f"replication-event:{policy.id}:{event.id}",
                )
                if job_id is not None:
                    jobs.append(job_id)
        return jobs


class ReplicationScheduler:
    """Starts the executions whose schedule fired since the last look."""

    def __init__(self, db: Database, executions: ReplicationExecutions, *, interval_seconds: float) -> None:
        self.db = db
        self.executions = executions
        self.interval = interval_seconds

    async def tick(self, *, now: int | None = None) -> int:
        """Look once; return how many executions were started."""
        moment = now_ms() if now is None else now
        started = 0
        fired = await claim_fired(
            self.db,
            replication_policies,
            await self.db.read(q.scheduled_policies),
            row_id=lambda policy: policy.id,
            cron=lambda policy: policy.trigger.cron,
            now=moment,
            what="replication policy",
        )
        for policy in fired:
            key = f"replication-scheduled:{policy.id}:{moment // 1000}"
            if await self.executions.start(policy, trigger="scheduled", dedupe_key=key) is not None:
                started += 1
        return started

    async def run_forever(self) -> None:
        """``tick`` every interval until cancelled."""
        await look_every(self.interval, self.tick, what="replication executions")
