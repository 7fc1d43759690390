"""Category tree (issue 20): categories become the nodes of a tree of configurable depth. The major classes
(category.major_code / major_name) become the top nodes, coded kind letter + major code (E06), and the
existing categories their children, keeping their ids (cases refer to them). The code's fixed form gives way
to a pattern in the settings, checked by the loader; ``own`` keeps what a node sets itself, the other columns
the effective values inherited down the tree. The downgrade needs a tree of at most two levels.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_CHECKS = {
    "code_format": "code ~ '^[CE][0-9]{5}$'",
    "kind": "(kind = 'component' AND code LIKE 'C%') OR (kind = 'event' AND code LIKE 'E%')",
    "major_code": "major_code = substr(code, 2, 2)",
}


def upgrade() -> None:
    # The names 0003 gave its constraints (the naming convention prefixed them once more).
    for name in OLD_CHECKS:
        op.drop_constraint(op.f(f"ck_category_ck_category_{name}"), "category")
    op.alter_column("category", "code", type_=sa.String(40))
    op.alter_column("category", "urgency", nullable=True)
    op.alter_column("category", "handling_limit", nullable=True)
    op.add_column("category", sa.Column("parent_id", sa.BigInteger(), nullable=True))
    op.add_column(
        "category",
        sa.Column("lineage", postgresql.ARRAY(sa.String(40)), server_default="{}", nullable=False),
    )
    op.add_column(
        "category",
        sa.Column("trail", postgresql.ARRAY(sa.String(100)), server_default="{}", nullable=False),
    )
    op.add_column("category", sa.Column("leaf", sa.Boolean(), server_default=sa.true(), nullable=False))
    op.add_column(
        "category", sa.Column("own", postgresql.JSONB(), server_default=sa.text("'{}'"), nullable=False)
    )
    op.create_foreign_key(
        op.f("fk_category_parent_id_category"),
        "category",
        "category",
        ["parent_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.create_index(op.f("ix_category_parent_id"), "category", ["parent_id"])
    # What each existing category sets itself: everything (there was nothing to inherit from).
    op.execute(
        """
        UPDATE category c SET own = jsonb_strip_nulls(jsonb_build_object(
            'urgency', c.urgency, 'handling_limit', c.handling_limit, 'clock', c.clock,
            'department', (SELECT d.code FROM department d WHERE d.id = c.department_id),
            'legal_basis', c.legal_basis, 'simple_flow', CASE WHEN c.simple_flow THEN true END,
            'district_overrides', (SELECT jsonb_object_agg(o.district_code, d.code)
                                   FROM category_district_department o
                                   JOIN department d ON d.id = o.department_id
                                   WHERE o.category_id = c.id),
            'request_limits', (SELECT jsonb_object_agg(r.request_type, r.handling_limit)
                               FROM category_request_limit r WHERE r.category_id = c.id)))
        """
    )
    # The major classes become the top nodes, active while one of their categories is.
    op.execute(
        """
        INSERT INTO category (code, kind, major_code, major_name, name, leaf, active)
        SELECT left(min(code), 1) || major_code, kind, major_code, min(major_name), min(major_name), false,
               bool_or(active)
        FROM category GROUP BY kind, major_code
        """
    )
    op.execute(
        """
        UPDATE category c SET parent_id = t.id, lineage = ARRAY[t.code], trail = ARRAY[t.name],
            updated_at = now()  -- the phones' next sync (since=) fetches them in their new shape
        FROM category t
        WHERE t.code = left(c.code, 1) || c.major_code AND c.id <> t.id
        """
    )
    op.drop_column("category", "major_code")
    op.drop_column("category", "major_name")
    op.create_check_constraint(op.f("ck_category_kind"), "category", "kind IN ('component', 'event')")
    op.create_check_constraint(
        op.f("ck_category_lineage"), "category", "(parent_id IS NULL) = (cardinality(lineage) = 0)"
    )


def downgrade() -> None:
    deep = op.get_bind().scalar(sa.text("SELECT count(*) FROM category WHERE cardinality(lineage) > 1"))
    if deep:
        raise RuntimeError(
            f"{deep} 个问题类别在第三层或更深：旧版本只有大类和小类两层，请先载入两层的分类文件再降级"
        )
    op.drop_constraint(op.f("ck_category_lineage"), "category")
    op.drop_constraint(op.f("ck_category_kind"), "category")
    op.add_column("category", sa.Column("major_code", sa.String(2), nullable=True))
    op.add_column("category", sa.Column("major_name", sa.String(100), nullable=True))
    op.execute(
        """
        UPDATE category c SET major_code = substr(t.code, 2, 2), major_name = t.name
        FROM category t WHERE t.id = c.parent_id
        """
    )
    op.drop_index(op.f("ix_category_parent_id"), "category")
    op.drop_constraint(op.f("fk_category_parent_id_category"), "category")
    op.execute("DELETE FROM category WHERE major_code IS NULL")  # the top nodes
    for column in ("parent_id", "lineage", "trail", "leaf", "own"):
        op.drop_column("category", column)
    op.alter_column("category", "major_code", nullable=False)
    op.alter_column("category", "major_name", nullable=False)
    op.alter_column("category", "urgency", nullable=False)
    op.alter_column("category", "handling_limit", nullable=False)
    op.alter_column("category", "code", type_=sa.String(6))
    for name, condition in OLD_CHECKS.items():
        op.create_check_constraint(op.f(f"ck_category_ck_category_{name}"), "category", condition)
