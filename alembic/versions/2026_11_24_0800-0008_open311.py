"""Open311: the client systems with their API keys and system users, and the private fields of the
requests they post.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "open311_client",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_open311_client"),
        sa.UniqueConstraint("name", name="uq_open311_client_name"),
        sa.UniqueConstraint("key_hash", name="uq_open311_client_key_hash"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name="fk_open311_client_user_id_app_user", ondelete="RESTRICT"
        ),
    )
    op.create_table(
        "open311_request",
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("client_id", sa.BigInteger(), nullable=False),
        sa.Column("email", sa.String(200), nullable=True),
        sa.Column("device_id", sa.String(200), nullable=True),
        sa.Column("account_id", sa.String(200), nullable=True),
        sa.Column("media_url", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("case_id", name="pk_open311_request"),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case_file.id"], name="fk_open311_request_case_id_case_file", ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["open311_client.id"],
            name="fk_open311_request_client_id_open311_client",
            ondelete="RESTRICT",
        ),
    )


def downgrade() -> None:
    op.drop_table("open311_request")
    op.drop_table("open311_client")
