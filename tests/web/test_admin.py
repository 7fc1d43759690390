"""The administrator's pages (管理) in Debian's Chromium on a clone of the demo city: the administrator adds a
user with roles ticked by their Chinese names, the new user logs in from another browser, the administrator
disables them and they are out; a grid file is checked (dry run) and its topology report listed; a taxonomy
file with errors is checked and every error listed; a street team is added; a holiday file is checked,
saved where the settings say (a directory of the test's own) and its day shown in the year. Every page
speaks Chinese."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page
from shapely.affinity import translate
from shapely.geometry import shape

from server.auth.passwords import DEMO_PASSWORD
from server.users.demo import DISTRICT
from tests.conftest import ADMIN_TOKEN
from tests.server.live import LiveServer, live_server
from tests.web.conftest import VIEWPORT, BrowserTab
from tests.web.test_language import read
from tests.web.test_map import SCREENSHOTS, WAIT_MS

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PASSWORD = "周强的密码 2026"
BAD_CATEGORIES = (
    "code,name,urgency,handling_limit,department_code\n"
    "E06010,暴露垃圾,important,4h,sanitation\n"
    "X123,坏编号,important,4h,sanitation\n"
    "E06011,,soon,9x,nosuch\n"
).encode()
HOLIDAYS = "holidays:\n  - 2027-01-01 # 元旦\n  - 2027-02-08 # 春节\nworkdays:\n  - 2027-02-20\n".encode()


@pytest.fixture
def holiday_file(tmp_path) -> Path:
    return tmp_path / "calendar" / "holidays.yaml"


@pytest.fixture
def server(demo_clone_url, tmp_path, holiday_file) -> Iterator[LiveServer]:
    """The app on a clone of the demo city, its holiday file in the test's own directory."""
    log = tmp_path / "server.log"
    with live_server(demo_clone_url, log, GRIDOPS_HOLIDAY_FILE=str(holiday_file)) as live:
        yield live


@pytest.fixture
def browsers(browser) -> Iterator:
    """Open a tab for a user, each in its own browser context (its own session), logged in."""
    contexts = []

    def open_as(url: str, login: str, password: str = DEMO_PASSWORD) -> Page:
        context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
        contexts.append(context)
        tab = BrowserTab(context.new_page())
        log_in(tab.page, url, login, password)
        return tab.page

    yield open_as
    for context in contexts:
        context.close()


def log_in(page: Page, url: str, login: str, password: str) -> None:
    page.goto(f"{url}/")
    page.fill("#login [name=login]", login)
    page.fill("#login [name=password]", password)
    page.click("#login button")
    page.wait_for_selector("#app:not([hidden]), #login .error:not(:empty)", timeout=WAIT_MS)


def admin_page(page: Page, name: str) -> None:
    """Open the 管理 tab's page ``name`` and wait until it has read what it shows."""
    page.click("#tabs [data-view=admin-view]")
    page.wait_for_selector("#admin-view[data-loaded]", timeout=WAIT_MS)
    page.click(f"#admin-nav [data-page={name}]")
    page.wait_for_selector(f"#admin-view[data-loaded={name}]", timeout=WAIT_MS)


def status(page: Page, text: str) -> None:
    page.wait_for_function(
        "(text) => document.getElementById('admin-status').textContent.includes(text)",
        arg=text,
        timeout=WAIT_MS,
    )


def chinese(page: Page, url: str) -> None:
    """Every word on the page is Chinese, but the data itself: user names and department codes."""
    users = httpx.get(f"{url}/api/users", headers=ADMIN).json()
    departments = httpx.get(f"{url}/api/departments", params={"include_inactive": True}).json()
    data = {u["username"] for u in users} | {d["code"] for d in departments}
    english = {text: words for text, words in read(page).items() if text not in data}
    assert not english, english


