"""Retention: the shared edition's retentions (one per repository) and the log of the tags they
deleted; the Enterprise Edition's retention policies, their executions, tasks and subtasks.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "ee_retention_policies",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("namespace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("algorithm", sa.String(length=8), server_default="or", nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("trigger", sa.Text(), nullable=False),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("last_scheduled_at", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_ee_retention_policies_instance_id_instances"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespaces.id"],
            name=op.f("fk_ee_retention_policies_namespace_id_namespaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ee_retention_policies")),
        sa.UniqueConstraint("namespace_id", "name", name="uq_ee_retention_policies_namespace_name"),
    )
    with op.batch_alter_table("ee_retention_policies", schema=None) as batch_op:
        batch_op.create_index("ix_ee_retention_policies_instance", ["instance_id", "id"], unique=False)

    op.create_table(
        "ee_retention_executions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("policy_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("dry_run", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_text", sa.String(length=1024), server_default="", nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=True),
        sa.Column("dedupe_key", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["ee_retention_policies.id"],
            name=op.f("fk_ee_retention_executions_policy_id_ee_retention_policies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ee_retention_executions")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_ee_retention_executions_dedupe_key")),
    )
    with op.batch_alter_table("ee_retention_executions", schema=None) as batch_op:
        batch_op.create_index("ix_ee_retention_executions_policy", ["policy_id", "id"], unique=False)

    op.create_table(
        "retention_logs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("repository_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("retention_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("namespace", sa.String(length=64), nullable=False),
        sa.Column("repository", sa.String(length=128), nullable=False),
        sa.Column("tag", sa.String(length=128), nullable=False),
        sa.Column("digest", sa.String(length=140), nullable=False),
        sa.Column("rule_type", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.id"],
            name=op.f("fk_retention_logs_repository_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_logs")),
    )
    with op.batch_alter_table("retention_logs", schema=None) as batch_op:
        batch_op.create_index("ix_retention_logs_repository", ["repository_id", "id"], unique=False)

    op.create_table(
        "retentions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("repository_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("algorithm", sa.String(length=8), server_default="or", nullable=False),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("last_scheduled_at", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.id"],
            name=op.f("fk_retentions_repository_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retentions")),
        sa.UniqueConstraint("repository_id", name="uq_retentions_repository_id"),
    )
    op.create_table(
        "ee_retention_tasks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("execution_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("repository_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("namespace", sa.String(length=64), nullable=False),
        sa.Column("repository", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_text", sa.String(length=1024), server_default="", nullable=False),
        sa.Column("total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("retained", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["ee_retention_executions.id"],
            name=op.f("fk_ee_retention_tasks_execution_id_ee_retention_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ee_retention_tasks")),
        sa.UniqueConstraint("execution_id", "repository", name="uq_ee_retention_tasks_execution_repository"),
    )
    op.create_table(
        "ee_retention_subtasks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("task_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("execution_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("namespace", sa.String(length=64), nullable=False),
        sa.Column("repository", sa.String(length=200), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=140), nullable=False),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_text", sa.String(length=1024), server_default="", nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["ee_retention_tasks.id"],
            name=op.f("fk_ee_retention_subtasks_task_id_ee_retention_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ee_retention_subtasks")),
    )
    with op.batch_alter_table("ee_retention_subtasks", schema=None) as batch_op:
        batch_op.create_index("ix_ee_retention_subtasks_execution_status", ["execution_id", "status"], unique=False)
        batch_op.create_index("ix_ee_retention_subtasks_task_status", ["task_id", "status", "id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("ee_retention_subtasks", schema=None) as batch_op:
        batch_op.drop_index("ix_ee_retention_subtasks_task_status")
        batch_op.drop_index("ix_ee_retention_subtasks_execution_status")

    op.drop_table("ee_retention_subtasks")
    op.drop_table("ee_retention_tasks")
    op.drop_table("retentions")
    with op.batch_alter_table("retention_logs", schema=None) as batch_op:
        batch_op.drop_index("ix_retention_logs_repository")

    op.drop_table("retention_logs")
    with op.batch_alter_table("ee_retention_executions", schema=None) as batch_op:
        batch_op.drop_index("ix_ee_retention_executions_policy")

    op.drop_table("ee_retention_executions")
    with op.batch_alter_table("ee_retention_policies", schema=None) as batch_op:
        batch_op.drop_index("ix_ee_retention_policies_instance")

    op.drop_table("ee_retention_policies")
