"""Login: passwords, device sessions (refresh tokens), login throttling.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("app_user", sa.Column("password_hash", sa.String(200), nullable=True))
    op.add_column("app_user", sa.Column("department_code", sa.String(40), nullable=True))
    op.add_column("app_user", sa.Column("grid_code", sa.String(15), nullable=True))
    # Logins match usernames whatever their case, so usernames are unique whatever their case.
    op.drop_constraint("uq_app_user_username", "app_user", type_="unique")
    op.create_index("uq_app_user_lower_username", "app_user", [sa.text("lower(username)")], unique=True)
    op.create_table(
        "device_session",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("device_id", sa.String(100), nullable=False),
        sa.Column("device_name", sa.String(100), nullable=False),
        sa.Column("refresh_hash", sa.String(64), nullable=False),
        sa.Column("previous_hash", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_ip", sa.String(64), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name="fk_device_session_user_id_app_user", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_device_session"),
        sa.UniqueConstraint("refresh_hash", name="uq_device_session_refresh_hash"),
    )
    op.create_index(
        "uq_device_session_user_id_device_id_live",
        "device_session",
        ["user_id", "device_id"],
        unique=True,
        postgresql_where=sa.text("revoked_at IS NULL"),
    )
    op.create_index("ix_device_session_previous_hash", "device_session", ["previous_hash"])
    op.create_table(
        "login_failure",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("login_key", sa.String(100), nullable=False),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_login_failure"),
    )
    op.create_index("ix_login_failure_login_key_at", "login_failure", ["login_key", "at"])
    op.create_index("ix_login_failure_ip_at", "login_failure", ["ip", "at"])
    op.create_index("ix_login_failure_at", "login_failure", ["at"])


def downgrade() -> None:
    op.drop_table("login_failure")
    op.drop_table("device_session")
    op.drop_index("uq_app_user_lower_username", "app_user")
    op.create_unique_constraint("uq_app_user_username", "app_user", ["username"])
    op.drop_column("app_user", "grid_code")
    op.drop_column("app_user", "department_code")
    op.drop_column("app_user", "password_hash")