def test_an_administrator_adds_a_user_who_logs_in_and_is_then_disabled(server, browsers):
    admin = browsers(server.url, "admin")
    assert admin.is_visible("#tabs [data-view=admin-view]")
    admin_page(admin, "users")
    chinese(admin, server.url)
    form = admin.locator("#admin-user-form")
    form.locator("[name=name]").fill("周强")
    form.locator("[name=phone]").fill("13700000001")
    form.locator("[name=username]").fill("zhouqiang")
    form.locator("[name=password]").fill(PASSWORD)
    labels = form.locator(".admin-roles label").all_text_contents()
    assert labels == ["网格员", "受理员", "值班长", "派遣员", "处置部门", "网格长", "领导", "管理员"]
    form.get_by_role("checkbox", name="受理员").check()
    form.get_by_role("checkbox", name="派遣员").check()
    form.locator("button[type=submit]").click()
    status(admin, "已添加用户 周强")
    row = admin.locator("#admin-users tr", has_text="zhouqiang")
    assert row.locator(".roles").text_content() == "受理员、派遣员"
    assert row.locator(".state").text_content() == "启用"

    # the new user logs in from their own browser, and works the desk
    user = browsers(server.url, "zhouqiang", PASSWORD)
    assert user.is_visible("#app") and user.text_content("#user") == "周强"
    assert not user.is_visible("#tabs [data-view=admin-view]")  # not an administrator
    user.click("#tabs [data-view=desk-view]")
    user.wait_for_selector("#queues [data-queue=dispatch]", timeout=WAIT_MS)

    admin_page(admin, "users")  # read again: the login shows as a device
    row = admin.locator("#admin-users tr", has_text="zhouqiang")
    assert row.locator(".devices").text_content() == "1"
    row.locator("[data-act=toggle]").click()
    status(admin, "已停用 周强")
    row = admin.locator("#admin-users tr", has_text="zhouqiang")
    assert row.locator(".state").text_content() == "停用" and row.locator(".devices").text_content() == "0"
    chinese(admin, server.url)
    admin.screenshot(path=SCREENSHOTS / "admin-users.png")

    # their open page is logged out at its next call, and logging in again is refused in words
    user.reload()
    user.wait_for_selector("#login:not([hidden])", timeout=WAIT_MS)
    log_in(user, server.url, "zhouqiang", PASSWORD)
    assert "这个账号已停用" in user.text_content("#login .error")


def village_feature(url: str) -> dict:
    """The first village of 历下区's first street, as the export gives it."""
    street = httpx.get(f"{url}/api/grids", params={"parent": DISTRICT}).json()[0]["code"]
    village = httpx.get(f"{url}/api/grids", params={"parent": street}).json()[0]["code"]
    exported = httpx.get(f"{url}/api/grids/export", params={"code": village}, timeout=60).json()
    return next(f for f in exported["features"] if f["properties"]["code"] == village)


def geojson(*features: dict) -> dict:
    body = json.dumps({"type": "FeatureCollection", "features": list(features)}, ensure_ascii=False).encode()
    return {"name": "网格.geojson", "mimeType": "application/geo+json", "buffer": body}


