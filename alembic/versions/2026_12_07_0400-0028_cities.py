"""Many cities in one deployment: the ``city`` table, a ``city_id`` on every city-owned row, the keys that
were unique in the deployment made unique per city, and a row-level security policy on every city-owned
table that shows the application's role only the rows of the cities its transaction names
(``server.tenant``). The city a database already holds is registered from its root grid, and its rows
become that city's (a constant default: no table is rewritten). The dashboards' summaries, the map's cells
and the case-change notification carry the city too.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every city-owned table. Deployment-wide: the city list, the grid layers' definitions and the request
# types (the same for every city), and what belongs to an account rather than a city (device sessions,
# retired refresh tokens, failed logins: counted before any city is known).
CITY_TABLES = (
    "address", "app_user", "caller_reveal", "case_cell", "case_counter", "case_dispatch", "case_event",
    "case_file", "case_layer_grid", "case_photo", "case_supervision", "category",
    "category_district_department", "category_request_limit", "demo_history", "department",
    "dispatch_center", "forecast", "grid", "grid_assignment", "grid_part", "open311_client",
    "open311_request", "patrol_shift", "patrol_task", "pollution_source", "public_rating", "public_report",
    "report", "special_reporter", "stats_area_day", "stats_category_day", "stats_hour_day",
    "stats_inspector_day", "tag", "track_point", "warning", "warning_event", "warning_letter_counter",
)  # fmt: skip

# Unique constraints (table, old name, old columns): the same columns within a city.
UNIQUES = (
    ("department", "uq_department_code", ["code"]),
    ("category", "uq_category_code", ["code"]),
    ("tag", "uq_tag_code", ["code"]),
    ("case_file", "uq_case_file_code", ["code"]),
    ("case_file", "uq_case_file_client_uuid", ["client_uuid"]),
    ("patrol_shift", "uq_patrol_shift_client_uuid", ["client_uuid"]),
    ("open311_client", "uq_open311_client_name", ["name"]),
    ("special_reporter", "uq_special_reporter_phone", ["phone"]),
    ("address", "uq_address_register_id", ["register_id"]),
    ("forecast", "uq_forecast_horizon_level_area_code_category_id",
     ["horizon", "level", "area_code", "category_id"]),
    ("warning", "uq_warning_letter_number", ["letter_number"]),
    ("report", "uq_report_kind_grid_code_period_start", ["kind", "grid_code", "period_start"]),
    ("pollution_source", "uq_pollution_source_code", ["code"]),
)  # fmt: skip
# Primary keys made of natural keys: the city joins them (last, so the existing lookups keep their order).
PRIMARY_KEYS = (
    ("case_counter", ["district_code", "day"]),
    ("case_cell", ["cell_x", "cell_y", "state", "grid_path"]),
    ("stats_area_day", ["path", "depth", "day", "department_id"]),
    ("stats_category_day", ["path", "depth", "day", "category_id", "department_id"]),
    ("stats_hour_day", ["path", "depth", "day", "hour", "department_id"]),
    ("stats_inspector_day", ["user_id", "day"]),
    ("dispatch_center", ["grid_code"]),
    ("warning_letter_counter", ["year"]),
)
# Partial unique indexes (name, table, columns, condition).
PARTIAL = (
    ("uq_grid_code_current", "grid", ["code"], "valid_to IS NULL"),
    ("uq_warning_open", "warning", ["kind", "area_code", "category_id"], "state <> 'closed'"),
    ("uq_grid_assignment_one_head", "grid_assignment", ["layer", "grid_code"],
     "role = 'head' AND ends_on IS NULL"),
)  # fmt: skip

# The settings a transaction works in (server.tenant): ``gridops.cities``, the cities it reads, and
# ``gridops.city``, the one new rows go to; "-" names none; unset or empty, the deployment's own city: the
# one ``gridops.own_city`` names (a connection option from the setting GRIDOPS_CITY), else the first.
CONTEXT_FUNCTIONS = """
CREATE FUNCTION gridops_own_city() RETURNS smallint LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN coalesce(current_setting('gridops.own_city', true), '') = ''
                THEN (SELECT min(id) FROM city)
                ELSE (SELECT id FROM city WHERE code = current_setting('gridops.own_city', true)) END
$$;
CREATE FUNCTION gridops_cities() RETURNS smallint[] LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE coalesce(current_setting('gridops.cities', true), '')
               WHEN '' THEN array_remove(ARRAY[gridops_own_city()], NULL)
               WHEN '-' THEN '{}'::smallint[]
               ELSE string_to_array(current_setting('gridops.cities', true), ',')::smallint[] END
$$;
CREATE FUNCTION gridops_city() RETURNS smallint LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE coalesce(current_setting('gridops.city', true), '')
               WHEN '' THEN CASE WHEN coalesce(current_setting('gridops.cities', true), '') = ''
                                 THEN gridops_own_city() END
               WHEN '-' THEN NULL
               ELSE current_setting('gridops.city', true)::smallint END
