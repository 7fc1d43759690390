"""The app in a real (offscreen) Kivy window against a live GridOps server on the demo city: log in, the
home screen, the map, a report with a photo through the outbox to its case code, the case's timeline, a
check task answered from the phone, and offline login. Each screen is saved to the screenshots folder
(``tests.conftest.screenshot_dir``; ``make screenshots`` refreshes the README's)."""

from __future__ import annotations

from contextlib import closing
from datetime import timedelta

# isort: off
import mobile.main  # noqa: F401 (first: it sets the window's size, which Kivy fixes when it makes it)

# isort: on
import io
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from kivy.cache import Cache
from kivy.metrics import dp
from kivy_garden.mapview.mbtsource import MBTilesMapSource
from PIL import Image

from gis.tiles import tile_for_point
from mobile.platform.gps import utc_now
from mobile.screens.gridmap import TiledGridMap
from server import messages
from tests.conftest import screenshot_dir
from tests.mobile.app_driver import Driver, Window, colours, log_in, synced
from tests.mobile.category_tree import category_row
from tests.mobile.conftest import (
    INSPECTOR,
    OPERATOR,
    PASSWORD,
    act,
    case_of,
    hotline_case,
    http_login,
    user_id,
)
from tests.mobile.layout import layout_problems
from tests.server.case_world import jpeg
from tests.server.live import live_server
from tests.tile_packages import config_file, raster_pmtiles

SHOTS = screenshot_dir("mobile")
WIDER_DP = 411  # a large phone's width


def shoot(driver: Driver, name: str) -> None:
    """Save the screen for the README (a notice still showing is tapped away first), after checking its
    layout at the phone's width and at a wider one's (:data:`WIDER_DP`): touch targets of 48 dp, no text
    cut or drawn over another."""
    if driver.app.notice:
        driver.tap(driver.find("Notice", root=driver.app.root))
        assert not driver.app.notice
    assert layout_problems(driver.screen) == [], f"{name} at {Window.width} dp"
    with driver.window_width(dp(WIDER_DP)):
        assert layout_problems(driver.screen) == [], f"{name} at {WIDER_DP} dp"
    png = driver.screenshot(SHOTS / f"{name}.png")
    assert colours(png) > 20, f"{png} looks blank"


def test_login_and_home(drive, server):
    d = drive()
    shoot(d, "login")
    d.tap(d.screen.ids.submit)
    assert d.screen.error == "请填写服务器地址、账号和密码。"
    log_in(d, server.url)
    synced(d)
    home = d.screen
    assert home.ids.user.text == f"张伟　{INSPECTOR}" and home.ids.shift_state.text == "未上岗"
    assert (home.ids.waiting.value, home.ids.failed.value, home.ids.tasks.value) == (0, 0, 0)
    assert home.ids.sync.text.startswith("已同步 · 上次同步成功")
    assert home.ids.patrol.text == "今日巡查 0 小时 0 分"


