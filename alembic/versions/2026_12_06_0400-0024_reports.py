"""Reports (日报 / 周报 / 月报, server/report): one printable document per kind, area and period, HTML and
PDF, kept for download; the unique (kind, grid, period_start) lets several workers generate the due ones
without duplicates.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from server.types import LTree

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "report",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("grid_code", sa.String(length=15), nullable=False),
        sa.Column("grid_name", sa.String(length=100), nullable=False),
        sa.Column("grid_path", LTree(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column(
            "generated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("kind IN ('day', 'week', 'month')", name=op.f("ck_report_kind")),
        sa.CheckConstraint("period_end >= period_start", name=op.f("ck_report_period")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report")),
        sa.UniqueConstraint(
            "kind", "grid_code", "period_start", name=op.f("uq_report_kind_grid_code_period_start")
        ),
    )
    op.create_index("ix_report_period_start", "report", ["period_start"])


def downgrade() -> None:
    op.drop_index("ix_report_period_start", table_name="report")
    op.drop_table("report")
