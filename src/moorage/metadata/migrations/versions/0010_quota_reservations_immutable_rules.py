"""What the storage quotas count (each organization's distinct blobs and their bytes, filled from the
existing links; bytes reserved by uploads in progress) and the immutable tag rules of Enterprise
Edition namespaces.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-10 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "quota_reservations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("namespace", sa.String(length=64), nullable=False),
        sa.Column("domain_id", sa.String(length=64), server_default="", nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_quota_reservations_instance_id_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quota_reservations")),
    )
    with op.batch_alter_table("quota_reservations", schema=None) as batch_op:
        batch_op.create_index("ix_quota_reservations_domain", ["instance_id", "domain_id"], unique=False)
        batch_op.create_index("ix_quota_reservations_expires_at", ["expires_at"], unique=False)
        batch_op.create_index("ix_quota_reservations_namespace", ["instance_id", "namespace"], unique=False)

    op.create_table(
        "namespace_blobs",
        sa.Column("namespace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("digest", sa.String(length=140), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("links", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespaces.id"],
            name=op.f("fk_namespace_blobs_namespace_id_namespaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("namespace_id", "digest", name=op.f("pk_namespace_blobs")),
    )
    op.create_table(
        "namespace_storage",
        sa.Column("namespace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("stored_bytes", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespaces.id"],
            name=op.f("fk_namespace_storage_namespace_id_namespaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("namespace_id", name=op.f("pk_namespace_storage")),
    )
    # The counters start from the links a registry already holds.
    op.execute(
        "INSERT INTO namespace_blobs (namespace_id, digest, size, links) "
        "SELECT r.namespace_id, rb.digest, b.size, COUNT(*) FROM repository_blobs rb "
        "JOIN repositories r ON r.id = rb.repository_id JOIN blobs b ON b.digest = rb.digest "
        "GROUP BY r.namespace_id, rb.digest, b.size"
    )
    op.execute(
        "INSERT INTO namespace_storage (namespace_id, stored_bytes) "
        "SELECT namespace_id, SUM(size) FROM namespace_blobs GROUP BY namespace_id"
    )

    op.create_table(
        "ee_immutable_rules",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("namespace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("priority", sa.Integer(), server_default="0", nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("action", sa.String(length=32), server_default="immutable", nullable=False),
        sa.Column("template", sa.String(length=64), server_default="immutable_template", nullable=False),
        sa.Column("tag_selectors", sa.Text(), nullable=False),
        sa.Column("scope_selectors", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_ee_immutable_rules_instance_id_instances"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespaces.id"],
            name=op.f("fk_ee_immutable_rules_namespace_id_namespaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ee_immutable_rules")),
    )
    with op.batch_alter_table("ee_immutable_rules", schema=None) as batch_op:
        batch_op.create_index("ix_ee_immutable_rules_instance", ["instance_id", "id"], unique=False)
        batch_op.create_index("ix_ee_immutable_rules_namespace", ["namespace_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("ee_immutable_rules", schema=None) as batch_op:
        batch_op.drop_index("ix_ee_immutable_rules_namespace")
        batch_op.drop_index("ix_ee_immutable_rules_instance")
    op.drop_table("ee_immutable_rules")
    op.drop_table("namespace_storage")
    op.drop_table("namespace_blobs")
    with op.batch_alter_table("quota_reservations", schema=None) as batch_op:
        batch_op.drop_index("ix_quota_reservations_namespace")
        batch_op.drop_index("ix_quota_reservations_expires_at")
        batch_op.drop_index("ix_quota_reservations_domain")
    op.drop_table("quota_reservations")
