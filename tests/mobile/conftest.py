"""Fixtures for the app's tests: Kivy in a real offscreen window, and a live GridOps server on a clone of
the demo city (uvicorn on loopback on the test PostGIS), shared by the tests of one module."""

from __future__ import annotations

import itertools
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest
import shapely

# Kivy reads these when it is first imported: a real window rendered offscreen with software GL, no
# command-line parsing, no user configuration.
os.environ.update(
    KIVY_NO_ARGS="1",
    KIVY_USE_DEFAULTCONFIG="1",
    KIVY_HOME=tempfile.mkdtemp(prefix="gridops-kivy-"),
    SDL_VIDEODRIVER="offscreen",
    KIVY_NO_FILELOG="1",
)

from server.auth.passwords import DEMO_PASSWORD
from tests.conftest import demo_clone
from tests.mobile.netfault import NetFault
from tests.server.case_world import jpeg
from tests.server.live import LiveServer, live_server

INSPECTOR = "13900000001"  # 张伟, inspector of the first village of 历下区's first street
OPERATOR = "zhaomin"  # acceptor, shift lead and dispatcher
PASSWORD = DEMO_PASSWORD


@pytest.fixture(scope="module")
def mobile_db_url(pg_cluster, demo_engine) -> Iterator[str]:
    """A clone of the demo city for one test module."""
    with demo_clone(pg_cluster, demo_engine, "mobile") as url:
        yield url


@pytest.fixture(scope="module")
def server(mobile_db_url, tmp_path_factory) -> Iterator[LiveServer]:
    """The GridOps server on the module's demo clone."""
    with live_server(mobile_db_url, tmp_path_factory.mktemp("server") / "server.log") as live:
        yield live


@pytest.fixture
def app_dir(tmp_path) -> Path:
    """The app's data folder (its SQLite file and photos), new for each test."""
    return tmp_path / "app"


@pytest.fixture
def netfault(server) -> Iterator[NetFault]:
    """The phone's network to the module's server: a proxy that fails on demand (tests/mobile/netfault.py)."""
    with NetFault(server.url) as proxy:
        yield proxy


@pytest.fixture
def inspector_app(app_dir, netfault):
    """The app's services on a new data folder, logged in as the demo inspector through ``netfault``, and
    retrying after 10 ms at most so that a dead network gives up quickly."""
    from mobile.services.app import AppServices

    app = AppServices(app_dir, netfault.url)
    app.login(netfault.url, INSPECTOR, PASSWORD)
    app.api.backoff_s = app.api.backoff_cap_s = 0.01
    yield app
    app.close()


def http_login(server: LiveServer, login: str) -> httpx.Client:
    """A plain HTTP client of ``server`` logged in as ``login`` (its own device), straight to the server:
    how a test looks at what the server holds, whatever the phone's network does."""
    client = httpx.Client(base_url=server.url, timeout=60)
    answer = client.post(
        "/api/auth/login",
        json={
            "login": login,
            "password": PASSWORD,
            "device_id": f"test-{uuid.uuid4()}",
            "device_name": "test",
        },
    )
    answer.raise_for_status()
    client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
    return client


def user_id(client: httpx.Client) -> int:
    return client.get("/api/auth/me").json()["user"]["id"]


