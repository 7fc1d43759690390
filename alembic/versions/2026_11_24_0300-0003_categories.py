"""Departments, the category taxonomy, district overrides, tags.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "department",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("phone", sa.String(20), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_department"),
        sa.UniqueConstraint("code", name="uq_department_code"),
    )
    op.create_table(
        "category",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("code", sa.String(6), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("major_code", sa.String(2), nullable=False),
        sa.Column("major_name", sa.String(100), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("urgency", sa.String(10), nullable=False),
        sa.Column("handling_limit", sa.String(12), nullable=False),
        sa.Column("department_id", sa.BigInteger(), nullable=True),
        sa.Column("legal_basis", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("code ~ '^[CE][0-9]{5}$'", name="ck_category_code_format"),
        sa.CheckConstraint(
            "(kind = 'component' AND code LIKE 'C%') OR (kind = 'event' AND code LIKE 'E%')",
            name="ck_category_kind",
        ),
        sa.CheckConstraint("major_code = substr(code, 2, 2)", name="ck_category_major_code"),
        sa.CheckConstraint("urgency IN ('urgent', 'important', 'normal')", name="ck_category_urgency"),
        sa.CheckConstraint(r"handling_limit ~ '^[0-9]+(\.[0-9]+)?[mhd]$'", name="ck_category_handling_limit"),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name="fk_category_department_id_department",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_category"),
        sa.UniqueConstraint("code", name="uq_category_code"),
    )
    op.create_table(
        "category_district_department",
        sa.Column("category_id", sa.BigInteger(), nullable=False),
        sa.Column("district_code", sa.String(6), nullable=False),
        sa.Column("department_id", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "district_code ~ '^[0-9]{6}$'", name="ck_category_district_department_district_code"
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["category.id"],
            name="fk_category_district_department_category_id_category",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name="fk_category_district_department_department_id_department",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("category_id", "district_code", name="pk_category_district_department"),
    )
    op.create_table(
        "tag",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tag"),
        sa.UniqueConstraint("code", name="uq_tag_code"),
    )


def downgrade() -> None:
    op.drop_table("tag")
    op.drop_table("category_district_department")
    op.drop_table("category")
    op.drop_table("department")
