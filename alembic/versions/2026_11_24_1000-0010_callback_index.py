"""An index on the call-back events: the three rates read each case's latest call-back among tens of
millions of events.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 08:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_case_event_callback", "case_event", ["case_id", "id"], postgresql_where="action = 'callback'"
    )


def downgrade() -> None:
    op.drop_index("ix_case_event_callback", table_name="case_event")