$$;
"""
ACCOUNT_FUNCTIONS = """
-- Before the caller's city is known: the home city of the account a login names, and the cities a user
-- works in (their own first). Run as the schema's owner, so past the policies; they tell city numbers only.
CREATE FUNCTION gridops_login_city(login text) RETURNS smallint LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = public, pg_temp AS $$
    SELECT city_id FROM app_user WHERE phone = login OR lower(username) = lower(login) LIMIT 1
$$;
CREATE FUNCTION gridops_user_cities(uid bigint) RETURNS smallint[] LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = public, pg_temp AS $$
    SELECT array_prepend(city_id, also_cities) FROM app_user WHERE id = uid
$$;
"""
POLICY = "city_id = ANY ((SELECT gridops_cities())::smallint[])"
# A user also shows in the cities they work in besides their own (a province's administrators).
USER_POLICY = f"{POLICY} OR also_cities && (SELECT gridops_cities())"

CELL_VIEW = """
    CREATE VIEW case_cell_source WITH (security_invoker = true) AS
    SELECT cell_x, cell_y, state, subpath(grid_path, 0, least(nlevel(grid_path), 3)) AS grid_path,
           count(*)::integer AS count,
           sum(ST_X(ST_Transform(location, 3857))) AS sum_x,
           sum(ST_Y(ST_Transform(location, 3857))) AS sum_y,
           min(step_due_at) AS min_due_at,
           min(step_yellow_at) AS min_yellow_at{city}
    FROM case_file
    GROUP BY 1, 2, 3, 4{group}
"""
CELL_FUNCTION = """
    CREATE OR REPLACE FUNCTION case_file_cells() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        k record;
    BEGIN
        IF TG_OP = 'UPDATE' AND (OLD.location, OLD.state, OLD.grid_path, OLD.step_due_at, OLD.step_yellow_at)
            IS NOT DISTINCT FROM (NEW.location, NEW.state, NEW.grid_path, NEW.step_due_at, NEW.step_yellow_at)
        THEN
            RETURN NULL;
        END IF;
        FOR k IN
            SELECT DISTINCT r.x, r.y, r.s, subpath(r.p, 0, least(nlevel(r.p), 3)) AS p{city_key}
            FROM (VALUES (OLD.cell_x, OLD.cell_y, OLD.state, OLD.grid_path{old_city}),
                         (NEW.cell_x, NEW.cell_y, NEW.state, NEW.grid_path{new_city})) AS r(x, y, s, p{c})
            WHERE r.s IS NOT NULL
            ORDER BY 1, 2, 3, 4
        LOOP
            PERFORM pg_advisory_xact_lock(7472661, hashtext(concat_ws(' ', k.x, k.y, k.s, k.p)));
            DELETE FROM case_cell
            WHERE cell_x = k.x AND cell_y = k.y AND state = k.s AND grid_path = k.p{match};
            INSERT INTO case_cell
            SELECT * FROM case_cell_source
            WHERE cell_x = k.x AND cell_y = k.y AND state = k.s AND grid_path = k.p{match};
        END LOOP;
        RETURN NULL;
    END $$
"""
NOTIFY_SQL = """
    CREATE OR REPLACE FUNCTION case_file_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('case_change', json_build_object(
            'id', NEW.id, 'code', NEW.code, 'state', NEW.state, 'version', NEW.version,
            'seq', NEW.change_seq, 'grid_path', NEW.grid_path::text,
            'reporter_id', NEW.reporter_id, 'task_assignee_id', NEW.task_assignee_id,
            'departments', (SELECT coalesce(json_agg(DISTINCT d.department_id), '[]'::json)
                            FROM case_dispatch d WHERE d.case_id = NEW.id),
            'layer_paths', (SELECT coalesce(json_agg(g.grid_path::text), '[]'::json)
                            FROM case_layer_grid g WHERE g.case_id = NEW.id){city}
        )::text);
        RETURN NULL;
    END $$
