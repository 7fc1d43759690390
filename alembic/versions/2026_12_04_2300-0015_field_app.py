"""What the inspectors' app needs of a report and a category: whether a case's position was placed by hand
(``position_source``), and the phrases a category offers for its description (常用语).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("case_file", sa.Column("position_source", sa.String(10), nullable=True))
    op.execute(
        "ALTER TABLE case_file ADD CONSTRAINT ck_case_file_position_source "
        "CHECK (position_source IN ('gps', 'manual'))"
    )
    op.add_column(
        "category",
        sa.Column("phrases", postgresql.ARRAY(sa.String(60)), server_default="{}", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("category", "phrases")
    op.drop_column("case_file", "position_source")
