"""The expiry of an organization's vulnerability allowlist (the Enterprise Edition's CVE allowlist
``expires_at``): after it, the allowlist exempts nothing.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 23:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("security_namespace_policies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("allowlist_expires_at", sa.BigInteger(), server_default="0", nullable=False))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("security_namespace_policies", schema=None) as batch_op:
        batch_op.drop_column("allowlist_expires_at")
