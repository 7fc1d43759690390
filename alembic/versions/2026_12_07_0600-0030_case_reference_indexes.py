"""Indexes on the case columns that name another case (a duplicate's master, the case a repeat complaint
repeats, the case a merged one joined), for the few rows that have one: deleting a case checks that no
case names it, and without them each check read the whole table (replacing the demo's two-year history
deleted 180,000 cases at a full scan each).

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("duplicate_of_id", "repeat_of_id", "merged_into_id")


def upgrade() -> None:
    for column in COLUMNS:
        op.create_index(
            f"ix_case_file_{column}", "case_file", [column], postgresql_where=sa.text(f"{column} IS NOT NULL")
        )


def downgrade() -> None:
    for column in COLUMNS:
        op.drop_index(f"ix_case_file_{column}", table_name="case_file")
