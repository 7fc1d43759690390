"""Two cities in the command center, in Debian's Chromium on a clone of the demo city (济南市) with a second
city (北京市, the test grids, the starter taxonomy and one case): a province's administrator sees which city
they work in, reads both cities side by side, and switches to 北京市, after which the desk, the map's tiles
and the live stream are 北京市's; logging out brings them back to their own city. An ordinary user of 济南市
sees no switcher, and a city kept in the browser that is not theirs is forgotten."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page
from sqlalchemy import select

from grids.loaders import load_features
from server.auth.passwords import DEMO_PASSWORD
from server.category import service as categories
from server.city.service import add_city
from server.database import get_engine, new_session
from server.grid import importer
from server.tenant import City, use_city
from tests.server.case_world import PASSWORD, make_user, report, village_point
from tests.server.grid_files import DX, DY, SOUTH, WEST, city_features, collection
from tests.server.live import LiveServer, live_server
from tests.web.conftest import VIEWPORT, BrowserTab, logged_in
from tests.web.test_map import SCREENSHOTS, WAIT_MS

BEIJING = "110100"
BEIJING_ADDRESS = "北京测试路 1 号"
JINAN_ADDRESS = "济南测试路 2 号"
ORDINARY = "zhaomin"  # a 济南市 operator of the demo: works in one city
CITY_KEY = "gridops.city"
FIGURES = ("open", "overdue", "received_today", "closed_today")


@pytest.fixture
def two_cities(demo_clone_url, tmp_path) -> Iterator[dict]:
    """The demo's 济南市 and a second city, 北京市, each with a case of its own (of the same code: the first
    of the same district on the same day); a province's administrator of 济南市 who
    also works in 北京市; then the server."""
    with new_session(demo_clone_url) as db:
        jinan = db.scalar(select(City).where(City.code == "370100"))
        beijing = add_city(db, code=BEIJING, name="北京市")
        use_city(db, beijing.id)
        records, parsed = load_features(collection(city_features()))
        imported = importer.import_grids(db=db, records=records, report=parsed)
        assert imported.report.ok, imported.report.format_text()
        categories.load_starter(db=db)
        acceptor = make_user(db, ["acceptor"])
        point = (WEST + DX / 8, SOUTH + DY / 2)
        case = report(db, acceptor, *point, description="北京市的井盖缺失", address=BEIJING_ADDRESS)
        use_city(db, jinan.id)
        _, lon, lat = village_point(db)
        jinan_acceptor = make_user(db, ["acceptor"])
        report(db, jinan_acceptor, lon, lat, description="济南市的井盖缺失", address=JINAN_ADDRESS)
        admin = make_user(db, ["admin", "leader"], name="省平台管理员")
        admin.user.also_cities = [beijing.id]
        db.commit()
        made = {"case": case.code, "admin": admin.user.phone}
    get_engine(demo_clone_url).dispose()
    with live_server(demo_clone_url, tmp_path / "server.log") as server:
        yield {**made, "server": server}


@pytest.fixture
def tabs(browser) -> Iterator:
    """Open a tab in a browser context of its own (its own storage) and log in there."""
    contexts = []

    def open_as(server: LiveServer, login: str, password: str) -> BrowserTab:
        context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai")
        contexts.append(context)
        tab = BrowserTab(context.new_page())
        tab.page.goto(f"{server.url}/")
        log_in(tab.page, login, password)
        return tab

    yield open_as
    for context in contexts:
        context.close()


def log_in(page: Page, login: str, password: str) -> None:
    page.fill("#login [name=login]", login)
    page.fill("#login [name=password]", password)
    page.click("#login button")
    page.wait_for_selector("#live.on", timeout=WAIT_MS)  # the live stream is connected


def overview_rows(page: Page) -> dict[str, dict]:
    """The overview's rows by city code: the city's name cell and each figure."""
    rows = page.locator("#city-overview tbody tr")
    return {
        row.get_attribute("data-city"): {
            "name": row.locator("td").first.inner_text(),
            "current": row.get_attribute("aria-current") == "true",
            **{
                cell.get_attribute("data-field"): int(cell.inner_text())
                for cell in row.locator("td[data-field]").all()
            },
        }
        for row in rows.all()
    }


def desk_addresses(page: Page, code: str) -> list[str]:
    """The places of the cases waiting for registration (待受理) on the desk, once ``code`` is listed."""
    page.click("#tabs [data-view=desk-view]")
    page.click("#queues [data-queue=register]")
    page.wait_for_selector(f"#case-list tr[data-code='{code}']", timeout=WAIT_MS)
    return page.locator("#case-list tbody tr td:last-child").all_inner_texts()


def api_overview(server: LiveServer, login: str) -> list[dict]:
    """The overview as the API answers it to ``login``."""
    with httpx.Client(base_url=server.url, timeout=60) as http:
        body = {"login": login, "password": PASSWORD, "device_id": "test-cities", "device_name": "pytest"}
        answer = http.post("/api/auth/login", json=body)
        answer.raise_for_status()
        token = answer.json()["access_token"]
        return http.get("/api/cities/overview", headers={"Authorization": f"Bearer {token}"}).json()


def test_a_province_administrator_reads_both_cities_and_switches_to_the_other(two_cities, tabs):
    server = two_cities["server"]
    admin = tabs(server, two_cities["admin"], PASSWORD)
    page = admin.page
    assert page.inner_text("#city .current") == "当前城市：济南市"
    assert page.locator("#city select option").all_inner_texts() == ["切换城市", "北京市"]
    assert desk_addresses(page, two_cities["case"]) == [JINAN_ADDRESS]

    page.click("#tabs [data-view=cities-view]")
    page.wait_for_selector(f"#city-overview tr[data-city='{BEIJING}']", timeout=WAIT_MS)
    page.locator("#cities-view").screenshot(path=SCREENSHOTS / "cities-overview.png")
    shown = overview_rows(page)
    assert list(shown) == ["370100", BEIJING]
    assert shown[BEIJING] == {
        "name": "北京市",
        "current": False,
        "open": 1,
        "overdue": 0,
        "received_today": 1,
        "closed_today": 0,
    }
    figures = {city["code"]: city for city in api_overview(server, two_cities["admin"])}
    assert shown["370100"] == {
        "name": "济南市（当前）",
        "current": True,
        **{field: figures["370100"][field] for field in FIGURES},
    }
    assert shown["370100"]["open"] >= 1

    # choosing 北京市 reloads the page in it: the map's tiles and the live stream are asked for in it
    def tile_in_beijing(request) -> bool:
        return "/tiles/" in request.url and request.headers.get("x-gridops-city") == BEIJING

    def stream_in_beijing(request) -> bool:
        return "/api/events/stream" in request.url and f"city={BEIJING}" in request.url

    context = page.context
    with (
        context.expect_event("request", tile_in_beijing, timeout=WAIT_MS),
        context.expect_event("request", stream_in_beijing, timeout=WAIT_MS),
    ):
        page.click(f"#city-overview tr[data-city='{BEIJING}']")
        page.wait_for_selector(f"#city[data-city='{BEIJING}']", timeout=WAIT_MS)
    page.wait_for_selector("#live.on", timeout=WAIT_MS)
    assert page.inner_text("#city .current") == "当前城市：北京市"
    assert page.evaluate(f"localStorage.getItem('{CITY_KEY}')") == BEIJING

    # the desk is 北京市's: its case, not 济南市's of the same code
    assert desk_addresses(page, two_cities["case"]) == [BEIJING_ADDRESS]

    # the next login starts in the user's own city
    page.click("#logout")
    page.wait_for_selector("#login:not([hidden])")
    assert page.evaluate(f"localStorage.getItem('{CITY_KEY}')") is None
    log_in(page, two_cities["admin"], PASSWORD)
    assert page.inner_text("#city .current") == "当前城市：济南市"
    assert admin.errors == []


def test_a_user_of_one_city_has_no_switcher_and_a_city_not_theirs_is_forgotten(two_cities, tabs):
    server = two_cities["server"]
    with logged_in(server.url, ORDINARY) as http:
        assert [c["code"] for c in http.get("/api/cities").json()] == ["370100"]
    operator = tabs(server, ORDINARY, DEMO_PASSWORD)
    page = operator.page
    assert page.locator("#city").is_hidden()
    assert page.locator("#tabs [data-view=cities-view]").is_hidden()

    # a city kept in the browser that the user does not work in: forgotten, and the page is their city's
    page.evaluate(f"localStorage.setItem('{CITY_KEY}', '{BEIJING}')")
    page.reload()
    page.wait_for_function(f"localStorage.getItem('{CITY_KEY}') === null", timeout=WAIT_MS)
    page.wait_for_selector("#live.on", timeout=WAIT_MS)
    assert page.locator("#city").is_hidden()
    assert operator.errors == []
