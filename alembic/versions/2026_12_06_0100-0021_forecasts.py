"""Forecasts (issue 19, section 3): the latest run of each horizon (next week, next month) of the expected
count of reports per area x category at the village, street and district levels, with its interval
(server/anticipate/forecast.py); a new run of a horizon replaces the previous one.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from server.types import LTree

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "forecast",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("horizon", sa.String(8), nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cutoff", sa.Date(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("area_code", sa.String(15), nullable=False),
        sa.Column("area_path", LTree(), nullable=False),
        sa.Column("category_id", sa.BigInteger(), nullable=False),
        sa.Column("expected", sa.Float(), nullable=False),
        sa.Column("low", sa.Integer(), nullable=False),
        sa.Column("high", sa.Integer(), nullable=False),
        sa.Column("last_observed", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"], ["category.id"], name="fk_forecast_category_id_category", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_forecast"),
        sa.UniqueConstraint(
            "horizon",
            "level",
            "area_code",
            "category_id",
            name="uq_forecast_horizon_level_area_code_category_id",
        ),
        sa.CheckConstraint("horizon IN ('week', 'month')", name="ck_forecast_horizon"),
        sa.CheckConstraint("level IN ('village', 'street', 'district')", name="ck_forecast_level"),
        sa.CheckConstraint("period_end >= period_start AND period_start > cutoff", name="ck_forecast_period"),
        sa.CheckConstraint("low <= high AND expected >= 0", name="ck_forecast_interval"),
    )
    op.create_index("ix_forecast_horizon_level_expected", "forecast", ["horizon", "level", "expected"])
    op.create_index("ix_forecast_area_path", "forecast", ["area_path"], postgresql_using="gist")


def downgrade() -> None:
    op.drop_table("forecast")
