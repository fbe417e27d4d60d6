"""SWR management: repository shares with other accounts, the CCE agency flag, daily usage snapshots
for the resource reports, repository creators and pulled bytes, and a tag index by update time.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 18:55:05.051375
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "agencies",
        sa.Column("domain_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["domains.id"], name=op.f("fk_agencies_domain_id_domains"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("domain_id", name=op.f("pk_agencies")),
    )
    op.create_table(
        "usage_snapshots",
        sa.Column("domain_id", sa.String(length=32), nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("namespaces", sa.Integer(), server_default="0", nullable=False),
        sa.Column("repositories", sa.Integer(), server_default="0", nullable=False),
        sa.Column("images", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("storage", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("downloads", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("download_bytes", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["domains.id"], name=op.f("fk_usage_snapshots_domain_id_domains"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["instance_id"], ["instances.id"], name=op.f("fk_usage_snapshots_instance_id_instances"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("domain_id", "instance_id", "day", name=op.f("pk_usage_snapshots")),
    )
    op.create_table(
        "repository_shares",
        sa.Column("repository_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("domain_id", sa.String(length=32), nullable=False),
        sa.Column("permit", sa.String(length=16), server_default="read", nullable=False),
        sa.Column("deadline", sa.BigInteger(), nullable=True),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("creator_id", sa.String(length=32), server_default="", nullable=False),
        sa.Column("creator_name", sa.String(length=64), server_default="", nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["domains.id"], name=op.f("fk_repository_shares_domain_id_domains"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.id"],
            name=op.f("fk_repository_shares_repository_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("repository_id", "domain_id", name=op.f("pk_repository_shares")),
    )
    with op.batch_alter_table("repository_shares", schema=None) as batch_op:
        batch_op.create_index("ix_repository_shares_domain", ["domain_id"], unique=False)

    with op.batch_alter_table("repositories", schema=None) as batch_op:
        batch_op.add_column(sa.Column("creator_id", sa.String(length=32), server_default="", nullable=False))
        batch_op.add_column(sa.Column("creator_name", sa.String(length=64), server_default="", nullable=False))
        batch_op.add_column(sa.Column("download_bytes", sa.BigInteger(), server_default="0", nullable=False))

    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.create_index("ix_tags_repository_updated", ["repository_id", "updated_at", "id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.drop_index("ix_tags_repository_updated")

    with op.batch_alter_table("repositories", schema=None) as batch_op:
        batch_op.drop_column("download_bytes")
        batch_op.drop_column("creator_name")
        batch_op.drop_column("creator_id")

    with op.batch_alter_table("repository_shares", schema=None) as batch_op:
        batch_op.drop_index("ix_repository_shares_domain")

    op.drop_table("repository_shares")
    op.drop_table("usage_snapshots")
    op.drop_table("agencies")
