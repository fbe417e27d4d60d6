"""Enterprise Edition replication: registries, policies, executions, tasks and subtasks.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "replication_registries",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=1024), server_default="", nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=512), nullable=False),
        sa.Column("username", sa.String(length=255), server_default="", nullable=False),
        sa.Column("password", sa.Text(), server_default="", nullable=False),
        sa.Column("insecure", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("status", sa.String(length=16), server_default="healthy", nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_replication_registries_instance_id_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replication_registries")),
        sa.UniqueConstraint("instance_id", "name", name="uq_replication_registries_instance_name"),
    )
    op.create_table(
        "replication_policies",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("description", sa.String(length=1024), server_default="", nullable=False),
        sa.Column("src_registry_id", ID, nullable=True),
        sa.Column("dest_registry_id", ID, nullable=True),
        sa.Column("dest_namespace", sa.String(length=255), server_default="", nullable=False),
        sa.Column("dest_namespace_replace_count", sa.Integer(), server_default="-1", nullable=False),
        sa.Column("filters", sa.Text(), server_default="[]", nullable=False),
        sa.Column("repo_scope_mode", sa.String(length=16), server_default="regular", nullable=False),
        sa.Column("trigger", sa.Text(), nullable=False),
        sa.Column("override", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("replicate_deletion", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("speed_kb", sa.Integer(), server_default="-1", nullable=False),
        sa.Column("copy_by_chunk", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("last_scheduled_at", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_replication_policies_instance_id_instances"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["src_registry_id"],
            ["replication_registries.id"],
            name=op.f("fk_replication_policies_src_registry_id_replication_registries"),
        ),
        sa.ForeignKeyConstraint(
            ["dest_registry_id"],
            ["replication_registries.id"],
            name=op.f("fk_replication_policies_dest_registry_id_replication_registries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replication_policies")),
        sa.UniqueConstraint("instance_id", "name", name="uq_replication_policies_instance_name"),
    )
    op.create_table(
        "replication_executions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("policy_id", ID, nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_text", sa.String(length=1024), server_default="", nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.Text(), server_default="{}", nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=True),
        sa.Column("dedupe_key", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["replication_policies.id"],
            name=op.f("fk_replication_executions_policy_id_replication_policies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replication_executions")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_replication_executions_dedupe_key")),
    )
    op.create_index("ix_replication_executions_policy", "replication_executions", ["policy_id", "id"], unique=False)
    op.create_index("ix_replication_executions_instance", "replication_executions", ["instance_id", "id"], unique=False)
    op.create_table(
        "replication_tasks",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("execution_id", ID, nullable=False),
        sa.Column("resource_type", sa.String(length=16), server_default="artifact", nullable=False),
        sa.Column("src_resource", sa.String(length=512), nullable=False),
        sa.Column("dst_resource", sa.String(length=512), nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_text", sa.String(length=1024), server_default="", nullable=False),
        sa.Column("status_revision", sa.Integer(), server_default="0", nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=True),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["replication_executions.id"],
            name=op.f("fk_replication_tasks_execution_id_replication_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replication_tasks")),
    )
    op.create_index("ix_replication_tasks_execution", "replication_tasks", ["execution_id", "status"], unique=False)
    op.create_table(
        "replication_subtasks",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("task_id", ID, nullable=False),
        sa.Column("execution_id", ID, nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("namespace", sa.String(length=255), nullable=False),
        sa.Column("repository", sa.String(length=255), nullable=False),
        sa.Column("tag", sa.String(length=128), server_default="", nullable=False),
        sa.Column("digest", sa.String(length=140), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_text", sa.String(length=1024), server_default="", nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=True),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["replication_tasks.id"],
            name=op.f("fk_replication_subtasks_task_id_replication_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replication_subtasks")),
    )
    op.create_index("ix_replication_subtasks_task_status", "replication_subtasks", ["task_id", "status"], unique=False)
    op.create_index(
        "ix_replication_subtasks_execution_status", "replication_subtasks", ["execution_id", "status"], unique=False
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("replication_subtasks")
    op.drop_table("replication_tasks")
    op.drop_table("replication_executions")
    op.drop_table("replication_policies")
    op.drop_table("replication_registries")