"""


def _cells(city: bool) -> list[str]:
    on = {
        "city": ", city_id" if city else "",
        "group": ", city_id" if city else "",
        "city_key": ", r.city_id" if city else "",
        "old_city": ", OLD.city_id" if city else "",
        "new_city": ", NEW.city_id" if city else "",
        "c": ", city_id" if city else "",
        "match": " AND city_id = k.city_id" if city else "",
    }
    view = CELL_VIEW.format(**on)
    if not city:
        view = view.replace(" WITH (security_invoker = true)", "")
    return ["DROP VIEW case_cell_source", view, CELL_FUNCTION.format(**on)]


def _execute(statements: str) -> None:
    for statement in statements.split(";\n"):
        if statement.strip():
            op.execute(statement)


def _stats(build: bool) -> None:
    """Drop the summaries' triggers; with ``build``, make them from today's code and fill the summaries
    when they are empty (a database whose cases came before the triggers)."""
    from server.config import get_settings
    from server.stats import sql

    for statement in sql.drop_sql():
        op.execute(statement)
    if build:
        tz = get_settings().timezone
        for statement in sql.function_sql(tz) + sql.trigger_sql():
            op.execute(statement)
        if not op.get_bind().scalar(sa.text("SELECT EXISTS (SELECT FROM stats_area_day)")):
            for statement in sql.fill_sql(tz) + sql.fill_sql(tz, events=True):
                op.execute(statement)


def upgrade() -> None:
    conn = op.get_bind()
    op.create_table(
        "city",
        sa.Column("id", sa.SmallInteger(), sa.Identity(), nullable=False),
        sa.Column("code", sa.String(6), nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_city")),
        sa.UniqueConstraint("code", name=op.f("uq_city_code")),
    )
    op.add_column(
        "app_user",
        sa.Column("also_cities", sa.ARRAY(sa.SmallInteger()), server_default="{}", nullable=False),
    )
    _execute(CONTEXT_FUNCTIONS)
    # The city already here: its root grid's (the first level of the hierarchy has no parent).
    city = conn.scalar(
        sa.text(
            "INSERT INTO city (code, name) SELECT left(code, 6), name FROM grid "
            "WHERE parent_code IS NULL AND valid_to IS NULL ORDER BY code LIMIT 1 RETURNING id"
        )
    )
    if city is None:
        held = [t for t in CITY_TABLES if conn.scalar(sa.text(f"SELECT EXISTS (SELECT FROM {t})"))]
        if held:
            raise RuntimeError(
                "数据库里已有数据，却没有城市一级的网格，无法知道这些数据属于哪个城市："
                "请先导入本市的城市网格，再运行迁移"
            )
    _stats(build=False)
    for statement in _cells(city=False)[:1]:
        op.execute(statement)  # the old view goes before the column it does not group by
    op.execute("ALTER TABLE app_user DROP CONSTRAINT fk_app_user_department_code_department")
    for table in CITY_TABLES:
        default = str(city) if city is not None else "gridops_city()"
        op.execute(f"ALTER TABLE {table} ADD COLUMN city_id smallint NOT NULL DEFAULT {default}")
        op.execute(f"ALTER TABLE {table} ALTER COLUMN city_id SET DEFAULT gridops_city()")
        op.create_foreign_key(
            op.f(f"fk_{table}_city_id_city"), table, "city", ["city_id"], ["id"], ondelete="RESTRICT"
        )
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        policy = USER_POLICY if table == "app_user" else POLICY
        op.execute(f"CREATE POLICY city_rows ON {table} USING ({policy})")
    for table, name, columns in UNIQUES:
        op.drop_constraint(name, table, type_="unique")
        op.create_unique_constraint(
            op.f(f"uq_{table}_city_id_{'_'.join(columns)}"), table, ["city_id", *columns]
        )
    for table, columns in PRIMARY_KEYS:
        op.drop_constraint(f"pk_{table}", table, type_="primary")
        op.create_primary_key(op.f(f"pk_{table}"), table, [*columns, "city_id"])
    for name, table, columns, where in PARTIAL:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, ["city_id", *columns], unique=True, postgresql_where=sa.text(where))
    op.create_foreign_key(
        op.f("fk_app_user_city_id_department"),
        "app_user",
        "department",
        ["city_id", "department_code"],
        ["city_id", "code"],
        ondelete="RESTRICT",
    )
    _execute(ACCOUNT_FUNCTIONS)
    for statement in _cells(city=True)[1:]:
        op.execute(statement)
    op.execute(NOTIFY_SQL.format(city=",\n            'city_id', NEW.city_id"))
    _stats(build=True)
    for table in CITY_TABLES:  # the planner's figures of the new column (the policies filter on it)
        op.execute(f"ANALYZE {table}")


def downgrade() -> None:
    _stats(build=False)
    op.execute("DROP VIEW case_cell_source")
    op.drop_constraint("fk_app_user_city_id_department", "app_user", type_="foreignkey")
    for name, table, columns, where in PARTIAL:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns, unique=True, postgresql_where=sa.text(where))
    for table, columns in PRIMARY_KEYS:
        op.drop_constraint(f"pk_{table}", table, type_="primary")
        op.create_primary_key(f"pk_{table}", table, columns)
    for table, name, columns in UNIQUES:
        op.drop_constraint(f"uq_{table}_city_id_{'_'.join(columns)}", table, type_="unique")
        op.create_unique_constraint(name, table, columns)
    for table in CITY_TABLES:
        op.execute(f"DROP POLICY city_rows ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        op.drop_column(table, "city_id")
    op.create_foreign_key(
        "fk_app_user_department_code_department",
        "app_user",
        "department",
        ["department_code"],
        ["code"],
        ondelete="RESTRICT",
    )
    for statement in _cells(city=False)[1:]:
        op.execute(statement)
    op.execute(NOTIFY_SQL.format(city=""))
    op.drop_column("app_user", "also_cities")
    for name in (
        "gridops_user_cities(bigint)",
        "gridops_login_city(text)",
        "gridops_city()",
        "gridops_cities()",
        "gridops_own_city()",
    ):
        op.execute(f"DROP FUNCTION {name}")
    op.drop_table("city")
    # The summaries' triggers stay dropped: the older version's ``gridops stats rebuild`` makes them again.
