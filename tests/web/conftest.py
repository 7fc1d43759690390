"""Debian's Chromium driven by Playwright (headless), and the app served live on a clone of the demo city."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx
import pytest
import shapely
from playwright.sync_api import Browser, Page, sync_playwright

from server.auth.passwords import DEMO_PASSWORD
from server.users.demo import DISTRICT
from tests.server.live import LiveServer, live_server

CHROMIUM = "/usr/bin/chromium"  # installed by scripts/install-system.sh; Playwright downloads no browser here
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def web_server(demo_clone_url, tmp_path) -> Iterator[LiveServer]:
    with live_server(demo_clone_url, tmp_path / "server.log") as server:
        yield server


class BrowserTab:
    """A page in a fresh browser context that logs every request it and its workers make."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.context.on("request", lambda request: self.requests.append(request.url))
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def hosts(self) -> set[str]:
        """The hosts requested over the network (data: and blob: URLs stay in the browser)."""
        return {
            urlsplit(url).hostname for url in self.requests if urlsplit(url).scheme not in ("data", "blob")
        }


@pytest.fixture
def tab(browser) -> Iterator[BrowserTab]:
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    try:
        yield BrowserTab(context.new_page())
    finally:
        context.close()


@contextmanager
def logged_in(server_url: str, login: str) -> Iterator[httpx.Client]:
    """An API client logged in as the demo user ``login`` (phone or user name), on a device of its own."""
    with httpx.Client(base_url=server_url, timeout=60) as http:
        device = {"device_id": f"test-{uuid.uuid4()}", "device_name": "pytest"}
        answer = http.post("/api/auth/login", json={"login": login, "password": DEMO_PASSWORD, **device})
        answer.raise_for_status()
        http.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        yield http


def first_grid(server_url: str, login: str, level: str) -> dict:
    """The first grid of ``level`` (a GeoJSON feature) among those the demo user ``login`` syncs."""
    with logged_in(server_url, login) as http:
        features = http.get("/api/sync/grids").json()["features"]
    return next(f for f in features if f["properties"]["level"] == level)


def shape_of(server_url: str, code: str):
    answer = httpx.get(f"{server_url}/api/grids/{code}")
    answer.raise_for_status()
    return shapely.geometry.shape(answer.json()["geometry"])


def street_cases(server_url: str, categories: Sequence[str]) -> list[dict]:
    """Hotline cases registered by the operator, one of each category well inside each of the first
    streets of 历下区; each with its lon and lat."""
    streets = httpx.get(f"{server_url}/api/grids", params={"parent": DISTRICT}).json()[: len(categories)]
    made = []
    with logged_in(server_url, "zhaomin") as operator:
        for street, category in zip(streets, categories, strict=True):
            point = shape_of(server_url, street["code"]).representative_point()
            answer = operator.post(
                "/api/cases",
                json={
                    "client_uuid": str(uuid.uuid4()),
                    "category": category,
                    "lon": point.x,
                    "lat": point.y,
                    "channel": "hotline",
                    "description": f"{street['name']}的问题",
                },
            )
            assert answer.status_code == 201, answer.text
            made.append({**answer.json(), "lon": point.x, "lat": point.y})
    return made
