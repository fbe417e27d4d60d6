"""Image security details: the packages of each scan result as rows (indexed lazily from the stored
reports), per-account handling of non-vulnerability findings, and per-account settings (custom weak
passwords, the version pull verdicts follow).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 21:21:52.611081
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "security_account_settings",
        sa.Column("domain_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["domains.id"],
            name=op.f("fk_security_account_settings_domain_id_domains"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("domain_id", "key", name=op.f("pk_security_account_settings")),
    )
    op.create_table(
        "security_finding_handling",
        sa.Column("domain_id", sa.String(length=32), nullable=False),
        sa.Column("finding_key", sa.String(length=64), nullable=False),
        sa.Column("handle_status", sa.String(length=16), nullable=False),
        sa.Column("user_name", sa.String(length=64), server_default="", nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["domains.id"],
            name=op.f("fk_security_finding_handling_domain_id_domains"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("domain_id", "finding_key", name=op.f("pk_security_finding_handling")),
    )
    op.create_table(
        "security_package_index",
        sa.Column("manifest_digest", sa.String(length=140), nullable=False),
        sa.Column("result_version", sa.Integer(), nullable=False),
        sa.Column("indexed_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["manifest_digest"],
            ["security_scan_results.manifest_digest"],
            name=op.f("fk_security_package_index_manifest_digest_security_scan_results"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("manifest_digest", name=op.f("pk_security_package_index")),
    )
    op.create_table(
        "security_packages",
        sa.Column("manifest_digest", sa.String(length=140), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("ecosystem", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=255), nullable=False),
        sa.Column("purl", sa.Text(), server_default="", nullable=False),
        sa.Column("path", sa.Text(), server_default="", nullable=False),
        sa.Column("layer_digest", sa.String(length=140), server_default="", nullable=False),
        sa.Column("compliant", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("note", sa.String(length=255), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["manifest_digest"],
            ["security_scan_results.manifest_digest"],
            name=op.f("fk_security_packages_manifest_digest_security_scan_results"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("manifest_digest", "position", name=op.f("pk_security_packages")),
    )
    with op.batch_alter_table("security_packages", schema=None) as batch_op:
        batch_op.create_index("ix_security_packages_name", ["name"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("security_packages", schema=None) as batch_op:
        batch_op.drop_index("ix_security_packages_name")

    op.drop_table("security_packages")
    op.drop_table("security_package_index")
    op.drop_table("security_finding_handling")
    op.drop_table("security_account_settings")
