"""Image synchronisation (shared edition): sync rules of repositories and sync jobs.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 19:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "image_sync_rules",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("repository_id", _ID, nullable=False),
        sa.Column("domain_id", sa.String(length=64), server_default="", nullable=False),
        sa.Column("domain_name", sa.String(length=255), server_default="", nullable=False),
        sa.Column("remote_region_id", sa.String(length=64), nullable=False),
        sa.Column("remote_namespace", sa.String(length=64), nullable=False),
        sa.Column("sync_auto", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("override", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.id"],
            name=op.f("fk_image_sync_rules_repository_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image_sync_rules")),
        sa.UniqueConstraint("repository_id", "remote_region_id", "remote_namespace", name="uq_image_sync_rules_target"),
    )
    op.create_table(
        "image_sync_jobs",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("repository_id", _ID, nullable=False),
        sa.Column("domain_id", sa.String(length=64), server_default="", nullable=False),
        sa.Column("domain_name", sa.String(length=255), server_default="", nullable=False),
        sa.Column("tag", sa.String(length=128), nullable=False),
        sa.Column("remote_region_id", sa.String(length=64), nullable=False),
        sa.Column("remote_namespace", sa.String(length=64), nullable=False),
        sa.Column("override", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("operator_id", sa.String(length=64), server_default="", nullable=False),
        sa.Column("operator_name", sa.String(length=255), server_default="", nullable=False),
        sa.Column("detail", sa.Text(), server_default="", nullable=False),
        sa.Column("job_id", sa.String(length=64), server_default="", nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.id"],
            name=op.f("fk_image_sync_jobs_repository_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image_sync_jobs")),
        sa.UniqueConstraint(
            "event_id", "repository_id", "remote_region_id", "remote_namespace", name="uq_image_sync_jobs_event"
        ),
    )
    with op.batch_alter_table("image_sync_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_image_sync_jobs_repository", ["repository_id", "id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("image_sync_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_image_sync_jobs_repository")
    op.drop_table("image_sync_jobs")
    op.drop_table("image_sync_rules")
