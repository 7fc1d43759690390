"""Warnings (预警) with a life (issue 19, section 2): raised from a detection signal (突增高频 or 长期高频) on
an area x category, seen by the command center, turned into a numbered reminder letter (提醒函) to the
responsible street or department, acknowledged by it with a reply, closed with a reason; the trail of
these events, and the per-year counter numbering the letters.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op
from server.types import LTree

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


USERS = ("seen_by", "letter_sent_by", "acknowledged_by", "closed_by")


def upgrade() -> None:
    op.create_table(
        "warning",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("area_code", sa.String(length=15), nullable=False),
        sa.Column("area_path", LTree(), nullable=False),
        sa.Column("area_name", sa.String(length=100), nullable=False),
        sa.Column("category_id", sa.BigInteger(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("observed", sa.Integer(), nullable=False),
        sa.Column("expected", sa.Float(), nullable=False),
        sa.Column("p_value", sa.Float(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signalled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resignalled", sa.Integer(), server_default="0", nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seen_by", sa.BigInteger(), nullable=True),
        sa.Column("addressee_kind", sa.String(length=12), nullable=True),
        sa.Column("addressee_grid_code", sa.String(length=15), nullable=True),
        sa.Column("addressee_department_id", sa.BigInteger(), nullable=True),
        sa.Column("addressee_name", sa.String(length=100), nullable=True),
        sa.Column("letter_year", sa.SmallInteger(), nullable=True),
        sa.Column("letter_seq", sa.Integer(), nullable=True),
        sa.Column("letter_number", sa.String(length=40), nullable=True),
        sa.Column("letter_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("letter_sent_by", sa.BigInteger(), nullable=True),
        sa.Column("letter_due_on", sa.Date(), nullable=True),
        sa.Column("letter_html", sa.Text(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.BigInteger(), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.BigInteger(), nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"], ["category.id"], name="fk_warning_category_id_category", ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["addressee_department_id"],
            ["department.id"],
            name="fk_warning_addressee_department_id_department",
            ondelete="RESTRICT",
        ),
        *(
            sa.ForeignKeyConstraint(
                [user], ["app_user.id"], name=f"fk_warning_{user}_app_user", ondelete="RESTRICT"
            )
            for user in USERS
        ),
        sa.CheckConstraint("kind IN ('surge', 'persistent')", name="ck_warning_kind"),
        sa.CheckConstraint(
            "state IN ('raised', 'seen', 'letter', 'acknowledged', 'closed')", name="ck_warning_state"
        ),
        sa.CheckConstraint("addressee_kind IN ('street', 'department')", name="ck_warning_addressee_kind"),
        sa.PrimaryKeyConstraint("id", name="pk_warning"),
        sa.UniqueConstraint("letter_number", name="uq_warning_letter_number"),
    )
    op.create_index(
        "uq_warning_open",
        "warning",
        ["kind", "area_code", "category_id"],
        unique=True,
        postgresql_where=sa.text("state <> 'closed'"),
    )
    op.create_index("ix_warning_area_path", "warning", ["area_path"], postgresql_using="gist")
    op.create_index("ix_warning_state", "warning", ["state"])
    op.create_table(
        "warning_event",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("warning_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("actor_name", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("state_before", sa.String(length=12), nullable=True),
        sa.Column("state_after", sa.String(length=12), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.ForeignKeyConstraint(
            ["warning_id"], ["warning.id"], name="fk_warning_event_warning_id_warning", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["app_user.id"], name="fk_warning_event_actor_id_app_user", ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_warning_event"),
    )
    op.create_index("ix_warning_event_warning_id_at", "warning_event", ["warning_id", "at"])
    op.create_table(
        "warning_letter_counter",
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name="pk_warning_letter_counter"),
    )


def downgrade() -> None:
    op.drop_table("warning_letter_counter")
    op.drop_index("ix_warning_event_warning_id_at", table_name="warning_event")
    op.drop_table("warning_event")
    op.drop_index("ix_warning_state", table_name="warning")
    op.drop_index("ix_warning_area_path", table_name="warning")
    op.drop_index("uq_warning_open", table_name="warning")
    op.drop_table("warning")
