"""Patrol: shifts (one open shift per user) and their track points (one per shift and instant).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 05:00:00
"""

from collections.abc import Sequence

import geoalchemy2
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "patrol_shift",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("client_uuid", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("device_id", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("ended_at IS NULL OR ended_at > started_at", name="ck_patrol_shift_span"),
        sa.PrimaryKeyConstraint("id", name="pk_patrol_shift"),
        sa.UniqueConstraint("client_uuid", name="uq_patrol_shift_client_uuid"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name="fk_patrol_shift_user_id_app_user", ondelete="RESTRICT"
        ),
    )
    op.create_index(
        "uq_patrol_shift_user_id_open",
        "patrol_shift",
        ["user_id"],
        unique=True,
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    op.create_index("ix_patrol_shift_user_id_started_at", "patrol_shift", ["user_id", "started_at"])
    op.create_index("ix_patrol_shift_started_at", "patrol_shift", ["started_at"])

    op.create_table(
        "track_point",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("shift_id", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "location",
            geoalchemy2.types.Geometry(geometry_type="POINT", srid=4326, spatial_index=False),
            nullable=False,
        ),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("speed_mps", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_track_point"),
        sa.UniqueConstraint("shift_id", "recorded_at", name="uq_track_point_shift_id_recorded_at"),
        sa.ForeignKeyConstraint(
            ["shift_id"], ["patrol_shift.id"], name="fk_track_point_shift_id_patrol_shift", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_track_point_location", "track_point", ["location"], postgresql_using="gist")


def downgrade() -> None:
    op.drop_table("track_point")
    op.drop_table("patrol_shift")
