"""The event stream: the events outbox (also the audit log), the dispatcher's lock row, webhook
policies (Enterprise Edition), triggers (shared edition), and webhook deliveries with their attempts.

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-06 17:03:04.912141
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "event_dispatch",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("dispatched_at", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_dispatch")),
    )
    op.execute("INSERT INTO event_dispatch (id, dispatched_at) VALUES (1, 0)")  # the dispatchers' lock row
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("occurred_at", sa.BigInteger(), nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("domain_id", sa.String(length=64), server_default="", nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("resource_type", sa.String(length=32), nullable=False),
        sa.Column("resource", sa.String(length=512), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("namespace", sa.String(length=64), server_default="", nullable=False),
        sa.Column("repository", sa.String(length=200), server_default="", nullable=False),
        sa.Column("tag", sa.String(length=128), server_default="", nullable=False),
        sa.Column("digest", sa.String(length=140), server_default="", nullable=False),
        sa.Column("actor_id", sa.String(length=64), server_default="", nullable=False),
        sa.Column("actor_name", sa.String(length=255), server_default="", nullable=False),
        sa.Column("actor_domain_id", sa.String(length=64), server_default="", nullable=False),
        sa.Column("actor_domain_name", sa.String(length=255), server_default="", nullable=False),
        sa.Column("actor_via", sa.String(length=16), server_default="", nullable=False),
        sa.Column("client_address", sa.String(length=64), server_default="", nullable=False),
        sa.Column("detail", sa.Text(), server_default="", nullable=False),
        sa.Column("dispatched", sa.Boolean(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_instance", ["instance_id", "id"], unique=False)
        batch_op.create_index("ix_events_instance_operation", ["instance_id", "operation", "id"], unique=False)
        batch_op.create_index("ix_events_occurred_at", ["occurred_at"], unique=False)
        batch_op.create_index("ix_events_pending", ["dispatched", "id"], unique=False)

    op.create_table(
        "webhook_policies",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("namespace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("event_types", sa.Text(), nullable=False),
        sa.Column("targets", sa.Text(), nullable=False),
        sa.Column("scope_rules", sa.Text(), server_default="[]", nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("creator", sa.String(length=255), server_default="", nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_webhook_policies_instance_id_instances"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespaces.id"],
            name=op.f("fk_webhook_policies_namespace_id_namespaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_policies")),
        sa.UniqueConstraint("namespace_id", "name", name="uq_webhook_policies_namespace_name"),
    )
    with op.batch_alter_table("webhook_policies", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_policies_instance", ["instance_id", "id"], unique=False)

    op.create_table(
        "triggers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("repository_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("trigger_type", sa.String(length=16), nullable=False),
        sa.Column("condition", sa.String(length=512), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("action", sa.String(length=32), server_default="update", nullable=False),
        sa.Column("app_type", sa.String(length=32), server_default="", nullable=False),
        sa.Column("application", sa.String(length=255), server_default="", nullable=False),
        sa.Column("cluster_id", sa.String(length=64), server_default="", nullable=False),
        sa.Column("cluster_name", sa.String(length=255), server_default="", nullable=False),
        sa.Column("cluster_ns", sa.String(length=255), server_default="", nullable=False),
        sa.Column("container", sa.String(length=255), server_default="", nullable=False),
        sa.Column("creator_name", sa.String(length=255), server_default="", nullable=False),
        sa.Column("address", sa.String(length=2048), server_default="", nullable=False),
        sa.Column("auth_header", sa.Text(), server_default="", nullable=False),
        sa.Column("skip_cert_verify", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("secret", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.id"],
            name=op.f("fk_triggers_repository_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triggers")),
        sa.UniqueConstraint("repository_id", "name", name="uq_triggers_repository_name"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("consumer", sa.String(length=32), nullable=False),
        sa.Column("policy_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("trigger_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("target_index", sa.Integer(), server_default="0", nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("notify_type", sa.String(length=16), server_default="http", nullable=False),
        sa.Column("address", sa.String(length=2048), server_default="", nullable=False),
        sa.Column("tag", sa.String(length=128), server_default="", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_text", sa.String(length=1024), server_default="", nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("job_id", sa.String(length=32), server_default="", nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["webhook_policies.id"],
            name=op.f("fk_webhook_deliveries_policy_id_webhook_policies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["trigger_id"], ["triggers.id"], name=op.f("fk_webhook_deliveries_trigger_id_triggers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("event_id", "consumer", "target_index", name="uq_webhook_deliveries_event_consumer"),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_deliveries_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_webhook_deliveries_policy", ["policy_id", "id"], unique=False)
        batch_op.create_index("ix_webhook_deliveries_trigger", ["trigger_id", "id"], unique=False)

    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("delivery_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=1024), server_default="", nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhook_deliveries.id"],
            name=op.f("fk_webhook_attempts_delivery_id_webhook_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
    )
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_attempts_delivery", ["delivery_id", "attempt"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_attempts_delivery")

    op.drop_table("webhook_attempts")
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_deliveries_trigger")
        batch_op.drop_index("ix_webhook_deliveries_policy")
        batch_op.drop_index("ix_webhook_deliveries_created_at")

    op.drop_table("webhook_deliveries")
    op.drop_table("triggers")
    with op.batch_alter_table("webhook_policies", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_policies_instance")

    op.drop_table("webhook_policies")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_pending")
        batch_op.drop_index("ix_events_occurred_at")
        batch_op.drop_index("ix_events_instance_operation")
        batch_op.drop_index("ix_events_instance")

    op.drop_table("events")
    op.drop_table("event_dispatch")
