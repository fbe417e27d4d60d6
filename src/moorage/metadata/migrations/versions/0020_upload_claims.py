"""Upload ids whose signed state was used up (``upload_claims``): a session started without a row
(its state signed into the Location) is claimed when its first chunk, its close or its cancellation
arrives, so the same state cannot open it again.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "upload_claims",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("claimed_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upload_claims")),
    )
    op.create_index("ix_upload_claims_claimed_at", "upload_claims", ["claimed_at"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_upload_claims_claimed_at", table_name="upload_claims")
    op.drop_table("upload_claims")
