"""The embedded cluster and the migrations, on the test session's own cluster."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from server import migrate
from server.localdb import APP_ROLE, OWNER_ROLE, Cluster, LocalDBError


def test_cluster_is_utf8_with_postgis_and_ltree_and_a_non_superuser_app_role(pg_cluster, db):
    assert pg_cluster.running()
    extensions = set(db.scalars(text("SELECT extname FROM pg_extension")))
    assert {"postgis", "ltree"} <= extensions
    assert db.scalar(text("SELECT current_user")) == APP_ROLE
    assert db.scalar(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")) is False
    assert db.scalar(text("SHOW server_encoding")) == "UTF8"
    assert db.scalar(text("SELECT CAST('历下区' AS text)")) == "历下区"


def test_url_reaches_the_database_over_tcp_too(pg_cluster, template_db):
    url = f"postgresql+psycopg2://{APP_ROLE}:{pg_cluster.password}@127.0.0.1:{pg_cluster.port}/{template_db}"
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT PostGIS_Version()")).startswith("3.")
    engine.dispose()


def test_migrations_go_up_down_and_up_again(pg_cluster):
    name = f"mig_{uuid.uuid4().hex[:8]}"
    pg_cluster.ensure_database(name)
    url = pg_cluster.url(name, user=OWNER_ROLE)
    engine = create_engine(url)
    try:
        migrate.upgrade(url)
        assert {"grid", "grid_part", "grid_assignment", "app_user"} <= set(inspect(engine).get_table_names())
        migrate.downgrade(url, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version", "spatial_ref_sys"}
        with engine.connect() as conn:  # a downgrade to base keeps the extensions
            assert (
                conn.scalar(text("SELECT count(*) FROM pg_extension WHERE extname IN ('postgis', 'ltree')"))
                == 2
            )
        migrate.upgrade(url)
        assert "grid" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
        pg_cluster.drop_database(name)


def test_migration_names_the_missing_extensions(pg_cluster):
    name = f"noext_{uuid.uuid4().hex[:8]}"
    conn = pg_cluster.connect()
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name} OWNER {OWNER_ROLE}")
    conn.close()
    try:
        with pytest.raises(RuntimeError, match=r"CREATE EXTENSION postgis; CREATE EXTENSION ltree;"):
            migrate.upgrade(pg_cluster.url(name, user=OWNER_ROLE))
    finally:
        pg_cluster.drop_database(name)


def test_a_database_the_app_role_owned_is_handed_to_the_owner_role(pg_cluster):
    """A database made before the two roles (the application owning it and its tables) is taken over."""
    name = f"legacy_{uuid.uuid4().hex[:8]}"
    conn = pg_cluster.connect()
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name} OWNER {APP_ROLE}")
    conn.close()
    engine = create_engine(pg_cluster.url(name))
    try:
        with engine.begin() as app:
            app.execute(text("CREATE TABLE case_event (id bigint)"))
        assert pg_cluster.ensure_database(name) == pg_cluster.url(name)
        with engine.connect() as app:
            owners = app.execute(
                text(
                    "SELECT pg_get_userbyid(datdba), (SELECT pg_get_userbyid(relowner) FROM pg_class "
                    "WHERE oid = 'case_event'::regclass) FROM pg_database WHERE datname = current_database()"
                )
            ).one()
        assert tuple(owners) == (OWNER_ROLE, OWNER_ROLE)
    finally:
        engine.dispose()
        pg_cluster.drop_database(name)


def test_a_private_directory_is_refused_as_root_and_used_otherwise():
    private = Path(tempfile.mkdtemp(prefix="gridops-private-", dir="/tmp"))  # mode 0700
    cluster = Cluster(private / "pg")
    try:
        if os.geteuid() == 0:  # the cluster runs as postgres, who cannot enter the directory
            with pytest.raises(LocalDBError, match=f"postgres 用户进不了目录 {private}"):
                cluster.init()
            assert not cluster.root.exists()
        else:  # the cluster runs as the current user, who owns the directory
            cluster.init()
            assert cluster.initialised()
    finally:
        shutil.rmtree(private)


def test_the_migrations_build_exactly_the_models(shared_engine):
    """Autogenerate finds nothing to do at head: the hand-written migrations and the models agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from geoalchemy2 import alembic_helpers

    from server import models  # noqa: F401  (registers every table)
    from server.database import Base

    def include(obj, name, type_, reflected, compare_to):
        if type_ == "table" and name == "spatial_ref_sys":
            return False
        return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)

    with shared_engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_object": include,
                "compare_type": True,
                "render_item": alembic_helpers.render_item,
            },
        )
        assert compare_metadata(context, Base.metadata) == []
