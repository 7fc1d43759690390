"""The application's database role cannot change history by any statement: it owns nothing, may only read and
append ``case_event``, and cannot switch the triggers off, drop, alter, take over or re-grant the table.
The migrations run as the role that owns the schema (migration 0012 sets the grants)."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from server import migrate
from server.database import new_session
from server.localdb import APP_ROLE, OWNER_ROLE
from tests.server.case_world import make_user, report, village_point
from tests.server.test_case_audit import closed_case  # noqa: F401  (a fixture)
from tests.server.test_cli import gridops

REWRITES = [
    "UPDATE case_event SET note = 'rewritten', actor_name = 'someone else' WHERE case_id = :id",
    "DELETE FROM case_event WHERE case_id = :id",
    "TRUNCATE case_event",
    "ALTER TABLE case_event DISABLE TRIGGER case_event_append_only",
    "ALTER TABLE case_event DISABLE TRIGGER ALL",
    "DROP TRIGGER case_event_append_only ON case_event",
    "DROP TABLE case_event CASCADE",
    "ALTER TABLE case_event RENAME TO case_event_old",
    "ALTER TABLE case_event ALTER COLUMN note TYPE text USING 'rewritten'",
    f"ALTER TABLE case_event OWNER TO {APP_ROLE}",
    "CREATE TRIGGER swallow BEFORE INSERT ON case_event "
    "FOR EACH ROW EXECUTE FUNCTION case_event_refuse_change()",
    "CREATE RULE swallow AS ON INSERT TO case_event DO INSTEAD NOTHING",
    "CREATE OR REPLACE FUNCTION case_event_refuse_change() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RETURN NEW; END $$",
    "CREATE TABLE case_event_copy (id bigint)",
    "SET session_replication_role = replica",
    f"SET ROLE {OWNER_ROLE}",
    "ALTER ROLE CURRENT_USER SUPERUSER",
    f"REASSIGN OWNED BY {OWNER_ROLE} TO CURRENT_USER",
]


def event_rows(db, case) -> list[tuple]:
    return [
        tuple(row)
        for row in db.execute(
            text("SELECT * FROM case_event WHERE case_id = :id ORDER BY id"), {"id": case.id}
        )
    ]


def privileges(db, table: str = "case_event") -> set[str]:
    kinds = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
    return {k for k in kinds if db.scalar(text(f"SELECT has_table_privilege('{table}', '{k}')"))}


def triggers_enabled(db) -> list[tuple[str, str]]:
    return db.execute(
        text("SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'case_event'::regclass ORDER BY 1")
    ).all()


def test_the_app_owns_nothing_and_may_only_read_and_append_events(demo_db):
    assert demo_db.scalar(text("SELECT current_user")) == APP_ROLE
    owned = text(
        "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace "
        "AND relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)"
    )
    assert demo_db.scalar(owned) == 0
    assert demo_db.scalar(
        text("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()")
    ) == (OWNER_ROLE)
    assert privileges(demo_db) == {"SELECT", "INSERT"}
    assert privileges(demo_db, "case_file") == {"SELECT", "INSERT", "UPDATE", "DELETE"}
    assert privileges(demo_db, "alembic_version") == {"SELECT"}


@pytest.mark.parametrize("statement", REWRITES)
def test_the_app_cannot_change_history(demo_db, closed_case, statement):  # noqa: F811
    case, _ = closed_case
    before, triggers = event_rows(demo_db, case), triggers_enabled(demo_db)
    with pytest.raises(DBAPIError) as caught, demo_db.begin_nested():
        demo_db.execute(text(statement), {"id": case.id})
    assert caught.value.orig.pgcode == "42501", caught.value.orig  # insufficient_privilege
    assert event_rows(demo_db, case) == before
    assert triggers_enabled(demo_db) == triggers
    assert {"case_event_append_only", "case_event_no_truncate"} <= {
        name for name, on in triggers if on == "O"
    }


def test_the_app_cannot_grant_itself_more(demo_db, closed_case):  # noqa: F811
    """GRANT without the grant option grants nothing (PostgreSQL answers with a warning, or an error)."""
    case, _ = closed_case
    before = event_rows(demo_db, case)
    for statement in (
        "GRANT UPDATE, DELETE, TRUNCATE, TRIGGER ON case_event TO CURRENT_USER",
        "GRANT ALL ON case_event TO PUBLIC",
    ):
        try:
            with demo_db.begin_nested():
                demo_db.execute(text(statement))
        except DBAPIError as exc:
            assert exc.orig.pgcode == "42501"
    assert privileges(demo_db) == {"SELECT", "INSERT"}
    with pytest.raises(DBAPIError) as caught, demo_db.begin_nested():
        demo_db.execute(text("DELETE FROM case_event WHERE case_id = :id"), {"id": case.id})
    assert caught.value.orig.pgcode == "42501"
    assert event_rows(demo_db, case) == before


def test_the_owner_still_meets_the_append_only_trigger(demo_clone_url, owner_url):
    """Defence in depth: the schema's owner, who runs the migrations, is refused by the trigger."""
    with new_session(demo_clone_url) as db:
        village, lon, lat = village_point(db)
        case = report(db, make_user(db, ["inspector"], inspects=village), lon, lat)
        db.commit()
    owner = create_engine(owner_url(demo_clone_url), poolclass=NullPool)
    with owner.connect() as conn:
        assert conn.scalar(text("SELECT current_user")) == OWNER_ROLE
        with pytest.raises(DBAPIError, match="the case audit trail is append-only: DELETE"):
            conn.execute(text("DELETE FROM case_event WHERE case_id = :id"), {"id": case.id})
    owner.dispose()


