"""The test session's own PostGIS: one throwaway cluster, a migrated template, a database per need.

As in production, the migrations run as the role that owns the schema and everything else as the
application's role, which owns nothing: every URL and session the fixtures give is the application's;
``owner_url`` turns one into the owner's, for the tests of migrations and maintenance.

A test that needs PostGIS never skips: when the cluster cannot start, the run fails with the reason.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

TEMPLATE = "gridops_template"


def screenshot_dir(kind: str) -> Path:
    """Where the page and app tests save their screenshots: ``var/screenshots/<kind>`` (ignored by git), or
    ``$GRIDOPS_SCREENSHOT_DIR/<kind>``; ``make screenshots`` points it at docs/screenshots to refresh the
    README's pictures. Tests never write into tracked files."""
    from server.config import PROJECT_DIR

    root = Path(os.environ.get("GRIDOPS_SCREENSHOT_DIR") or PROJECT_DIR / "var" / "screenshots")
    path = root / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


ADMIN_TOKEN = "test-admin-token"


def pytest_configure(config: pytest.Config) -> None:
    os.environ["GRIDOPS_ADMIN_TOKEN"] = ADMIN_TOKEN
    os.environ["GRIDOPS_SUPERVISION_SWEEP_SECONDS"] = "0"  # tests sweep when they mean to
    os.environ["GRIDOPS_DAILY_JOBS_SECONDS"] = "0"  # and anticipate and make reports when they mean to
    os.environ["GRIDOPS_VAR_DIR"] = tempfile.mkdtemp(prefix="gridops-test-var-")
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("GRIDOPS_OWNER_DATABASE_URL", None)


@pytest.fixture(scope="session")
def pg_cluster():
    from server.localdb import Cluster

    cluster = Cluster(Path(tempfile.mkdtemp(prefix="gridops-test-pg-", dir="/tmp")))
    cluster.start()
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="session")
def template_db(pg_cluster) -> str:
    """A database migrated to head, with its one city registered (济南市, as the demo's), used only as a
    template for the others."""
    from server import migrate
    from server.database import get_engine, new_session
    from server.localdb import OWNER_ROLE
    from server.tenant import City

    pg_cluster.ensure_database(TEMPLATE)
    migrate.upgrade(pg_cluster.url(TEMPLATE, user=OWNER_ROLE))
    url = pg_cluster.url(TEMPLATE)
    with new_session(url) as session:
        session.add(City(code="370100", name="济南市"))
        session.commit()
    get_engine(url).dispose()  # a template takes no connection
    return TEMPLATE


@pytest.fixture(scope="session")
def owner_url(pg_cluster) -> Callable[[str], str]:
    """The URL of the role that owns the schema, for the database an application URL names."""
    from sqlalchemy.engine import make_url

    from server.localdb import OWNER_ROLE

    return lambda url: pg_cluster.url(make_url(url).database, user=OWNER_ROLE)


@pytest.fixture
def fresh_db_url(pg_cluster, template_db) -> Iterator[str]:
    """A new database cloned from the migrated template, dropped afterwards: for tests with a live
    server, several connections, or the CLI."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = pg_cluster.ensure_database(name, template=template_db)
    yield url
    from server.database import get_engine

    get_engine.cache_clear()
    pg_cluster.drop_database(name)


@pytest.fixture(scope="session")
def shared_engine(pg_cluster, template_db):
    from server.database import get_engine

    return get_engine(pg_cluster.ensure_database("gridops_test", template=template_db))


@contextmanager
def rolled_back(engine) -> Iterator[Session]:
    """A session inside a transaction rolled back at the end (commits become savepoints)."""
    with engine.connect() as conn:
        trans = conn.begin()
        session = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield session
        finally:
            session.close()
            trans.rollback()


@contextmanager
def api_client(session: Session):
    """The API, with every request on ``session``."""
    from fastapi.testclient import TestClient

    from server.database import get_db
    from server.deps import REQUESTED_CITY
    from server.main import create_app

    def request_session() -> Session:
        session.info.pop(REQUESTED_CITY, None)  # each request names its own city, as on a new session
        return session

    app = create_app()
    app.dependency_overrides[get_db] = request_session
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def db(shared_engine) -> Iterator[Session]:
    with rolled_back(shared_engine) as session:
        yield session


@pytest.fixture
def client(db):
    with api_client(db) as test_client:
        yield test_client


@pytest.fixture
def setting(monkeypatch):
    """Sets a setting through the environment for one test (the cached settings dropped around it)."""
    from server.config import get_settings

    def set_(name: str, value: str) -> None:
        monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield set_
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(scope="session")
def demo_url(pg_cluster, template_db) -> str:
    """A database holding the whole Jinan demo city (grids, the synthetic address register, people, the
    starter taxonomy), loaded once per session."""
    from grids.demo import generate_demo_city
    from grids.topology import TopologyReport
    from server.address.demo import load_demo_addresses
    from server.category import service as categories
    from server.database import new_session
    from server.grid import importer as grid_importer
    from server.users.demo import load_demo_people

    url = pg_cluster.ensure_database("gridops_demo", template=template_db)
    records = generate_demo_city()
    with new_session(url) as session:
        result = grid_importer.import_grids(
            db=session, records=records, report=TopologyReport(issues=[], checked=len(records))
        )
        assert result.report.ok, result.report.format_text()
        load_demo_addresses(db=session)
        load_demo_people(db=session)
        categories.load_starter(db=session)
    return url


@pytest.fixture(scope="session")
def demo_engine(demo_url):
    from server.database import get_engine

    return get_engine(demo_url)


@contextmanager
def demo_clone(pg_cluster, demo_engine, prefix: str = "demo") -> Iterator[str]:
    """A new database cloned from the demo city, dropped afterwards: for a live server on the demo city.
    Cloning needs no other connection to the demo database, so its pool is closed first (the rolled-back
    sessions have returned theirs)."""
    demo_engine.dispose()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    url = pg_cluster.ensure_database(name, template=demo_engine.url.database)
    yield url
    from server.database import get_engine

    get_engine(url).dispose()
    pg_cluster.drop_database(name)


@pytest.fixture
def demo_clone_url(pg_cluster, demo_engine) -> Iterator[str]:
    with demo_clone(pg_cluster, demo_engine) as url:
        yield url


@pytest.fixture
def demo_db(demo_engine) -> Iterator[Session]:
    """A session on the demo city, rolled back afterwards."""
    with rolled_back(demo_engine) as session:
        yield session


@pytest.fixture
def demo_owner_db(demo_url, owner_url) -> Iterator[Session]:
    """A session on the demo city as the role that owns the schema, rolled back afterwards (its connection
    is closed then, so the demo database can still be cloned)."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(owner_url(demo_url), poolclass=NullPool)
    with rolled_back(engine) as session:
        yield session
    engine.dispose()


@pytest.fixture
def demo_client(demo_db):
    with api_client(demo_db) as test_client:
        yield test_client
