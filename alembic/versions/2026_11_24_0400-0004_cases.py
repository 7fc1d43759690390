"""Cases: the case file, dispatches, photos, the append-only audit trail, gap-free daily counters, the
change sequence and notification triggers; the users' department foreign key.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 04:00:00
"""

from collections.abc import Sequence

import geoalchemy2
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op
from server.types import LTree

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = True, **kw) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, **kw)


def _point(name: str, nullable: bool = True) -> sa.Column:
    geometry = geoalchemy2.types.Geometry(geometry_type="POINT", srid=4326, spatial_index=False)
    return sa.Column(name, geometry, nullable=nullable)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete="RESTRICT"
    )


APPEND_ONLY_SQL = [
    """
    CREATE FUNCTION case_event_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the case audit trail is append-only: % on case_event is refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END $$
    """,
    """
    CREATE TRIGGER case_event_append_only BEFORE UPDATE OR DELETE ON case_event
        FOR EACH ROW EXECUTE FUNCTION case_event_refuse_change()
    """,
    """
    CREATE TRIGGER case_event_no_truncate BEFORE TRUNCATE ON case_event
        FOR EACH STATEMENT EXECUTE FUNCTION case_event_refuse_change()
    """,
]

# Every write to a case takes the next change number (the sync cursor) and, at commit, notifies
# listeners (the event stream) with what they need to filter by scope.
CHANGE_SQL = [
    "CREATE SEQUENCE case_change_seq",
    """
    CREATE FUNCTION case_file_touch() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        -- Held until commit: a sync reader takes this lock exclusively, so it never reads past a change
        -- number whose transaction is still running (see server.case.sync.changed_since).
        PERFORM pg_advisory_xact_lock_shared(7472660);
        NEW.change_seq := nextval('case_change_seq');
        NEW.updated_at := clock_timestamp();
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER case_file_touch BEFORE INSERT OR UPDATE ON case_file
        FOR EACH ROW EXECUTE FUNCTION case_file_touch()
    """,
    """
    CREATE FUNCTION case_file_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('case_change', json_build_object(
            'id', NEW.id, 'code', NEW.code, 'state', NEW.state, 'version', NEW.version,
            'seq', NEW.change_seq, 'grid_path', NEW.grid_path::text,
            'reporter_id', NEW.reporter_id, 'task_assignee_id', NEW.task_assignee_id,
            'departments', (SELECT coalesce(json_agg(DISTINCT d.department_id), '[]'::json)
                            FROM case_dispatch d WHERE d.case_id = NEW.id)
        )::text);
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER case_file_notify AFTER INSERT OR UPDATE ON case_file
        FOR EACH ROW EXECUTE FUNCTION case_file_notify()
    """,
]

DROP_SQL = [
    "DROP TRIGGER IF EXISTS case_file_notify ON case_file",
    "DROP TRIGGER IF EXISTS case_file_touch ON case_file",
    "DROP FUNCTION IF EXISTS case_file_notify()",
    "DROP FUNCTION IF EXISTS case_file_touch()",
    "DROP SEQUENCE IF EXISTS case_change_seq",
    "DROP TRIGGER IF EXISTS case_event_append_only ON case_event",
    "DROP TRIGGER IF EXISTS case_event_no_truncate ON case_event",
    "DROP FUNCTION IF EXISTS case_event_refuse_change()",
]