def test_report_through_the_outbox_to_its_case(drive, server, unit):
    d = drive()
    log_in(d, server.url)
    synced(d)
    d.tap(d.screen.ids.clock)
    assert d.app.services.patrol.on_shift and d.screen.ids.shift_state.text == "在岗巡查中"

    d.nav("map")
    grid_map = d.screen.map
    d.until(lambda: grid_map.position is not None and grid_map.drawn_outlines, "the map with my position")
    assert grid_map.drawn_outlines == d.app.services.cache.grid_count()
    assert 0 < grid_map.drawn_labels <= 100
    shoot(d, "map")
    before = grid_map.view()
    d.drag(grid_map, -60, 30)
    moved = grid_map.view()
    assert (round(moved.dx - before.dx), round(moved.dy - before.dy)) == (-60, 30)
    d.tap(d.find("MapButton", text="+"))
    assert grid_map.view().scale == pytest.approx(2 * before.scale)
    assert grid_map.drawn_labels <= 100

    d.nav("report")
    report = d.screen
    d.until(lambda: report.pin is not None, "the pin at the GPS fix")
    assert report.grid_name == unit["properties"]["name"]
    assert "精度 ±8 米" in report.ids.where.text and not report.warning
    assert report.blocked == "请至少拍一张照片。"
    d.tap(report.ids.photos.ids.take)
    d.until(lambda: report.ids.photos.paths, "the photo from the camera")
    assert report.blocked == "请选择问题类别。"
    d.tap(category_row(d, report, "E06"))  # a major class lists its categories (two levels: the starter's)
    assert report.level == "E06"
    assert all(row["code"].startswith("E06") for row in report.ids.choices.data)
    d.type(report.ids.search, "垃圾")  # a search looks through every class, the one open too
    d.frames(2)
    codes = [row["code"] for row in report.ids.choices.data]
    assert {"C03004", "E03006", "E06010"} <= set(codes)
    d.tap(d.find("ChoiceRow", code="E06010"))
    assert report.category["code"] == "E06010" and report.urgency == report.category["urgency"]
    d.tap(report.ids.urgent)
    d.type(report.ids.description, "人行道上有一堆装修垃圾")
    assert report.blocked == ""
    shoot(d, "report")

    d.app.services.sync.stop()  # hold the background sync, to see the report wait in the outbox
    d.tap(report.ids.submit)
    assert d.app.current == "outbox"
    outbox = d.screen
    d.frames(2)
    row = d.find("OutboxRow")
    assert row.state_text == "待发送" and row.code == "" and row.can_delete
    assert not report.ids.photos.paths and report.ids.description.text == ""  # the form starts afresh

    d.app.services.sync.start()
    d.until(lambda: d.find("OutboxRow").state_text == "已发送", "the report to be sent")
    row = d.find("OutboxRow")
    code = row.code
    assert code == d.app.services.outbox.items()[0].case_code and not row.can_delete
    shoot(d, "outbox")
    with closing(http_login(server, INSPECTOR)) as inspector:
        case = case_of(inspector, code)
    assert case["category"]["code"] == "E06010" and case["urgency"] == "urgent"
    assert case["description"] == "人行道上有一堆装修垃圾" and case["grid_code"] == unit["properties"]["code"]
    assert [p["role"] for p in case["photos"]] == ["before"]
    assert outbox.ids.summary.text.startswith("待发送 0 · 已发送 1")

    d.tap(d.find("SmallButton", text="详情", root=row))
    assert d.app.current == "case"
    case_screen = d.screen
    d.until(lambda: case_screen.ids.timeline.children, "the case's timeline")
    events = case_screen.ids.timeline.children[::-1]
    assert len(events) == len(case["timeline"])
    assert "上报" in events[0].text and case["state_label"] in case_screen.ids.summary.text
    shoot(d, "case")

    d.nav("home")  # my reports are listed there too, and open the same case
    home = d.screen
    assert home.ids.shift_state.text == "在岗巡查中" and home.ids.waiting.value == 0
    assert d.find("CaseRow").text.startswith(code)
    shoot(d, "home")

    def open_from_home() -> bool:
        # The list is drawn anew on each fix and sync: a row found a moment ago may be gone by the tap,
        # so the tap is made on the row as it is now, until the case opens.
        if d.app.current != "case":
            d.tap(d.find("CaseRow"))
        return d.app.current == "case"

    d.until(open_from_home, "the case opened from my reports")
    assert d.screen.code == code