def case_of(client: httpx.Client, code: str) -> dict:
    answer = client.get(f"/api/cases/{code}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def act(client: httpx.Client, code: str, action: str, **body) -> dict:
    """Take a workflow action over HTTP at the case's current version (a department signs for the case
    first, as it must before it reports its handling)."""
    case = case_of(client, code)
    if action == "report_handling" and not case["received_by_department_at"]:
        case = act(client, code, "receive")
    answer = client.post(f"/api/cases/{code}/actions/{action}", json={"version": case["version"], **body})
    assert answer.status_code == 200, answer.text
    return answer.json()


def hotline_case(operator: httpx.Client, lon: float, lat: float, description: str, **caller) -> dict:
    """A citizen's call registered by the operator: a case in state reported."""
    answer = operator.post(
        "/api/cases",
        json={
            "client_uuid": str(uuid.uuid4()),
            "category": "E06010",
            "lon": lon,
            "lat": lat,
            "channel": "hotline",
            "description": description,
            **caller,
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


@pytest.fixture(scope="module")
def inspector_http(server) -> Iterator[httpx.Client]:
    """The demo inspector's view of the server, not through the phone's network."""
    client = http_login(server, INSPECTOR)
    yield client
    client.close()


@pytest.fixture(scope="module")
def village(inspector_http) -> tuple[str, float, float]:
    """The demo inspector's village: its code and a point well inside it."""
    answer = inspector_http.get("/api/sync/grids")
    answer.raise_for_status()
    feature = next(f for f in answer.json()["features"] if f["properties"]["level"] == "village")
    point = shapely.geometry.shape(feature["geometry"]).representative_point()
    return feature["properties"]["code"], point.x, point.y


@pytest.fixture
def camera(tmp_path, village) -> Callable[[int], list[Path]]:
    """``camera(n)`` takes ``n`` new photos: real JPEGs geotagged in the inspector's village, each
    different, in the camera's folder (outside the app's storage)."""
    folder = tmp_path / "DCIM"
    folder.mkdir()
    shots = itertools.count(1)
    _, lon, lat = village

    def take(n: int = 1) -> list[Path]:
        paths = []
        for _ in range(n):
            k = next(shots)
            path = folder / f"IMG_{k:04d}.jpg"
            path.write_bytes(jpeg(lon, lat, color=(k * 37 % 256, k * 91 % 256, 60)))
            paths.append(path)
        return paths

    return take


@pytest.fixture
def queue_report(village):
    """``queue_report(outbox, photos, lon=..., lat=...)`` queues an inspector's report of exposed garbage
    (E06010), by default at the village's point."""
    _, village_lon, village_lat = village

    def queue(outbox, photos: list[Path], *, lon: float = village_lon, lat: float = village_lat):
        return outbox.add_report(
            category="E06010",
            lon=lon,
            lat=lat,
            accuracy_m=5.0,
            description="路边垃圾堆放",
            urgency=None,
            photos=photos,
        )

    return queue


@pytest.fixture(scope="module")
def unit(server) -> dict:
    """The first unit grid of the inspector's village (a GeoJSON feature): the simulated walk is in it."""
    with closing(http_login(server, INSPECTOR)) as inspector:
        grids = inspector.get("/api/sync/grids").json()
    units = [f for f in grids["features"] if f["properties"]["level"] == "unit"]
    return min(units, key=lambda f: f["properties"]["code"])


@pytest.fixture(scope="module")
def beat(unit) -> tuple[tuple[float, float], ...]:
    """A few metres' walk inside ``unit``."""
    inside = shapely.geometry.shape(unit["geometry"]).representative_point()
    return (inside.x, inside.y), (inside.x + 0.00004, inside.y + 0.00003)


@pytest.fixture
def drive(app_dir, beat):
    """``drive(data_dir=app_dir, **options)`` starts the app in the offscreen window (walking ``beat``,
    ``accuracy_m`` and ``gps_clock`` set its GPS, the other options go to the app) and returns its
    :class:`~tests.mobile.app_driver.Driver`; every app started is stopped afterwards. Kivy is imported
    here, by the tests that drive the app, not by every test of the folder."""
    from mobile.platform.camera import DesktopCamera
    from mobile.platform.gps import SimulatedGps, utc_now
    from tests.mobile.app_driver import Driver, GridOpsApp

    drivers = []

    def start(data_dir: Path = app_dir, **options):
        gps = SimulatedGps(
            route=beat,
            interval_s=1.0,
            accuracy_m=options.pop("accuracy_m", 8.0),
            clock=options.pop("gps_clock", utc_now),
        )
        app = GridOpsApp(data_dir, gps=gps, camera=DesktopCamera(gps=gps), **options)
        driver = Driver(app).start()
        drivers.append(driver)
        return driver

    yield start
    for driver in drivers:
        if driver.running:
            driver.stop()
