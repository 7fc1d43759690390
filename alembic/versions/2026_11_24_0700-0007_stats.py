"""Dashboard summaries: the cohort's counts by area, day and department, cases received by category and by
hour, and per inspector and day; statement-level triggers on ``case_file`` (insert, update, delete) and
``case_event`` (insert) add each write's delta in the writing transaction; filled from the existing rows.

The roll-ups and the trigger functions come from ``server.stats.sql``, the one definition of the measures
(``gridops stats rebuild`` renews the functions from it). Like every trigger, these stay off under
``session_replication_role = replica`` (bulk loads): rebuild after such a load.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from server.types import LTree

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _counts(*names: str) -> list[sa.Column]:
    return [sa.Column(n, sa.Integer(), server_default="0", nullable=False) for n in names]


def _area_keys() -> list[sa.Column]:
    return [
        sa.Column("path", LTree(), nullable=False),
        sa.Column("depth", sa.SmallInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "stats_area_day",
        *_area_keys(),
        sa.Column("department_id", sa.BigInteger(), nullable=False),
        *_counts(
            "received", "due", "closed", "closed_on_time", "handled_on_time", "reworked", "due_by_others"
        ),
        sa.PrimaryKeyConstraint("path", "depth", "day", "department_id", name="pk_stats_area_day"),
    )
    op.create_index(
        "ix_stats_area_day_depth_department_id_day", "stats_area_day", ["depth", "department_id", "day"]
    )
    op.create_table(
        "stats_category_day",
        *_area_keys(),
        sa.Column("category_id", sa.BigInteger(), nullable=False),
        sa.Column("department_id", sa.BigInteger(), nullable=False),
        *_counts("received"),
        sa.PrimaryKeyConstraint(
            "path", "depth", "day", "category_id", "department_id", name="pk_stats_category_day"
        ),
    )
    op.create_table(
        "stats_hour_day",
        *_area_keys(),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        sa.Column("department_id", sa.BigInteger(), nullable=False),
        *_counts("received"),
        sa.PrimaryKeyConstraint("path", "depth", "day", "hour", "department_id", name="pk_stats_hour_day"),
    )
    op.create_table(
        "stats_inspector_day",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *_counts("reported", "valid", "verifications", "verifications_on_time", "checks", "checks_on_time"),
        sa.PrimaryKeyConstraint("user_id", "day", name="pk_stats_inspector_day"),
    )
    # The triggers that keep the tables, and their first fill, come with the last change of the tables'
    # shape (migration 0028): they are written by today's code (server.stats.sql), for today's columns.


def downgrade() -> None:
    from server.stats import sql

    for statement in sql.drop_sql():
        op.execute(statement)
    for table in ("stats_inspector_day", "stats_hour_day", "stats_category_day", "stats_area_day"):
        op.drop_table(table)
