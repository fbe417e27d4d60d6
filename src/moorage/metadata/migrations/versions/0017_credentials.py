"""Enterprise Edition instance credentials, endpoint policies, resource tags of instances and
namespaces, and deleted instance jobs.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 19:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "ee_credentials",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"], ["instances.id"], name=op.f("fk_ee_credentials_instance_id_instances"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_ee_credentials_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ee_credentials")),
    )
    with op.batch_alter_table("ee_credentials", schema=None) as batch_op:
        batch_op.create_index("ix_ee_credentials_instance_user", ["instance_id", "user_id"], unique=False)
        batch_op.create_index("ix_ee_credentials_expires", ["kind", "expires_at"], unique=False)
    op.create_table(
        "ee_endpoint_policies",
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("ip_list", sa.Text(), server_default="[]", nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_ee_endpoint_policies_instance_id_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("instance_id", name=op.f("pk_ee_endpoint_policies")),
    )
    op.create_table(
        "ee_instance_tags",
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.String(length=255), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_ee_instance_tags_instance_id_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("instance_id", "key", name=op.f("pk_ee_instance_tags")),
    )
    op.create_table(
        "ee_namespace_tags",
        sa.Column("namespace_id", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=255), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_ee_namespace_tags_instance_id_instances"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespaces.id"],
            name=op.f("fk_ee_namespace_tags_namespace_id_namespaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("namespace_id", "key", name=op.f("pk_ee_namespace_tags")),
    )
    with op.batch_alter_table("ee_namespace_tags", schema=None) as batch_op:
        batch_op.create_index("ix_ee_namespace_tags_instance", ["instance_id"], unique=False)
    op.create_table(
        "ee_deleted_jobs",
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"], ["instances.id"], name=op.f("fk_ee_deleted_jobs_instance_id_instances"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_ee_deleted_jobs")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("ee_deleted_jobs")
    with op.batch_alter_table("ee_namespace_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_ee_namespace_tags_instance")
    op.drop_table("ee_namespace_tags")
    op.drop_table("ee_instance_tags")
    op.drop_table("ee_endpoint_policies")
    with op.batch_alter_table("ee_credentials", schema=None) as batch_op:
        batch_op.drop_index("ix_ee_credentials_expires")
        batch_op.drop_index("ix_ee_credentials_instance_user")
    op.drop_table("ee_credentials")
