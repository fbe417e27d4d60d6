"""The event stream's tables (migration 0014): the events outbox (which is also the audit log), the
dispatcher's lock row, webhook policies, triggers, and the deliveries with each HTTP attempt.

Kept apart from ``tables.py`` (imported at its end, on the same ``metadata``) so the event work does
not grow that file further. docs/events.md explains the design.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from moorage.metadata.tables import DIGEST, NAME, Id, metadata

events = Table(
    "events",
    metadata,
    # One row per change, written in the change's own transaction (the outbox): a committed change
    # always has its row, a rolled-back one never. ``dispatched`` turns true in the transaction that
    # handed the row to every consumer (services/events/dispatch.py). Rows are pruned after the
    # audit retention (MOORAGE_EVENTS__AUDIT_RETENTION_DAYS).
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("occurred_at", BigInteger, nullable=False),
    Column("instance_id", String(64), nullable=False),
    Column("domain_id", String(64), nullable=False, server_default=""),
    Column("operation", String(16), nullable=False),
    Column("resource_type", String(32), nullable=False),
    Column("resource", String(512), nullable=False),
    Column("result", String(16), nullable=False),
    Column("namespace", String(64), nullable=False, server_default=""),
    Column("repository", String(200), nullable=False, server_default=""),
    Column("tag", String(128), nullable=False, server_default=""),
    Column("digest", DIGEST, nullable=False, server_default=""),
    Column("actor_id", String(64), nullable=False, server_default=""),
    Column("actor_name", NAME, nullable=False, server_default=""),
    Column("actor_domain_id", String(64), nullable=False, server_default=""),
    Column("actor_domain_name", NAME, nullable=False, server_default=""),
    Column("actor_via", String(16), nullable=False, server_default=""),
    Column("client_address", String(64), nullable=False, server_default=""),
    Column("detail", Text, nullable=False, server_default=""),
    Column("dispatched", Boolean, nullable=False, server_default="0"),
)
Index("ix_events_pending", events.c.dispatched, events.c.id)
Index("ix_events_instance", events.c.instance_id, events.c.id)
Index("ix_events_instance_operation", events.c.instance_id, events.c.operation, events.c.id)
Index("ix_events_occurred_at", events.c.occurred_at)

event_dispatch = Table(
    "event_dispatch",
    metadata,
    # One row (id 1): a dispatcher locks it (FOR UPDATE SKIP LOCKED on PostgreSQL) for the length of
    # its transaction, so on several nodes one dispatcher at a time hands events over, in id order.
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("dispatched_at", BigInteger, nullable=False, server_default="0"),
)

webhook_policies = Table(
    "webhook_policies",
    metadata,
    # Enterprise Edition webhook policies of a namespace. ``targets`` is JSON with each target's
    # auth header sealed with the master key; ``secret`` (the HMAC signing key) is sealed too.
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("instance_id", String(64), ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    Column("namespace_id", Id, ForeignKey("namespaces.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("event_types", Text, nullable=False),
    Column("targets", Text, nullable=False),
    Column("scope_rules", Text, nullable=False, server_default="[]"),
    Column("enabled", Boolean, nullable=False, server_default="1"),
    Column("creator", NAME, nullable=False, server_default=""),
    Column("secret", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("namespace_id", "name", name="uq_webhook_policies_namespace_name"),
)
Index("ix_webhook_policies_instance", webhook_policies.c.instance_id, webhook_policies.c.id)

triggers = Table(
    "triggers",
    metadata,
    # Shared-edition triggers of a repository (SWR's CreateTrigger); the webhook kind's target with
    # its auth header and signing secret sealed with the master key.
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("repository_id", Id, ForeignKey("repositories.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("trigger_type", String(16), nullable=False),
    Column("condition", String(512), nullable=False),
    Column("enabled", Boolean, nullable=False, server_default="1"),
    Column("action", String(32), nullable=False, server_default="update"),
    Column("app_type", String(32), nullable=False, server_default=""),
    Column("application", String(255), nullable=False, server_default=""),
    Column("cluster_id", String(64), nullable=False, server_default=""),
    Column("cluster_name", String(255), nullable=False, server_default=""),
    Column("cluster_ns", String(255), nullable=False, server_default=""),
    Column("container", String(255), nullable=False, server_default=""),
    Column("creator_name", NAME, nullable=False, server_default=""),
    Column("address", String(2048), nullable=False, server_default=""),
    Column("auth_header", Text, nullable=False, server_default=""),
    Column("skip_cert_verify", Boolean, nullable=False, server_default="0"),
    Column("secret", Text, nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("repository_id", "name", name="uq_triggers_repository_name"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    # One event to one target of one consumer (``policy:<id>`` or ``trigger:<id>``): SWR's webhook
    # ``Job``. The payload is frozen when the event is dispatched, so every retry sends the same
    # bytes under the same signature. Unique per (event, consumer, target): dispatching twice
    # creates nothing twice.
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("instance_id", String(64), nullable=False),
    Column("consumer", String(32), nullable=False),
    Column("policy_id", Id, ForeignKey("webhook_policies.id", ondelete="CASCADE"), nullable=True),
    Column("trigger_id", Id, ForeignKey("triggers.id", ondelete="CASCADE"), nullable=True),
    Column("event_id", BigInteger, nullable=False),
    Column("target_index", Integer, nullable=False, server_default="0"),
    Column("event_type", String(32), nullable=False),
    Column("notify_type", String(16), nullable=False, server_default="http"),
    Column("address", String(2048), nullable=False, server_default=""),
    Column("tag", String(128), nullable=False, server_default=""),
    Column("status", String(16), nullable=False),
    Column("status_text", String(1024), nullable=False, server_default=""),
    Column("payload", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("job_id", String(32), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("event_id", "consumer", "target_index", name="uq_webhook_deliveries_event_consumer"),
)
Index("ix_webhook_deliveries_policy", webhook_deliveries.c.policy_id, webhook_deliveries.c.id)
Index("ix_webhook_deliveries_trigger", webhook_deliveries.c.trigger_id, webhook_deliveries.c.id)
Index("ix_webhook_deliveries_created_at", webhook_deliveries.c.created_at)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    # Each HTTP attempt of a delivery: when, how long, the answer's status or the error.
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("delivery_id", Id, ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", String(1024), nullable=False, server_default=""),
    Column("succeeded", Boolean, nullable=False),
)
Index("ix_webhook_attempts_delivery", webhook_attempts.c.delivery_id, webhook_attempts.c.attempt)
