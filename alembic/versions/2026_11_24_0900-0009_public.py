"""The public pages: reports made there (reporter token hash, address and phone for throttling, spam flag)
and the reporters' ratings of closed cases.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ASPECTS = ("speed", "result", "attitude", "system")


def upgrade() -> None:
    op.create_table(
        "public_report",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("phone", sa.String(20), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("spam_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_public_report"),
        sa.UniqueConstraint("case_id", name="uq_public_report_case_id"),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case_file.id"], name="fk_public_report_case_id_case_file", ondelete="RESTRICT"
        ),
    )
    op.create_index("ix_public_report_ip_reported_at", "public_report", ["ip", "reported_at"])
    op.create_index("ix_public_report_phone_reported_at", "public_report", ["phone", "reported_at"])
    op.create_table(
        "public_rating",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        *(sa.Column(aspect, sa.SmallInteger(), nullable=False) for aspect in ASPECTS),
        sa.Column("comment", sa.Text(), server_default="", nullable=False),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=False),
        *(sa.CheckConstraint(f"{a} BETWEEN 1 AND 5", name=f"ck_public_rating_{a}") for a in ASPECTS),
        sa.PrimaryKeyConstraint("id", name="pk_public_rating"),
        sa.UniqueConstraint("case_id", name="uq_public_rating_case_id"),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case_file.id"], name="fk_public_rating_case_id_case_file", ondelete="RESTRICT"
        ),
    )


def downgrade() -> None:
    op.drop_table("public_rating")
    op.drop_index("ix_public_report_phone_reported_at", table_name="public_report")
    op.drop_index("ix_public_report_ip_reported_at", table_name="public_report")
    op.drop_table("public_report")
