"""An assignment handed over on its first day ends the day before it starts: it was never in force.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 15:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint("ck_grid_assignment_period", "grid_assignment", type_="check")
    op.create_check_constraint(
        "ck_grid_assignment_period", "grid_assignment", "ends_on IS NULL OR ends_on >= starts_on - 1"
    )


def downgrade() -> None:
    # An assignment that was never in force becomes a one-day assignment again, as it was recorded before.
    op.execute("UPDATE grid_assignment SET ends_on = starts_on WHERE ends_on = starts_on - 1")
    op.drop_constraint("ck_grid_assignment_period", "grid_assignment", type_="check")
    op.create_check_constraint(
        "ck_grid_assignment_period", "grid_assignment", "ends_on IS NULL OR ends_on >= starts_on"
    )
