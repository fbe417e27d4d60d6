"""HSS CI/CD: configurations (the gate of a pipeline's scan) and the images pipelines uploaded.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 19:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "security_cicd_configurations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("domain_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("vulnerability_whitelist", sa.Text(), server_default="[]", nullable=False),
        sa.Column("vulnerability_blocklist", sa.Text(), server_default="[]", nullable=False),
        sa.Column("image_whitelist", sa.Text(), server_default="[]", nullable=False),
        sa.Column("block_severities", sa.String(length=64), server_default="critical,high", nullable=False),
        sa.Column("block_on_secrets", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("block_on_malicious_files", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["domains.id"],
            name=op.f("fk_security_cicd_configurations_domain_id_domains"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_cicd_configurations")),
        sa.UniqueConstraint("domain_id", "name", name="uq_security_cicd_configurations_domain_name"),
    )
    op.create_table(
        "security_cicd_images",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("domain_id", sa.String(length=32), nullable=False),
        sa.Column("cicd_id", sa.String(length=32), nullable=False),
        sa.Column("namespace", sa.String(length=128), server_default="", nullable=False),
        sa.Column("image_name", sa.String(length=255), nullable=False),
        sa.Column("image_version", sa.String(length=128), server_default="", nullable=False),
        sa.Column("manifest_digest", sa.String(length=140), nullable=False),
        sa.Column("result_key", sa.String(length=140), nullable=False),
        sa.Column("pipeline_type", sa.String(length=32), server_default="", nullable=False),
        sa.Column("image_size", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("latest_version", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("gate_passed", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("gate_reasons", sa.Text(), server_default="[]", nullable=False),
        sa.Column("uploaded_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cicd_id"],
            ["security_cicd_configurations.id"],
            name=op.f("fk_security_cicd_images_cicd_id_security_cicd_configurations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["domains.id"], name=op.f("fk_security_cicd_images_domain_id_domains"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_cicd_images")),
        sa.UniqueConstraint(
            "cicd_id",
            "namespace",
            "image_name",
            "image_version",
            "manifest_digest",
            name="uq_security_cicd_images_image",
        ),
    )
    with op.batch_alter_table("security_cicd_images", schema=None) as batch_op:
        batch_op.create_index("ix_security_cicd_images_domain_digest", ["domain_id", "manifest_digest"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("security_cicd_images")
    op.drop_table("security_cicd_configurations")
