"""Grid layers (网格图层): several grid hierarchies over one city (城市管理网格, 生态环境网格, 责任网格 ...).

The administrative grids (settings.shared_levels) are shared and have no layer; every other grid belongs
to one layer. The lookup index (grid_part) is kept per layer where the layers differ: the parts of a
layer's own grid, and of a shared grid with own grids of some layer under it, carry the layer; the parts of
the other shared grids (the same in every layer) have none. Assignments carry their layer (one head per
grid and layer); a case records the grid of every other layer holding its point (case_layer_grid); a
category may name the layer whose people are responsible for its cases (NULL: the default layer). Existing
unit grids, their parents' parts and the assignments go to the seeded default layer 城市管理网格, which
owns the levels of level_scheme after the shared ones.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from server.config import get_settings
from server.types import LTree

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_LAYER = "urban"


# The case-change notification (migration 0004) also names the case's grids in the other layers, so the
# event stream reaches the people assigned there (server.case.scope.sees_notification). An AFTER trigger
# sees the rows the same statement wrote, so a new case's layer grids are in its first notification.
NOTIFY_SQL = """
    CREATE OR REPLACE FUNCTION case_file_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('case_change', json_build_object(
            'id', NEW.id, 'code', NEW.code, 'state', NEW.state, 'version', NEW.version,
            'seq', NEW.change_seq, 'grid_path', NEW.grid_path::text,
            'reporter_id', NEW.reporter_id, 'task_assignee_id', NEW.task_assignee_id,
            'departments', (SELECT coalesce(json_agg(DISTINCT d.department_id), '[]'::json)
                            FROM case_dispatch d WHERE d.case_id = NEW.id){layer_paths}
        )::text);
        RETURN NULL;
    END $$
"""
LAYER_PATHS = """,
            'layer_paths', (SELECT coalesce(json_agg(g.grid_path::text), '[]'::json)
                            FROM case_layer_grid g WHERE g.case_id = NEW.id)"""


def upgrade() -> None:
    settings = get_settings()
    shared = {name.strip() for name in settings.shared_levels.split(",")}
    own = [
        item.strip() for item in settings.level_scheme.split(",") if item.split(":")[0].strip() not in shared
    ]
    op.create_table(
        "grid_layer",
        sa.Column("code", sa.String(20), nullable=False),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("description", sa.String(200), server_default="", nullable=False),
        sa.Column("levels", sa.String(200), nullable=False),
        sa.Column("position", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("is_default", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("code ~ '^[a-z][a-z0-9_]*$'", name=op.f("ck_grid_layer_code")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_grid_layer")),
        sa.UniqueConstraint("name", name=op.f("uq_grid_layer_name")),
    )
    op.create_index(
        "uq_grid_layer_default",
        "grid_layer",
        ["is_default"],
        unique=True,
        postgresql_where=sa.text("is_default"),
    )
    op.execute(
        sa.text(
            "INSERT INTO grid_layer (code, name, levels, position, is_default) "
            "VALUES (:code, '城市管理网格', :levels, 0, true)"
        ).bindparams(code=DEFAULT_LAYER, levels=",".join(own))
    )

    op.add_column("grid", sa.Column("layer", sa.String(20), nullable=True))
    op.create_foreign_key(
        op.f("fk_grid_layer_grid_layer"), "grid", "grid_layer", ["layer"], ["code"], ondelete="RESTRICT"
    )
    op.create_index("ix_grid_layer_current", "grid", ["layer"], postgresql_where=sa.text("valid_to IS NULL"))
    if own:
        op.execute(
            sa.text("UPDATE grid SET layer = :code WHERE level = ANY(:levels)").bindparams(
                code=DEFAULT_LAYER, levels=[item.split(":")[0] for item in own]
            )
        )

    op.add_column("grid_part", sa.Column("layer", sa.String(20), nullable=True))
    op.execute(
        sa.text(
            """
            UPDATE grid_part p SET layer = :code FROM grid g
            WHERE g.id = p.grid_id AND (g.layer IS NOT NULL OR EXISTS (
                SELECT 1 FROM grid c
                WHERE c.valid_to IS NULL AND c.parent_code = g.code AND c.layer IS NOT NULL
            ))
            """
        ).bindparams(code=DEFAULT_LAYER)
    )
    op.create_foreign_key(
        op.f("fk_grid_part_layer_grid_layer"),
        "grid_part",
        "grid_layer",
        ["layer"],
        ["code"],
        ondelete="CASCADE",
    )

    op.add_column("grid_assignment", sa.Column("layer", sa.String(20), nullable=True))
    op.execute(sa.text("UPDATE grid_assignment SET layer = :code").bindparams(code=DEFAULT_LAYER))
    op.alter_column("grid_assignment", "layer", nullable=False)
    op.create_foreign_key(
        op.f("fk_grid_assignment_layer_grid_layer"),
        "grid_assignment",
        "grid_layer",
        ["layer"],
        ["code"],
        ondelete="RESTRICT",
    )
    op.drop_index("uq_grid_assignment_one_head", table_name="grid_assignment")
    op.create_index(
        "uq_grid_assignment_one_head",
        "grid_assignment",
        ["layer", "grid_code"],
        unique=True,
        postgresql_where=sa.text("role = 'head' AND ends_on IS NULL"),
    )

    op.create_table(
        "case_layer_grid",
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("layer", sa.String(20), nullable=False),
        sa.Column("grid_id", sa.BigInteger(), nullable=False),
        sa.Column("grid_code", sa.String(15), nullable=False),
        sa.Column("grid_path", LTree(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_file.id"],
            name=op.f("fk_case_layer_grid_case_id_case_file"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["layer"],
            ["grid_layer.code"],
            name=op.f("fk_case_layer_grid_layer_grid_layer"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grid.id"], name=op.f("fk_case_layer_grid_grid_id_grid"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("case_id", "layer", name=op.f("pk_case_layer_grid")),
    )
    op.create_index("ix_case_layer_grid_grid_path", "case_layer_grid", ["grid_path"], postgresql_using="gist")

    op.execute(NOTIFY_SQL.replace("{layer_paths}", LAYER_PATHS))

    op.add_column("category", sa.Column("layer", sa.String(20), nullable=True))
    op.create_foreign_key(
        op.f("fk_category_layer_grid_layer"),
        "category",
        "grid_layer",
        ["layer"],
        ["code"],
        ondelete="RESTRICT",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("fk_category_layer_grid_layer"), "category", type_="foreignkey")
    op.drop_column("category", "layer")
    op.execute(NOTIFY_SQL.replace("{layer_paths}", ""))
    op.drop_table("case_layer_grid")
    op.drop_index("uq_grid_assignment_one_head", table_name="grid_assignment")
    op.execute(sa.text("DELETE FROM grid_assignment WHERE layer <> :code").bindparams(code=DEFAULT_LAYER))
    op.drop_column("grid_assignment", "layer")
    op.create_index(
        "uq_grid_assignment_one_head",
        "grid_assignment",
        ["grid_code"],
        unique=True,
        postgresql_where=sa.text("role = 'head' AND ends_on IS NULL"),
    )
    op.execute(sa.text("DELETE FROM grid_part WHERE layer <> :code").bindparams(code=DEFAULT_LAYER))
    op.drop_column("grid_part", "layer")
    op.execute(
        sa.text("DELETE FROM grid WHERE layer IS NOT NULL AND layer <> :code").bindparams(code=DEFAULT_LAYER)
    )
    op.drop_index("ix_grid_layer_current", table_name="grid")
    op.drop_column("grid", "layer")
    op.drop_table("grid_layer")
