"""Tile speed: the instant a case's light turns yellow, the zoom-17 Web Mercator cell of each case, and the
case summary by cell, state and street (``case_cell``) that triggers keep up to date.

The yellow instants of existing cases are computed in Python with the work calendar of the settings (SQL
cannot run it), with the change triggers off: the instant is derived from what the case already holds, so
no case changes and no client needs to sync it again.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from server.types import LTree

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The zoom-17 tile of a case (x from the west, y from the north): as server.case.models.CELL_X / CELL_Y.
CELL_SIZE = "(40075016.68557849 / 131072)"  # metres: the world's width over 2^17
CELL_X = f"floor((ST_X(ST_Transform(location, 3857)) + 20037508.342789244) / {CELL_SIZE})::integer"
CELL_Y = f"floor((20037508.342789244 - ST_Y(ST_Transform(location, 3857))) / {CELL_SIZE})::integer"
CHANGE_TRIGGERS = ("case_file_touch", "case_file_notify")

# case_cell_source is the summary computed from the cases (the grid path cut to 3 levels, as
# server.tiles.models.CELL_PATH_DEPTH); the trigger recomputes the rows of the keys a write leaves and
# enters, under a transaction-scoped advisory lock per key taken in key order, so two transactions
# writing cases of one key recompute it one after the other, each seeing the other's committed cases (and
# the key order keeps two of them from waiting on each other).
SUMMARY_SQL = [
    """
    CREATE VIEW case_cell_source AS
    SELECT cell_x, cell_y, state, subpath(grid_path, 0, least(nlevel(grid_path), 3)) AS grid_path,
           count(*)::integer AS count,
           sum(ST_X(ST_Transform(location, 3857))) AS sum_x,
           sum(ST_Y(ST_Transform(location, 3857))) AS sum_y,
           min(step_due_at) AS min_due_at,
           min(step_yellow_at) AS min_yellow_at
    FROM case_file
    GROUP BY 1, 2, 3, 4
    """,
    """
    CREATE FUNCTION case_file_cells() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        k record;
    BEGIN
        IF TG_OP = 'UPDATE' AND (OLD.location, OLD.state, OLD.grid_path, OLD.step_due_at, OLD.step_yellow_at)
            IS NOT DISTINCT FROM (NEW.location, NEW.state, NEW.grid_path, NEW.step_due_at, NEW.step_yellow_at)
        THEN
            RETURN NULL;
        END IF;
        FOR k IN
            SELECT DISTINCT r.x, r.y, r.s, subpath(r.p, 0, least(nlevel(r.p), 3)) AS p
            FROM (VALUES (OLD.cell_x, OLD.cell_y, OLD.state, OLD.grid_path),
                         (NEW.cell_x, NEW.cell_y, NEW.state, NEW.grid_path)) AS r(x, y, s, p)
            WHERE r.s IS NOT NULL
            ORDER BY 1, 2, 3, 4
        LOOP
            PERFORM pg_advisory_xact_lock(7472661, hashtext(concat_ws(' ', k.x, k.y, k.s, k.p)));
            DELETE FROM case_cell WHERE cell_x = k.x AND cell_y = k.y AND state = k.s AND grid_path = k.p;
            INSERT INTO case_cell
            SELECT * FROM case_cell_source
            WHERE cell_x = k.x AND cell_y = k.y AND state = k.s AND grid_path = k.p;
        END LOOP;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER case_file_cells AFTER INSERT OR UPDATE OR DELETE ON case_file
        FOR EACH ROW EXECUTE FUNCTION case_file_cells()
    """,
]


def _backfill_yellow() -> None:
    """Each running clock's yellow instant, from its due instant and limit."""
    from server.config import get_settings
    from server.worktime.calendar import load_calendar

    settings = get_settings()
    cal = load_calendar(settings)
    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT id, step_due_at, step_limit_min FROM case_file WHERE step_due_at IS NOT NULL")
    ).all()
    values = [
        {"id": id, "yellow": cal.subtract(due, settings.yellow_fraction * (limit or 0))}
        for id, due, limit in rows
    ]
    if values:
        conn.execute(sa.text("UPDATE case_file SET step_yellow_at = :yellow WHERE id = :id"), values)


def upgrade() -> None:
    op.add_column("case_file", sa.Column("step_yellow_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("case_file", sa.Column("cell_x", sa.Integer(), sa.Computed(CELL_X, persisted=True)))
    op.add_column("case_file", sa.Column("cell_y", sa.Integer(), sa.Computed(CELL_Y, persisted=True)))
    op.create_index("ix_case_file_cell_x_cell_y_state", "case_file", ["cell_x", "cell_y", "state"])
    for trigger in CHANGE_TRIGGERS:
        op.execute(f"ALTER TABLE case_file DISABLE TRIGGER {trigger}")
    _backfill_yellow()
    for trigger in CHANGE_TRIGGERS:
        op.execute(f"ALTER TABLE case_file ENABLE TRIGGER {trigger}")

    op.create_table(
        "case_cell",
        sa.Column("cell_x", sa.Integer(), nullable=False),
        sa.Column("cell_y", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("grid_path", LTree(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("sum_x", sa.Float(), nullable=False),
        sa.Column("sum_y", sa.Float(), nullable=False),
        sa.Column("min_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("min_yellow_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("cell_x", "cell_y", "state", "grid_path", name="pk_case_cell"),
    )
    for statement in SUMMARY_SQL:
        op.execute(statement)
    op.execute("INSERT INTO case_cell SELECT * FROM case_cell_source")


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS case_file_cells ON case_file")
    op.execute("DROP FUNCTION IF EXISTS case_file_cells()")
    op.execute("DROP VIEW IF EXISTS case_cell_source")
    op.drop_table("case_cell")
    op.drop_index("ix_case_file_cell_x_cell_y_state", table_name="case_file")
    op.drop_column("case_file", "cell_y")
    op.drop_column("case_file", "cell_x")
    op.drop_column("case_file", "step_yellow_at")
