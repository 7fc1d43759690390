"""A real shift in the command center: request types (咨询, 建议, 投诉, 求助, 举报) with their limits and per-
category overrides; clocks on natural or working time; the department's receipt (签收) clock; supervision
(督办 / 催办) as records with levels; the first department (首办); repeat complaints; special reporters and
the audit of every full phone number shown; street sub-centers (two-tier dispatch) and the street teams;
the categories an inspector may fix on the spot (即报即处).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIMIT = r"'^[0-9]+(\.[0-9]+)?[mhd]$'"
CLOCKS = "('work', 'natural')"
CHANGE_TRIGGERS = ("case_file_touch", "case_file_notify")


def _ts(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def _fk(table: str, column: str, target: str, ondelete: str = "RESTRICT") -> sa.ForeignKey:
    """A foreign key named as the models' naming convention names it."""
    referred = target.split(".")[0]
    return sa.ForeignKey(target, ondelete=ondelete, name=op.f(f"fk_{table}_{column}_{referred}"))


def _pk(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(*columns, name=op.f(f"pk_{table}"))


def upgrade() -> None:
    op.create_table(
        "request_type",
        sa.Column("code", sa.String(12), nullable=False),
        sa.Column("name", sa.String(20), nullable=False),
        sa.Column("response_limit", sa.String(12), nullable=True),
        sa.Column("handling_limit", sa.String(12), nullable=True),
        sa.Column("position", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.CheckConstraint(f"response_limit ~ {LIMIT}", name=op.f("ck_request_type_response_limit")),
        sa.CheckConstraint(f"handling_limit ~ {LIMIT}", name=op.f("ck_request_type_handling_limit")),
        _pk("request_type", "code"),
    )
    # Pingshan's three types and Beijing's two more; a taxonomy load replaces the limits with the city's own.
    op.execute(
        "INSERT INTO request_type (code, name, response_limit, handling_limit, position) VALUES "
        "('complaint', '投诉', '1h', '7d', 1), ('consult', '咨询', NULL, '1d', 2), "
        "('suggest', '建议', NULL, '3d', 3), ('help', '求助', '1h', '7d', 4), "
        "('tipoff', '举报', '1h', '7d', 5)"
    )

    op.add_column("category", sa.Column("clock", sa.String(8), nullable=True))
    op.create_check_constraint(op.f("ck_category_clock"), "category", f"clock IN {CLOCKS}")
    op.add_column(
        "category", sa.Column("simple_flow", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.create_table(
        "category_request_limit",
        sa.Column(
            "category_id",
            sa.BigInteger(),
            _fk("category_request_limit", "category_id", "category.id", "CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "request_type",
            sa.String(12),
            _fk("category_request_limit", "request_type", "request_type.code"),
            nullable=False,
        ),
        sa.Column("handling_limit", sa.String(12), nullable=False),
        sa.CheckConstraint(
            f"handling_limit ~ {LIMIT}", name=op.f("ck_category_request_limit_handling_limit")
        ),
        _pk("category_request_limit", "category_id", "request_type"),
    )

    op.add_column("department", sa.Column("grid_code", sa.String(15), nullable=True))
    op.create_table(
        "dispatch_center",
        sa.Column("grid_code", sa.String(15), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        _pk("dispatch_center", "grid_code"),
    )

    op.add_column(
        "case_file",
        sa.Column(
            "request_type",
            sa.String(12),
            _fk("case_file", "request_type", "request_type.code"),
            server_default="complaint",
            nullable=False,
        ),
    )
    op.add_column("case_file", sa.Column("clock", sa.String(8), server_default="work", nullable=False))
    op.create_check_constraint(op.f("ck_case_file_clock"), "case_file", f"clock IN {CLOCKS}")
    op.add_column("case_file", sa.Column("receipt_limit_min", sa.Float(), nullable=True))
    for name in ("receipt_due_at", "receipt_yellow_at", "received_by_department_at"):
        op.add_column("case_file", _ts(name))
    op.add_column("case_file", sa.Column("supervision_level", sa.SmallInteger(), nullable=True))
    op.create_check_constraint(
        op.f("ck_case_file_supervision_level"), "case_file", "supervision_level BETWEEN 1 AND 3"
    )
    op.add_column(
        "case_file",
        sa.Column(
            "first_department_id",
            sa.BigInteger(),
            _fk("case_file", "first_department_id", "department.id"),
            nullable=True,
        ),
    )
    op.add_column(
        "case_file",
        sa.Column(
            "repeat_of_id",
            sa.BigInteger(),
            _fk("case_file", "repeat_of_id", "case_file.id"),
            nullable=True,
        ),
    )
    op.add_column("case_file", sa.Column("dispatch_center", sa.String(15), nullable=True))
    op.create_index(
        "ix_case_file_supervision_level",
        "case_file",
        ["supervision_level"],
        postgresql_where=sa.text("supervision_level IS NOT NULL"),
    )
    op.create_index("ix_case_file_reporter_phone", "case_file", ["reporter_phone"])
    # A backfill is no change a syncing client must fetch: the change triggers stay off meanwhile.
    for trigger in CHANGE_TRIGGERS:
        op.execute(f"ALTER TABLE case_file DISABLE TRIGGER {trigger}")
    op.execute(
        "UPDATE case_file SET first_department_id = d.department_id FROM ("
        " SELECT DISTINCT ON (case_id) case_id, department_id FROM case_dispatch WHERE lead"
        " ORDER BY case_id, dispatched_at, id) d WHERE d.case_id = case_file.id"
    )
    for trigger in CHANGE_TRIGGERS:
        op.execute(f"ALTER TABLE case_file ENABLE TRIGGER {trigger}")

    op.create_table(
        "case_supervision",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column(
            "case_id", sa.BigInteger(), _fk("case_supervision", "case_id", "case_file.id"), nullable=False
        ),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "issuer_id", sa.BigInteger(), _fk("case_supervision", "issuer_id", "app_user.id"), nullable=True
        ),
        sa.Column("issuer_name", sa.String(100), nullable=False),
        sa.Column(
            "department_id",
            sa.BigInteger(),
            _fk("case_supervision", "department_id", "department.id"),
            nullable=True,
        ),
        _ts("new_due_at"),
        _ts("answer_due_at"),
        _ts("acknowledged_at"),
        sa.Column(
            "acknowledged_by",
            sa.BigInteger(),
            _fk("case_supervision", "acknowledged_by", "app_user.id"),
            nullable=True,
        ),
        _ts("answered_at"),
        sa.Column(
            "answered_by",
            sa.BigInteger(),
            _fk("case_supervision", "answered_by", "app_user.id"),
            nullable=True,
        ),
        sa.Column("answer", sa.Text(), nullable=True),
        _ts("closed_at"),
        sa.CheckConstraint("kind IN ('supervise', 'urge')", name=op.f("ck_case_supervision_kind")),
        sa.CheckConstraint("level BETWEEN 1 AND 3", name=op.f("ck_case_supervision_level")),
        _pk("case_supervision", "id"),
    )
    op.create_index("ix_case_supervision_case_id", "case_supervision", ["case_id"])
    op.create_index(
        "ix_case_supervision_open",
        "case_supervision",
        ["department_id"],
        postgresql_where=sa.text("closed_at IS NULL"),
    )

    op.create_table(
        "special_reporter",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.UniqueConstraint("phone", name=op.f("uq_special_reporter_phone")),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('deputy', 'cppcc', 'vulnerable')", name=op.f("ck_special_reporter_kind")
        ),
        _pk("special_reporter", "id"),
    )
    op.create_table(
        "caller_reveal",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column(
            "case_id", sa.BigInteger(), _fk("caller_reveal", "case_id", "case_file.id"), nullable=False
        ),
        sa.Column("user_id", sa.BigInteger(), _fk("caller_reveal", "user_id", "app_user.id"), nullable=False),
        sa.Column("role", sa.String(20), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ip", sa.String(64), nullable=True),
        _pk("caller_reveal", "id"),
    )
    op.create_index("ix_caller_reveal_case_id", "caller_reveal", ["case_id"])


def downgrade() -> None:
    op.drop_table("caller_reveal")
    op.drop_table("special_reporter")
    op.drop_table("case_supervision")
    op.drop_index("ix_case_file_reporter_phone", table_name="case_file")
    op.drop_index("ix_case_file_supervision_level", table_name="case_file")
    for name in (
        "dispatch_center",
        "repeat_of_id",
        "first_department_id",
        "supervision_level",
        "received_by_department_at",
        "receipt_yellow_at",
        "receipt_due_at",
        "receipt_limit_min",
        "clock",
        "request_type",
    ):
        op.drop_column("case_file", name)
    op.drop_table("dispatch_center")
    op.drop_column("department", "grid_code")
    op.drop_table("category_request_limit")
    op.drop_column("category", "simple_flow")
    op.drop_column("category", "clock")
    op.drop_table("request_type")
