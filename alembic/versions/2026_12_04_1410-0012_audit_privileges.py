"""The application role may only read and append the audit trail.

The migrations run as the role that owns the schema; the application connects as another role that owns
nothing (``server.migrate``: the caller names it, ``gridops migrate`` takes the user of ``DATABASE_URL``).
This grants that role reading and writing every table the owner owns, but only reading and appending
``case_event`` (no UPDATE, DELETE or TRUNCATE; not being the owner, it cannot ALTER, DROP or disable the
triggers either), and only reading ``alembic_version``; tables and sequences the owner creates later get
the same grants (default privileges). The triggers' functions run with the application's rights, which
cover what they write (change numbers, the tiles' and dashboards' summaries).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import context, op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
SEQUENCE_PRIVILEGES = "USAGE, SELECT"
# Taken back again: the audit trail is only read and appended, the migrations' own state only read.
TAKEN_BACK = {"case_event": "UPDATE, DELETE", "alembic_version": "INSERT, UPDATE, DELETE"}

# What the owner owns in the schema: tables and views, sequences, functions.
OWNED_RELATIONS = """
    SELECT c.oid::regclass::text, c.relkind = 'S' FROM pg_class c
    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
      AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
    ORDER BY 1
"""
OWNED_FUNCTIONS = """
    SELECT p.oid::regprocedure::text FROM pg_proc p
    WHERE p.pronamespace = 'public'::regnamespace AND p.prokind = 'f'
      AND p.proowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
    ORDER BY 1
"""

# Whether the role is a superuser (or bypasses row security), and whether it can act as the owner: as a
# member of the owner role, or owning the database (so the schema) or a table in it.
ROLE_CHECK = """
    SELECT r.rolsuper OR r.rolbypassrls AS super,
           pg_has_role(r.oid, current_user, 'MEMBER')
           OR pg_has_role(r.oid, (SELECT nspowner FROM pg_namespace WHERE nspname = 'public'), 'MEMBER')
           OR EXISTS (SELECT 1 FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relowner = r.oid)
           AS owns
    FROM pg_roles r WHERE r.rolname = :name
"""


def _app_role() -> str:
    """The application's role, quoted; refused unless it exists, is no superuser and cannot act as the
    owner."""
    name = context.config.attributes["app_role"]
    conn = op.get_bind()
    role = conn.execute(sa.text(ROLE_CHECK), {"name": name}).first()
    if role is None:
        raise RuntimeError(
            "应用连接数据库所用的角色在数据库中不存在：请先创建这个角色（见 README 的「Database roles」"
            "一节），或改正应用的数据库连接设置，再运行 gridops migrate"
        )
    if role.super:
        raise RuntimeError(
            "应用连接数据库所用的角色是超级用户，不受任何权限限制：请为应用另建一个普通角色（见 README 的"
            "「Database roles」一节），再运行 gridops migrate"
        )
    if role.owns:
        raise RuntimeError(
            "应用连接数据库所用的角色就是表的拥有者（或能以其身份行事），审计记录因此可被改写：请由超级用户把"
            "数据库和其中的表交给拥有者角色，并让迁移以拥有者角色运行（见 README 的「Database roles」"
            "一节），再运行 gridops migrate"
        )
    return conn.dialect.identifier_preparer.quote(name)


def _owned() -> tuple[list[str], list[str], list[str]]:
    conn = op.get_bind()
    relations = conn.execute(sa.text(OWNED_RELATIONS)).all()
    functions = list(conn.execute(sa.text(OWNED_FUNCTIONS)).scalars())
    return [n for n, seq in relations if not seq], [n for n, seq in relations if seq], functions


def upgrade() -> None:
    app = _app_role()
    tables, sequences, functions = _owned()
    op.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")  # PostgreSQL 15's default, kept on older ones
    op.execute(f"GRANT USAGE ON SCHEMA public TO {app}")
    for table in tables:
        op.execute(f"GRANT {TABLE_PRIVILEGES} ON {table} TO {app}")
    for table, revoked in TAKEN_BACK.items():
        op.execute(f"REVOKE {revoked} ON {table} FROM {app}")
    for sequence in sequences:
        op.execute(f"GRANT {SEQUENCE_PRIVILEGES} ON SEQUENCE {sequence} TO {app}")
    for function in functions:
        op.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {app}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {TABLE_PRIVILEGES} ON TABLES TO {app}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {SEQUENCE_PRIVILEGES} ON SEQUENCES TO {app}")


def downgrade() -> None:
    app = op.get_bind().dialect.identifier_preparer.quote(context.config.attributes["app_role"])
    tables, sequences, functions = _owned()
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM {app}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {app}")
    for function in functions:
        op.execute(f"REVOKE EXECUTE ON FUNCTION {function} FROM {app}")
    for sequence in sequences:
        op.execute(f"REVOKE ALL ON SEQUENCE {sequence} FROM {app}")
    for table in tables:
        op.execute(f"REVOKE ALL ON {table} FROM {app}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {app}")