@pytest.fixture
def tasks_for_inspector(server, beat, admin_headers) -> dict[str, str]:
    """Two tasks for the inspector, set up over HTTP: a case to verify (a citizen's call), and a case
    to check (reported, verified, filed, dispatched and handled by its department)."""
    operator, inspector = http_login(server, OPERATOR), http_login(server, INSPECTOR)
    me = user_id(inspector)
    (lon, lat), _ = beat
    verify = hotline_case(operator, lon, lat, "市民来电：路边垃圾没人清")["code"]
    act(operator, verify, "request_verification", inspector_id=me)

    check = hotline_case(operator, lon, lat, "市民来电：小区门口堆满垃圾")["code"]
    act(operator, check, "request_verification", inspector_id=me)
    act(inspector, check, "reply_verification", result="confirmed")
    act(operator, check, "file")
    department = act(operator, check, "dispatch")["department"]["code"]
    phone = f"177{uuid.uuid4().int % 10**8:08d}"
    created = httpx.post(
        f"{server.url}/api/users",
        headers=admin_headers,
        json={"name": "环卫处置员", "phone": phone, "roles": ["department"], "department_code": department,
              "password": PASSWORD},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    handler = http_login(server, phone)
    photo = handler.post(
        f"/api/cases/{check}/photos",
        params={"role": "after"},
        files={"file": ("after.jpg", jpeg(lon, lat, color=(90, 160, 90)), "image/jpeg")},
    )
    assert photo.status_code == 201, photo.text
    act(handler, check, "report_handling", note="已清运")
    act(operator, check, "request_check", inspector_id=me)
    for client in (operator, inspector, handler):
        client.close()
    return {"verify": verify, "check": check}


def test_tasks_answered_from_the_phone(drive, server, tasks_for_inspector, tmp_path):
    verify, check = tasks_for_inspector["verify"], tasks_for_inspector["check"]
    d = drive()
    log_in(d, server.url)
    synced(d)
    assert d.screen.ids.tasks.value == 2

    d.nav("map")
    assert sum(spot.task for spot in d.screen.map.spots) == 2  # a square for each task
    d.nav("tasks")
    assert {row["code"] for row in d.screen.ids.rows.data} == {verify, check}
    shoot(d, "tasks")

    d.tap(d.find("TaskRow", code=check))
    assert d.app.current == "task"
    task = d.screen
    d.until(lambda: task.ids.case_photos.children, "the case's photos")
    assert "已清运" not in task.ids.facts.text and "核查中" in task.ids.facts.text
    d.tap(d.find("ResultButton", code="pass"))
    assert task.result == "pass" and task.blocked == "核查通过需要至少一张现场照片：请先拍照。"

    picture = tmp_path / "pictures" / "check.jpg"
    picture.parent.mkdir()
    picture.write_bytes(jpeg(d.app.fix.lon, d.app.fix.lat, color=(120, 140, 200)))
    d.tap(task.ids.photos.ids.pick)
    popup = d.popup("PickPopup")
    popup.ids.chooser.path = str(picture.parent)
    entry = d.until(
        lambda: next((w for w in popup.walk() if getattr(w, "path", None) == str(picture)), None), "the file"
    )
    d.tap(entry)
    assert popup.ids.chooser.selection == [str(picture)]
    d.tap(popup.ids.choose)
    d.until(lambda: task.ids.photos.paths, "the picked photo")
    d.type(task.ids.note, "已清理干净")
    assert task.blocked == ""
    shoot(d, "task")

    d.tap(task.ids.send)
    assert d.app.current == "outbox"
    d.until(lambda: d.find("OutboxRow").state_text == "已发送", "the reply to be sent")
    operator = http_login(server, OPERATOR)
    checked = case_of(operator, check)
    assert checked["state"] == "checked"
    assert [p["role"] for p in checked["photos"]].count("check") == 1
    assert (
        checked["timeline"][-1]["action"] == "reply_check" and checked["timeline"][-1]["note"] == "已清理干净"
    )

    # The verification task ends on the server (the case is voided) while the phone still shows it.
    d.nav("tasks")
    d.tap(d.find("TaskRow", code=verify))
    act(operator, verify, "void", reason="重复来电")
    d.tap(d.find("ResultButton", code="not_found"))
    d.tap(d.screen.ids.send)
    outbox = d.app.services.outbox
    refused = outbox.items()[0].id  # the newest item: rows are recycled widgets, so find them by item
    d.until(lambda: d.find("OutboxRow", item_id=refused).state_text == "发送失败", "the reply to be refused")
    row = d.find("OutboxRow", item_id=refused)
    assert f"案件 {verify} 已不再等待这条回复" in row.problem and row.can_retry and row.can_delete
    d.tap(d.find("SmallButton", text="重发", root=row))
    d.until(lambda: outbox.get(refused).attempts == 2 and outbox.get(refused).state == "failed", "the retry")
    d.until(lambda: d.find("OutboxRow", item_id=refused).state_text == "发送失败", "the retry refused too")
    d.tap(d.find("SmallButton", text="删除", root=d.find("OutboxRow", item_id=refused)))
    question = d.popup("ChoicePopup")
    d.tap(d.find("BigButton", text="删除", root=question))
    d.until(lambda: question.parent is None, "the question to close")
    assert [i.kind for i in outbox.items()] == ["reply"]  # the sent check reply is left
    assert d.find("OutboxRow").state_text == "已发送"


def test_poor_fix_and_a_pin_placed_by_hand(drive, server):
    d = drive(accuracy_m=45.0)
    log_in(d, server.url)
    synced(d)
    d.nav("report")
    report = d.screen
    d.until(lambda: report.pin is not None, "the pin at the GPS fix")
    assert report.warning.startswith("定位精度较差（±45 米）") and not report.by_hand
    gps_pin = report.pin
    grid_map = report.ids.panel.map
    x, y = grid_map.to_window(*grid_map.center)
    d.tap_at(x + dp(40), y - dp(20))  # east and south of the pin, which the small map centres on
    assert report.by_hand and report.warning == "" and "手动选点" in report.ids.where.text
    assert report.pin[0] > gps_pin[0] and report.pin[1] < gps_pin[1]
    assert grid_map.pin == report.pin
    d.tap(d.find("SmallButton", text="回到GPS位置"))
    assert not report.by_hand and report.warning.startswith("定位精度较差")


def test_no_report_without_a_current_fix(drive, server):
    """A receiver that only gives a position of ten minutes ago (its last known one) is no fix."""
    d = drive(gps_clock=lambda: utc_now() - timedelta(minutes=10))
    log_in(d, server.url)
    synced(d)
    d.nav("report")
    report = d.screen
    d.until(lambda: report.pin is not None, "the pin at the old position")
    d.tap(report.ids.photos.ids.take)
    d.until(lambda: report.ids.photos.paths, "the photo from the camera")
    d.tap(category_row(d, report, "E06"))
    d.tap(category_row(d, report, "E06010"))
    assert report.blocked == "GPS定位已过时（10 分钟前），不能提交：请到开阔处稍候。"
    assert report.ids.blocked.text == report.blocked and report.ids.submit.disabled
    d.tap(report.ids.submit)
    assert d.app.current == "report" and d.app.services.outbox.items() == []


def test_offline_login_after_a_first_login(drive, mobile_db_url, app_dir, tmp_path, admin_headers):
    with live_server(mobile_db_url, tmp_path / "server.log") as gone:  # a server that will go away
        d = drive()
        log_in(d, gone.url)
        synced(d)
        with closing(http_login(gone, INSPECTOR)) as inspector:
            me = user_id(inspector)
        devices = httpx.get(
            f"{gone.url}/api/auth/devices", params={"user_id": me}, headers=admin_headers
        ).json()
        (phone,) = [s for s in devices if s["device_id"] == d.app.services.device_id]
        revoked = httpx.post(f"{gone.url}/api/auth/devices/{phone['id']}/revoke", headers=admin_headers)
        assert revoked.status_code == 200, revoked.text
        d.tap(d.find("SmallButton", text="立即同步"))
        d.until(lambda: d.app.current == "login", "the login screen once the session was revoked")
        ended = [text for code, text in messages.catalogue().items() if code.startswith("auth.")]
        assert d.app.notice in ended  # why, in the server's words
        d.stop()

    d = drive(app_dir)  # the same phone, and its server cannot be reached any more
    login = d.screen
    assert login.name == "login" and login.ids.server.text == gone.url
    d.type(login.ids.login, INSPECTOR)
    d.type(login.ids.password, "not the password")
    d.tap(login.ids.submit)
    d.until(lambda: login.error, "the refusal")
    assert login.error == "密码不对（没有网络，已在手机上核对）：请重新输入。"
    d.type(login.ids.password, PASSWORD)
    d.tap(login.ids.submit)
    d.until(lambda: d.app.current == "home", "the offline login")
    assert d.app.services.offline and "离线登录" in d.screen.ids.user.text


def write_mbtiles(path: Path, lon: float, lat: float, colour: tuple[int, int, int]) -> Path:
    """A raster MBTiles file of plain tiles at zooms 15 and 16 around (lon, lat) (rows in TMS order)."""
    tile = io.BytesIO()
    Image.new("RGB", (256, 256), colour).save(tile, "PNG")
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
    db.execute("CREATE TABLE tiles (zoom_level INT, tile_column INT, tile_row INT, tile_data BLOB)")
    db.executemany(
        "INSERT INTO metadata VALUES (?, ?)",
        [
            ("name", "test"),
            ("format", "png"),
            ("minzoom", "15"),
            ("maxzoom", "16"),
            ("center", f"{lon},{lat},16"),
        ],
    )
    for z in (15, 16):
        x, y = tile_for_point(lon, lat, z)
        rows = [
            (z, x + dx, (1 << z) - 1 - (y + dy), tile.getvalue())
            for dx in range(-3, 4)
            for dy in range(-4, 5)
        ]
        db.executemany("INSERT INTO tiles VALUES (?, ?, ?, ?)", rows)
    db.commit()
    db.close()
    return path


def test_map_over_local_mbtiles(drive, server, beat, tmp_path):
    (lon, lat), _ = beat
    tiles = write_mbtiles(tmp_path / "base.mbtiles", lon, lat, (250, 190, 120))
    d = drive(mbtiles=tiles)
    log_in(d, server.url)
    synced(d)
    d.nav("map")
    grid_map = d.screen.map
    assert isinstance(grid_map, TiledGridMap) and isinstance(grid_map.mapview.map_source, MBTilesMapSource)
    d.until(lambda: grid_map.drawn_outlines and grid_map.position, "the grids over the tiles")
    d.until(
        lambda: any(t.state == "animated" for t in grid_map.mapview._tiles), "tiles from the file, faded in"
    )
    png = d.screenshot(tmp_path / "map.png")
    with Image.open(png) as shot:
        pixels = dict((colour, n) for n, colour in shot.convert("RGB").getcolors(1 << 20))
    assert pixels.get((250, 190, 120), 0) > 10_000  # the tiles fill the map, under the grid lines


def test_map_over_a_package_cut_for_the_grid(drive, server, mobile_db_url, unit, beat, tmp_path):
    """The documented way to a phone's base map: ``gridops basemaps cut`` of the inspector's village from
    the center's package, opened by the app as its MBTiles file."""
    (lon, lat), _ = beat
    colour = (120, 170, 230)
    around = (lon - 0.02, lat - 0.02, lon + 0.02, lat + 0.02)
    raster_pmtiles(tmp_path / "city.pmtiles", colour, bounds=around, zooms=(14, 17))
    layer = {
        "id": "city",
        "name": "本市影像",
        "kind": "package",
        "path": "city.pmtiles",
        "group": "base",
        "crs": "wgs84",
    }
    basemaps = config_file(tmp_path / "basemaps.toml", layer)
    cut = tmp_path / "phone.mbtiles"
    grid = unit["properties"]["parent_code"]  # the inspector's village, which the map shows whole
    subprocess.run(
        [Path(sys.executable).parent / "gridops", "basemaps", "cut", "city",
         "--grid", grid, "--zooms", "15-16", "--out", str(cut)],
        env={**os.environ, "DATABASE_URL": mobile_db_url, "GRIDOPS_BASEMAPS": str(basemaps)},
        check=True,
        capture_output=True,
    )  # fmt: skip
    # kivy_garden.mapview names an MBTiles tile's image by zoom, column and row only, and Kivy caches images
    # by name for the process: the other map test's tiles of the same places would be shown.
    for category in ("kv.image", "kv.texture"):
        Cache.remove(category)
    d = drive(mbtiles=cut)
    log_in(d, server.url)
    synced(d)
    d.nav("map")
    grid_map = d.screen.map
    assert isinstance(grid_map, TiledGridMap) and isinstance(grid_map.mapview.map_source, MBTilesMapSource)
    d.until(lambda: grid_map.drawn_outlines and grid_map.position, "the grids over the tiles")
    d.until(lambda: any(t.state == "animated" for t in grid_map.mapview._tiles), "tiles from the cut file")
    png = d.screenshot(tmp_path / "map.png")
    with Image.open(png) as shot:
        pixels = {rgb: n for n, rgb in shot.convert("RGB").getcolors(1 << 20)}
    assert pixels.get(colour, 0) > 200_000  # the village's tiles fill most of the map, under the grid lines
