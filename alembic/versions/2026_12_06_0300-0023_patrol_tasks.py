"""Proactive patrol tasks (主动巡查任务): the grid head (or the system by a rule on forecasts and warnings)
sends an inspector to patrol a grid, maybe for a kind of problem, over a few days; the patrols inside the
grid count against the task. A case an inspector reports on such a patrol is found proactively (主动发现):
``case_file.patrol_task_id``.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKey:
    """A foreign key named as the models' naming convention names it."""
    referred = target.split(".")[0]
    return sa.ForeignKey(target, ondelete="RESTRICT", name=op.f(f"fk_{table}_{column}_{referred}"))


def upgrade() -> None:
    op.create_table(
        "patrol_task",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("grid_code", sa.String(15), nullable=False),
        sa.Column(
            "category_id", sa.BigInteger(), _fk("patrol_task", "category_id", "category.id"), nullable=True
        ),
        sa.Column(
            "assignee_id", sa.BigInteger(), _fk("patrol_task", "assignee_id", "app_user.id"), nullable=False
        ),
        sa.Column(
            "assigned_by", sa.BigInteger(), _fk("patrol_task", "assigned_by", "app_user.id"), nullable=True
        ),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("state", sa.String(10), server_default="open", nullable=False),
        sa.Column("covered_minutes", sa.Float(), server_default="0", nullable=False),
        sa.Column("covered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("source IN ('manual', 'forecast', 'warning')", name=op.f("ck_patrol_task_source")),
        sa.CheckConstraint("state IN ('open', 'done', 'cancelled')", name=op.f("ck_patrol_task_state")),
        sa.CheckConstraint("ends_on >= starts_on", name=op.f("ck_patrol_task_period")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_task")),
    )
    op.create_index("ix_patrol_task_assignee_id_ends_on", "patrol_task", ["assignee_id", "ends_on"])
    op.create_index("ix_patrol_task_grid_code", "patrol_task", ["grid_code"])
    op.add_column(
        "case_file",
        sa.Column(
            "patrol_task_id",
            sa.BigInteger(),
            _fk("case_file", "patrol_task_id", "patrol_task.id"),
            nullable=True,
        ),
    )
    op.create_index(
        "ix_case_file_patrol_task_id",
        "case_file",
        ["patrol_task_id"],
        postgresql_where=sa.text("patrol_task_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_case_file_patrol_task_id", table_name="case_file")
    op.drop_column("case_file", "patrol_task_id")
    op.drop_table("patrol_task")
