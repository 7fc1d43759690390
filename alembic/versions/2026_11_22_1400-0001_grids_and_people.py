"""Grids (versioned, ltree path, GiST), users and grid assignments.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 14:00:00
"""

from collections.abc import Sequence

import geoalchemy2
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op
from server.types import LTree

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REQUIRED_EXTENSIONS = ("postgis", "ltree")


def _check_extensions() -> None:
    """Extensions need a superuser: the cluster set-up creates them; here we only check."""
    present = {row[0] for row in op.get_bind().execute(sa.text("SELECT extname FROM pg_extension"))}
    missing = [ext for ext in REQUIRED_EXTENSIONS if ext not in present]
    if missing:
        stmts = " ".join(f"CREATE EXTENSION {ext};" for ext in missing)
        raise RuntimeError(
            f"the database lacks the extension(s) {', '.join(missing)}: "
            f"ask a superuser to run `{stmts}` in it, then migrate again"
        )


def upgrade() -> None:
    _check_extensions()
    op.create_table(
        "app_user",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("username", sa.String(50), nullable=True),
        sa.Column("roles", postgresql.ARRAY(sa.String(20)), server_default="{}", nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_app_user"),
        sa.UniqueConstraint("phone", name="uq_app_user_phone"),
        sa.UniqueConstraint("username", name="uq_app_user_username"),
    )
    op.create_table(
        "grid",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("code", sa.String(15), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("parent_code", sa.String(15), nullable=True),
        sa.Column("path", LTree(), nullable=False),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(geometry_type="MULTIPOLYGON", srid=4326, spatial_index=False),
            nullable=False,
        ),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("code ~ '^[0-9]+$'", name="ck_grid_code_digits"),
        sa.CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="ck_grid_valid_period"),
        sa.PrimaryKeyConstraint("id", name="pk_grid"),
    )
    op.create_index(
        "uq_grid_code_current", "grid", ["code"], unique=True, postgresql_where=sa.text("valid_to IS NULL")
    )
    op.create_index(
        "ix_grid_parent_code_current", "grid", ["parent_code"], postgresql_where=sa.text("valid_to IS NULL")
    )
    op.create_index("ix_grid_geom", "grid", ["geom"], postgresql_using="gist")
    op.create_index("ix_grid_path", "grid", ["path"], postgresql_using="gist")
    op.create_table(
        "grid_part",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("grid_id", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(15), nullable=False),
        sa.Column("depth", sa.SmallInteger(), nullable=False),
        sa.Column("cell_i", sa.Integer(), nullable=False),
        sa.Column("cell_j", sa.Integer(), nullable=False),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(geometry_type="MULTIPOLYGON", srid=4326, spatial_index=False),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grid.id"], name="fk_grid_part_grid_id_grid", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_grid_part"),
    )
    op.create_index("ix_grid_part_cell_i_cell_j", "grid_part", ["cell_i", "cell_j"])
    op.create_index("ix_grid_part_grid_id", "grid_part", ["grid_id"])
    op.create_table(
        "grid_assignment",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("grid_code", sa.String(15), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("starts_on", sa.Date(), server_default=sa.func.current_date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("role IN ('head', 'inspector')", name="ck_grid_assignment_role"),
        sa.CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="ck_grid_assignment_period"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name="fk_grid_assignment_user_id_app_user", ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_grid_assignment"),
    )
    op.create_index(
        "uq_grid_assignment_one_head",
        "grid_assignment",
        ["grid_code"],
        unique=True,
        postgresql_where=sa.text("role = 'head' AND ends_on IS NULL"),
    )
    op.create_index("ix_grid_assignment_grid_code", "grid_assignment", ["grid_code"])
    op.create_index("ix_grid_assignment_user_id", "grid_assignment", ["user_id"])


def downgrade() -> None:
    op.drop_table("grid_assignment")
    op.drop_table("grid_part")
    op.drop_table("grid")
    op.drop_table("app_user")
