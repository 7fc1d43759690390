"""Fixtures for the app's tests: Kivy in a real offscreen window, and a live GridOps server on a clone of
the demo city (uvicorn on loopback on the test PostGIS), shared by the tests of one module."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Kivy reads these when it is first imported: a real window rendered offscreen with software GL, no
# command-line parsing, no user configuration.
os.environ.update(
    KIVY_NO_ARGS="1",
    KIVY_USE_DEFAULTCONFIG="1",
    KIVY_HOME=tempfile.mkdtemp(prefix="gridops-kivy-"),
    SDL_VIDEODRIVER="offscreen",
    KIVY_NO_FILELOG="1",
)

from server.grid.demo import DEMO_PASSWORD  # noqa: E402
from tests.server.live import LiveServer, live_server  # noqa: E402

INSPECTOR = "13900000001"  # 张伟, inspector of the first village of 历下区's first street
OPERATOR = "zhaomin"  # acceptor, shift lead and dispatcher
PASSWORD = DEMO_PASSWORD


@pytest.fixture(scope="module")
def mobile_db_url(pg_cluster, demo_engine) -> Iterator[str]:
    """A clone of the demo city for one test module."""
    demo_engine.dispose()
    name = f"mobile_{uuid.uuid4().hex[:12]}"
    url = pg_cluster.ensure_database(name, template=demo_engine.url.database)
    yield url
    from server.database import get_engine

    get_engine(url).dispose()
    pg_cluster.drop_database(name)


@pytest.fixture(scope="module")
def server(mobile_db_url, tmp_path_factory) -> Iterator[LiveServer]:
    """The GridOps server on the module's demo clone."""
    with live_server(mobile_db_url, tmp_path_factory.mktemp("server") / "server.log") as live:
        yield live


@pytest.fixture
def app_dir(tmp_path) -> Path:
    """The app's data folder (its SQLite file and photos), new for each test."""
    return tmp_path / "app"
