"""The register of pollution sources (污染源台账) the environmental grid keeps: each source with the
register's own code (re-imports update by it), a kind from a fixed list, an address, a point (GiST index,
for the map's box and the cases near a source) and the grid member responsible for it.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from geoalchemy2 import Geometry

from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("air", "water", "dust", "fume", "noise", "solid")


def upgrade() -> None:
    op.create_table(
        "pollution_source",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("geom", Geometry("POINT", srid=4326, spatial_index=False), nullable=False),
        sa.Column("responsible_id", sa.BigInteger(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "kind IN (" + ", ".join(f"'{k}'" for k in KINDS) + ")", name=op.f("ck_pollution_source_kind")
        ),
        sa.ForeignKeyConstraint(
            ["responsible_id"],
            ["app_user.id"],
            name=op.f("fk_pollution_source_responsible_id_app_user"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pollution_source")),
        sa.UniqueConstraint("code", name=op.f("uq_pollution_source_code")),
    )
    op.create_index("ix_pollution_source_geom", "pollution_source", ["geom"], postgresql_using="gist")
    op.create_index("ix_pollution_source_responsible_id", "pollution_source", ["responsible_id"])


def downgrade() -> None:
    op.drop_index("ix_pollution_source_responsible_id", table_name="pollution_source")
    op.drop_index("ix_pollution_source_geom", table_name="pollution_source")
    op.drop_table("pollution_source")
