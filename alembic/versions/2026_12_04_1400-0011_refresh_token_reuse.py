"""Refresh-token families: a reused rotated-away token ends the device's session family.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "retired_refresh_token",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("session_id", sa.BigInteger(), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["device_session.id"],
            name="fk_retired_refresh_token_session_id_device_session",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name="pk_retired_refresh_token"),
    )
    op.create_index("ix_retired_refresh_token_session_id", "retired_refresh_token", ["session_id"])
    op.create_index("ix_retired_refresh_token_retired_at", "retired_refresh_token", ["retired_at"])


def downgrade() -> None:
    op.drop_table("retired_refresh_token")  # its indexes go with it