def test_an_administrator_checks_grid_and_taxonomy_files_adds_a_team_and_loads_holidays(
    server, browsers, holiday_file
):
    admin = browsers(server.url, "admin")

    # a grid file: one village moved 300 m east, out of its street and over its neighbours
    village = village_feature(server.url)
    moved = translate(shape(village["geometry"]), xoff=0.003)
    admin_page(admin, "grids")
    chinese(admin, server.url)
    admin.set_input_files(
        "#admin-grid-form [name=file]", geojson({**village, "geometry": moved.__geo_interface__})
    )
    admin.select_option("#admin-grid-form [name=crs]", "wgs84")
    admin.click("#admin-grid-form button[type=submit]")
    admin.wait_for_selector("#admin-grid-report[data-ok=false]", timeout=WAIT_MS)
    errors = admin.locator("#admin-grid-report li.error")
    assert errors.count() >= 1 and village["properties"]["code"] in errors.first.text_content()
    assert "没有导入任何网格" in admin.text_content("#admin-grid-report")
    assert admin.is_disabled("#admin-grid-form [name=import]")
    admin.screenshot(path=SCREENSHOTS / "admin-grids.png")
    # a new city far from Jinan: checked without errors, it may be imported
    ring = [[116.30, 39.90], [116.31, 39.90], [116.31, 39.91], [116.30, 39.91], [116.30, 39.90]]
    city = {"type": "Polygon", "coordinates": [ring]}
    new = {"type": "Feature", "properties": {"code": "110100", "name": "演示新城"}, "geometry": city}
    admin.set_input_files("#admin-grid-form [name=file]", geojson(new))
    admin.click("#admin-grid-form button[type=submit]")
    admin.wait_for_selector("#admin-grid-report[data-ok=true]", timeout=WAIT_MS)
    assert "检查通过" in admin.text_content("#admin-grid-report")
    assert admin.is_enabled("#admin-grid-form [name=import]")
    chinese(admin, server.url)

    # a taxonomy file with errors: every one is listed, as the server gives them
    files = {"file": ("类别.csv", BAD_CATEGORIES, "text/csv")}
    expected = httpx.post(
        f"{server.url}/api/categories/load", params={"dry_run": True}, files=files, headers=ADMIN
    ).json()
    admin_page(admin, "taxonomy")
    chinese(admin, server.url)
    file = {"name": "类别.csv", "mimeType": "text/csv", "buffer": BAD_CATEGORIES}
    admin.set_input_files("#admin-taxonomy-form [name=file]", file)
    admin.click("#admin-taxonomy-form button[type=submit]")
    admin.wait_for_selector("#admin-taxonomy-result .admin-problems li", timeout=WAIT_MS)
    listed = admin.locator("#admin-taxonomy-result li").all_text_contents()
    assert listed == [e["msg"] for e in expected["errors"]] and len(listed) >= 3
    assert admin.text_content("#admin-taxonomy-result .error") == expected["detail"]
    assert admin.is_disabled("#admin-taxonomy-form [name=load]")

    # a street team on the first street of 历下区
    street = httpx.get(f"{server.url}/api/grids", params={"parent": DISTRICT}).json()[0]
    admin_page(admin, "departments")
    chinese(admin, server.url)
    form = admin.locator("#admin-department-form")
    form.locator("[name=code]").fill("team_one")
    form.locator("[name=name]").fill(f"{street['name']}综合执法队")
    form.locator("[name=phone]").fill("0531-86080000")
    form.locator("[name=grid_code]").fill(street["code"])
    form.locator("button[type=submit]").click()
    status(admin, "已添加部门")
    row = admin.locator("#admin-departments tr[data-code=team_one]")
    assert row.locator("td").nth(3).text_content() == street["code"]
    assert row.locator(".state").text_content() == "启用"
    teams = httpx.get(f"{server.url}/api/departments").json()
    assert {"code": "team_one", "grid_code": street["code"]}.items() <= next(
        d for d in teams if d["code"] == "team_one"
    ).items()

    # the holiday file: checked (nothing written), then saved, and its day shows in the year
    admin_page(admin, "holidays")
    chinese(admin, server.url)
    admin.set_input_files(
        "#admin-holiday-form [name=file]",
        {"name": "holidays.yaml", "mimeType": "text/yaml", "buffer": HOLIDAYS},
    )
    admin.click("#admin-holiday-form button[type=submit]")
    admin.wait_for_selector("#admin-holiday-result .ok", timeout=WAIT_MS)
    assert "2027 年：放假 2 天，调休上班 1 天" in admin.text_content("#admin-holiday-result")
    assert not holiday_file.exists()
    admin.click("#admin-holiday-form [name=save]")
    status(admin, "节假日文件已保存")
    admin.wait_for_selector("#admin-year tr[data-day='2027-02-08']", timeout=WAIT_MS)
    day = admin.locator("#admin-year tr[data-day='2027-02-08'] td").all_text_contents()
    assert day == ["2027-02-08", "周一", "放假", "", "节假日文件"]
    assert admin.locator("#admin-year tr[data-day='2027-02-20'] td").nth(2).text_content() == "上班"
    assert holiday_file.read_bytes() == HOLIDAYS
    assert "在用的节假日文件列出" in admin.text_content("#admin-holiday-file")
    chinese(admin, server.url)
    admin.screenshot(path=SCREENSHOTS / "admin-holidays.png")


def test_an_administrator_trains_the_triage_model_and_puts_an_older_version_back(server, browsers):
    page = browsers(server.url, "admin")
    admin_page(page, "triage")
    page.wait_for_selector("#admin-triage:has-text('还没有训练过')", timeout=WAIT_MS)
    page.fill("#admin-triage-form [name=note]", "上线前首次训练")
    page.click("#admin-triage-form button[type=submit]")
    status(page, "已训练并启用分拣模型第 1 版")
    page.click("#admin-triage-form button[type=submit]")
    status(page, "已训练并启用分拣模型第 2 版")
    in_use = "#admin-triage tr.current"
    assert page.get_attribute(in_use, "data-version") == "2"
    assert "上线前首次训练" in page.inner_text("#admin-triage tr[data-version='1']")
    page.click("#admin-triage tr[data-version='1'] [data-act=use]")
    status(page, "已启用分拣模型第 1 版")
    assert page.get_attribute(in_use, "data-version") == "1"
    chinese(page, server.url)
