"""Triage: the city's trained models (``triage_model``, versioned, one in use per city) and the knowledge
base's answer templates (``answer_template``), both city-owned under the cities' policy.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POLICY = "city_id = ANY ((SELECT gridops_cities())::smallint[])"  # as migration 0028 sets it
TABLES = ("triage_model", "answer_template")


def _city() -> sa.Column:
    return sa.Column("city_id", sa.SmallInteger(), server_default=sa.text("gridops_city()"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "triage_model",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("trained_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("trained_by", sa.String(length=100), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("categories", sa.Integer(), nullable=False),
        sa.Column("features", sa.Integer(), nullable=False),
        sa.Column("metrics", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("model", sa.LargeBinary(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        _city(),
        sa.ForeignKeyConstraint(
            ["city_id"], ["city.id"], name=op.f("fk_triage_model_city_id_city"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triage_model")),
        sa.UniqueConstraint("city_id", "version", name=op.f("uq_triage_model_city_id_version")),
    )
    op.create_index(
        "uq_triage_model_active", "triage_model", ["city_id"], unique=True, postgresql_where=sa.text("active")
    )
    op.create_table(
        "answer_template",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("question", sa.Text(), server_default="", nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("category_id", sa.BigInteger(), nullable=True),
        sa.Column("request_type", sa.String(length=12), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("use_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        _city(),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["category.id"],
            name=op.f("fk_answer_template_category_id_category"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["request_type"],
            ["request_type.code"],
            name=op.f("fk_answer_template_request_type_request_type"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["city_id"], ["city.id"], name=op.f("fk_answer_template_city_id_city"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answer_template")),
    )
    op.create_index("ix_answer_template_category_id", "answer_template", ["category_id"])
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY city_rows ON {table} USING ({POLICY})")


def downgrade() -> None:
    op.drop_index("ix_answer_template_category_id", table_name="answer_template")
    op.drop_table("answer_template")
    op.drop_index("uq_triage_model_active", table_name="triage_model")
    op.drop_table("triage_model")
