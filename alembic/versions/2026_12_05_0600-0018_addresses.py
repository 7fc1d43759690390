"""The standard address register (地址库: 门牌, 楼栋 and points of interest), each address linked to the
deepest grid holding it, searched through its character bigrams (as the desk's case search,
server/case/search.py) and found near a point through a GiST index; and on each case the register address
nearest to its point.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What an address is searched by: its name (a building's or a place's), its full text, its parts and its
# aliases, one normalised document (the case search's spelling), every pair of neighbouring characters once.
DOC_FUNCTION = """
CREATE FUNCTION address_search_doc(parts text[]) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN case_search_norm(array_to_string(parts, ' '))
"""
DOC = (
    "address_search_doc(ARRAY[name, address_text, district, street, community, road, house_number, building, "
    "unit]::text[] || aliases::text[])"
)
GRAMS = """
CREATE FUNCTION address_search_grams(doc text) RETURNS text[]
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    chars text[] := string_to_array(doc, NULL);
    grams text[] := '{}';
BEGIN
    FOR i IN 1 .. cardinality(chars) - 1 LOOP
        IF chars[i] <> ' ' AND chars[i + 1] <> ' ' THEN
            grams := grams || (chars[i] || chars[i + 1]);
        END IF;
    END LOOP;
    RETURN ARRAY(SELECT DISTINCT gram FROM unnest(grams) AS gram ORDER BY gram);
END
$$
"""


def upgrade() -> None:
    op.execute(DOC_FUNCTION)
    op.execute(GRAMS)
    op.execute("CREATE SEQUENCE address_change_seq")
    op.create_table(
        "address",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("register_id", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(100)),
        sa.Column("address_text", sa.Text(), nullable=False),
        sa.Column("district", sa.String(50)),
        sa.Column("street", sa.String(50)),
        sa.Column("community", sa.String(50)),
        sa.Column("road", sa.String(50)),
        sa.Column("house_number", sa.String(30)),
        sa.Column("building", sa.String(50)),
        sa.Column("unit", sa.String(30)),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("aliases", postgresql.ARRAY(sa.String(100)), nullable=False, server_default="{}"),
        sa.Column("approximate", sa.Boolean(), nullable=False, server_default="false"),
        sa.Column("geom", Geometry("POINT", srid=4326, spatial_index=False), nullable=False),
        sa.Column("grid_code", sa.String(15)),
        sa.Column("doc", sa.Text(), sa.Computed(DOC, persisted=True)),
        sa.Column(
            "search_grams",
            postgresql.ARRAY(sa.Text()),
            sa.Computed(f"address_search_grams({DOC})", persisted=True),
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        # the order of changes, which the phone's copy follows
        sa.Column(
            "change_seq",
            sa.BigInteger(),
            nullable=False,
            server_default=sa.text("nextval('address_change_seq')"),
        ),
        sa.CheckConstraint("kind IN ('house', 'building', 'poi')", name="kind"),
    )
    op.create_index("ix_address_geom", "address", ["geom"], postgresql_using="gist")
    op.create_index("ix_address_search_grams", "address", ["search_grams"], postgresql_using="gin")
    op.create_index("ix_address_grid_code", "address", ["grid_code"])
    op.create_index("ix_address_change_seq", "address", ["change_seq"])
    op.add_column(
        "case_file",
        sa.Column("address_id", sa.BigInteger(), sa.ForeignKey("address.id", ondelete="SET NULL")),
    )
    op.add_column("case_file", sa.Column("address_distance_m", sa.Float()))
    op.create_index("ix_case_file_address_id", "case_file", ["address_id"])


def downgrade() -> None:
    op.drop_index("ix_case_file_address_id", table_name="case_file")
    op.drop_column("case_file", "address_distance_m")
    op.drop_column("case_file", "address_id")
    op.drop_table("address")
    op.execute("DROP SEQUENCE address_change_seq")
    op.execute("DROP FUNCTION address_search_grams(text)")
    op.execute("DROP FUNCTION address_search_doc(text[])")
