"""The words people use for a category besides its name (别名): searched by the phone app and the desks.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "category",
        sa.Column("aliases", postgresql.ARRAY(sa.String(20)), server_default="{}", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("category", "aliases")
