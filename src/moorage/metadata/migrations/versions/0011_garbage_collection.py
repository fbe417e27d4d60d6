"""Garbage collection: each blob's last use by a push and its deletion mark, the collector's runs
and their logs, and the Enterprise Edition instances' GC schedules.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("blobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("touched_at", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("deleting_since", sa.BigInteger(), nullable=True))
        batch_op.create_index("ix_blobs_deleting_since", ["deleting_since"], unique=False)
    # A blob stored before this revision was last used when it was stored.
    op.execute("UPDATE blobs SET touched_at = created_at")

    op.create_table(
        "gc_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=True),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("delete_untagged", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("workers", sa.Integer(), server_default="1", nullable=False),
        sa.Column("dry_run", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("figures", sa.Text(), server_default="{}", nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=True),
        sa.Column("dedupe_key", sa.String(length=255), nullable=True),
        sa.Column("stop_requested", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("log_lines", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=True),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["instance_id"], ["instances.id"], name=op.f("fk_gc_runs_instance_id_instances"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gc_runs")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_gc_runs_dedupe_key")),
    )
    with op.batch_alter_table("gc_runs", schema=None) as batch_op:
        batch_op.create_index("ix_gc_runs_instance", ["instance_id", "id"], unique=False)
        batch_op.create_index("ix_gc_runs_status", ["status"], unique=False)

    op.create_table(
        "gc_run_logs",
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["gc_runs.id"], name=op.f("fk_gc_run_logs_run_id_gc_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "seq", name=op.f("pk_gc_run_logs")),
    )

    op.create_table(
        "gc_schedules",
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("cron", sa.String(length=128), server_default="", nullable=False),
        sa.Column("delete_untagged", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("workers", sa.Integer(), server_default="1", nullable=False),
        sa.Column("dry_run", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"], ["instances.id"], name=op.f("fk_gc_schedules_instance_id_instances"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("instance_id", name=op.f("pk_gc_schedules")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("gc_schedules")
    op.drop_table("gc_run_logs")
    with op.batch_alter_table("gc_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_gc_runs_status")
        batch_op.drop_index("ix_gc_runs_instance")
    op.drop_table("gc_runs")
    with op.batch_alter_table("blobs", schema=None) as batch_op:
        batch_op.drop_index("ix_blobs_deleting_since")
        batch_op.drop_column("deleting_since")
        batch_op.drop_column("touched_at")