def test_tables_the_owner_creates_later_are_granted_to_the_app(fresh_db_url, owner_url):
    owner = create_engine(owner_url(fresh_db_url), poolclass=NullPool)
    with owner.begin() as conn:
        conn.execute(text("CREATE TABLE later (id bigserial PRIMARY KEY, note text)"))
    app = create_engine(fresh_db_url, poolclass=NullPool)
    with app.begin() as conn:
        conn.execute(text("INSERT INTO later (note) VALUES ('a')"))
        conn.execute(text("UPDATE later SET note = 'b'"))
        assert conn.scalar(text("DELETE FROM later RETURNING note")) == "b"
    owner.dispose()
    app.dispose()


def test_the_migration_checks_the_app_role_and_goes_down_and_up(pg_cluster):
    name = f"roles_{uuid.uuid4().hex[:8]}"
    pg_cluster.ensure_database(name)
    url = pg_cluster.url(name, user=OWNER_ROLE)
    engine = create_engine(pg_cluster.url(name), poolclass=NullPool)

    def app_may_read_events() -> bool:
        with engine.connect() as conn:
            return conn.scalar(text("SELECT has_table_privilege('case_event', 'SELECT')"))

    try:
        migrate.upgrade(url, "0011")
        assert not app_may_read_events()
        with pytest.raises(RuntimeError, match="角色在数据库中不存在"):
            migrate.upgrade(url, app_role="no_such_role")
        with pytest.raises(RuntimeError, match="就是表的拥有者"):
            migrate.upgrade(url, app_role=OWNER_ROLE)
        with pytest.raises(RuntimeError, match="超级用户"):
            migrate.upgrade(url, app_role="postgres")
        migrate.upgrade(url)
        assert app_may_read_events()
        migrate.downgrade(url, "0011")
        assert not app_may_read_events()
        migrate.upgrade(url)
        assert app_may_read_events()
    finally:
        engine.dispose()
        pg_cluster.drop_database(name)


def test_an_external_database_is_migrated_as_its_owner(fresh_db_url, owner_url):
    """With DATABASE_URL (the application's role) alone, `gridops migrate` refuses and says what to set; with
    the owner's URL beside it, the migrations run as the owner and grant the user of DATABASE_URL."""
    env = {**os.environ, "DATABASE_URL": fresh_db_url}
    refused = gridops("migrate", env=env, check=False)
    assert refused.returncode == 1 and "GRIDOPS_OWNER_DATABASE_URL" in refused.stderr
    env["GRIDOPS_OWNER_DATABASE_URL"] = owner_url(fresh_db_url)
    assert gridops("db", "url", "--owner", env=env).stdout.strip() == owner_url(fresh_db_url)
    assert gridops("db", "url", env=env).stdout.strip() == fresh_db_url
    gridops("migrate", "0011", "--down", env=env)
    gridops("migrate", env=env)
    engine = create_engine(fresh_db_url, poolclass=NullPool)
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT has_table_privilege('case_event', 'INSERT')"))
        assert not conn.scalar(text("SELECT has_table_privilege('case_event', 'DELETE')"))
    engine.dispose()
