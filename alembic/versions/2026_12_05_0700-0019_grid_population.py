"""A grid's resident population (常住人口), for the complaints per 10,000 residents (投诉率): imported with
the grids or on its own; a parent without one counts the sum of its children's (docs/DOMAIN.md section 8).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("grid", sa.Column("population", sa.Integer(), nullable=True))
    op.create_check_constraint(op.f("ck_grid_population"), "grid", "population >= 0")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_grid_population"), "grid", type_="check")
    op.drop_column("grid", "population")