def upgrade() -> None:
    op.create_foreign_key(
        "fk_app_user_department_code_department",
        "app_user",
        "department",
        ["department_code"],
        ["code"],
        ondelete="RESTRICT",
    )
    op.create_table(
        "case_file",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("client_uuid", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("change_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("category_id", sa.BigInteger(), nullable=False),
        sa.Column("urgency", sa.String(10), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("tags", postgresql.ARRAY(sa.String(40)), server_default="{}", nullable=False),
        _point("location", nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("reported_crs", sa.String(10), nullable=False),
        sa.Column("grid_id", sa.BigInteger(), nullable=False),
        sa.Column("grid_code", sa.String(15), nullable=False),
        sa.Column("grid_path", LTree(), nullable=False),
        sa.Column("district_code", sa.String(15), nullable=False),
        sa.Column("rural", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("reporter_id", sa.BigInteger(), nullable=True),
        sa.Column("reporter_name", sa.String(100), nullable=True),
        sa.Column("reporter_phone", sa.String(20), nullable=True),
        _ts("device_time"),
        _ts("received_at", nullable=False),
        sa.Column("department_id", sa.BigInteger(), nullable=True),
        sa.Column("task_assignee_id", sa.BigInteger(), nullable=True),
        sa.Column("duplicate_of_id", sa.BigInteger(), nullable=True),
        sa.Column("merged_into_id", sa.BigInteger(), nullable=True),
        _ts("step_started_at"),
        sa.Column("step_limit_min", sa.Float(), nullable=True),
        _ts("step_due_at"),
        sa.Column("step_remaining_min", sa.Float(), nullable=True),
        _ts("handle_due_at"),
        sa.Column("extension_request", postgresql.JSONB(), nullable=True),
        _ts("supervised_at"),
        _ts("dispatched_at"),
        _ts("handled_at"),
        _ts("closed_at"),
        sa.Column("close_kind", sa.String(12), nullable=True),
        sa.Column("rework_count", sa.Integer(), server_default="0", nullable=False),
        _ts("updated_at", nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint(
            "channel IN ('inspector', 'citizen', 'hotline', 'system', 'open311')", name="ck_case_file_channel"
        ),
        sa.CheckConstraint("urgency IN ('urgent', 'important', 'normal')", name="ck_case_file_urgency"),
        sa.PrimaryKeyConstraint("id", name="pk_case_file"),
        sa.UniqueConstraint("code", name="uq_case_file_code"),
        sa.UniqueConstraint("client_uuid", name="uq_case_file_client_uuid"),
        _fk("case_file", "category_id", "category"),
        _fk("case_file", "grid_id", "grid"),
        _fk("case_file", "reporter_id", "app_user"),
        _fk("case_file", "department_id", "department"),
        _fk("case_file", "task_assignee_id", "app_user"),
        _fk("case_file", "duplicate_of_id", "case_file"),
        _fk("case_file", "merged_into_id", "case_file"),
    )
    op.create_index("ix_case_file_location", "case_file", ["location"], postgresql_using="gist")
    op.create_index("ix_case_file_grid_path", "case_file", ["grid_path"], postgresql_using="gist")
    op.create_index("ix_case_file_state", "case_file", ["state"])
    op.create_index("ix_case_file_change_seq", "case_file", ["change_seq"])
    op.create_index("ix_case_file_reporter_id", "case_file", ["reporter_id"])
    op.create_index("ix_case_file_task_assignee_id", "case_file", ["task_assignee_id"])
    op.create_index("ix_case_file_category_id_received_at", "case_file", ["category_id", "received_at"])

    op.create_table(
        "case_dispatch",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("department_id", sa.BigInteger(), nullable=False),
        sa.Column("lead", sa.Boolean(), nullable=False),
        _ts("dispatched_at", nullable=False),
        _ts("ended_at"),
        sa.PrimaryKeyConstraint("id", name="pk_case_dispatch"),
        _fk("case_dispatch", "case_id", "case_file"),
        _fk("case_dispatch", "department_id", "department"),
    )
    op.create_index("ix_case_dispatch_case_id", "case_dispatch", ["case_id"])
    op.create_index("ix_case_dispatch_department_id", "case_dispatch", ["department_id"])

    op.create_table(
        "case_event",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        _ts("at", nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("actor_name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(20), nullable=True),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("state_before", sa.String(16), nullable=True),
        sa.Column("state_after", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        _point("location"),
        sa.Column("photo_ids", postgresql.ARRAY(sa.BigInteger()), server_default="{}", nullable=False),
        _ts("due_at"),
        sa.Column("data", postgresql.JSONB(), server_default="{}", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_case_event"),
        _fk("case_event", "case_id", "case_file"),
        _fk("case_event", "actor_id", "app_user"),
    )
    op.create_index("ix_case_event_case_id_at", "case_event", ["case_id", "at"])

    op.create_table(
        "case_photo",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("thumbnail_key", sa.String(64), nullable=False),
        sa.Column("mime", sa.String(20), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        _point("exif_location"),
        _ts("exif_taken_at"),
        sa.Column("distance_m", sa.Float(), nullable=True),
        sa.Column("far_from_report", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("uploaded_by", sa.BigInteger(), nullable=True),
        _ts("uploaded_at", nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("role IN ('before', 'after', 'verification', 'check')", name="ck_case_photo_role"),
        sa.PrimaryKeyConstraint("id", name="pk_case_photo"),
        sa.UniqueConstraint("case_id", "role", "sha256", name="uq_case_photo_case_id_role_sha256"),
        _fk("case_photo", "case_id", "case_file"),
        _fk("case_photo", "uploaded_by", "app_user"),
    )
    op.create_index("ix_case_photo_case_id", "case_photo", ["case_id"])

    op.create_table(
        "case_counter",
        sa.Column("district_code", sa.String(15), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("district_code", "day", name="pk_case_counter"),
    )
    for statement in APPEND_ONLY_SQL + CHANGE_SQL:
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP_SQL:
        op.execute(statement)
    op.drop_table("case_counter")
    op.drop_table("case_photo")
    op.drop_table("case_event")
    op.drop_table("case_dispatch")
    op.drop_table("case_file")
    op.drop_constraint("fk_app_user_department_code_department", "app_user", type_="foreignkey")
