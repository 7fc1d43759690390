"""Tasks in the field: each row of the list with its countdown badge and how far the case is, never
clipped on a narrow phone; the task with its small map, labelled photos shown large on a tap, and a check's
handling note; a 属实 reply needs a photo, and a photo taken far from the case asks before it is sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# isort: off
import mobile.main  # noqa: F401 (first: it sets the window's size, which Kivy fixes when it makes it)

# isort: on
import re
import uuid
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from kivy.metrics import dp

from mobile.screens.tasks import countdown
from tests.mobile.app_driver import Driver, log_in, synced
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
from tests.server.live import LiveServer

LONG_CATEGORY = "E01037"  # 路灯不亮（连续3盏以上）: the longest name of the demo's categories


def handled_case(server: LiveServer, admin_headers: dict, lon: float, lat: float) -> str:
    """A citizen's call with a photo from the operator, verified by the inspector, dispatched, handled by
    its department with a photo and the note 已清运, and sent to the inspector to check: the case's
    code."""
    with closing(http_login(server, OPERATOR)) as operator, closing(http_login(server, INSPECTOR)) as me:
        code = hotline_case(operator, lon, lat, "市民来电：小区门口堆满垃圾")["code"]
        before = operator.post(
            f"/api/cases/{code}/photos",
            params={"role": "before"},
            files={"file": ("before.jpg", jpeg(lon, lat, color=(160, 90, 60)), "image/jpeg")},
        )
        assert before.status_code == 201, before.text
        act(operator, code, "request_verification", inspector_id=user_id(me))
        act(me, code, "reply_verification", result="confirmed")
        act(operator, code, "file")
        department = act(operator, code, "dispatch")["department"]["code"]
        phone = f"176{uuid.uuid4().int % 10**8:08d}"
        handler = {"name": "环卫处置员", "phone": phone, "roles": ["department"], "password": PASSWORD}
        created = httpx.post(
            f"{server.url}/api/users", headers=admin_headers, json=handler | {"department_code": department}
        )
        assert created.status_code == 201, created.text
        with closing(http_login(server, phone)) as handler:
            after = handler.post(
                f"/api/cases/{code}/photos",
                params={"role": "after"},
                files={"file": ("after.jpg", jpeg(lon, lat, color=(90, 160, 90)), "image/jpeg")},
            )
            assert after.status_code == 201, after.text
            act(handler, code, "report_handling", note="已清运")
        act(operator, code, "request_check", inspector_id=user_id(me))
    return code


@pytest.fixture
def tasks(server, beat, admin_headers) -> dict[str, str]:
    """Two tasks for the inspector where the simulated walk is: a verification of a case of the longest
    category name, and a check of a handled case."""
    (lon, lat), _ = beat
    with closing(http_login(server, OPERATOR)) as operator, closing(http_login(server, INSPECTOR)) as me:
        verify = hotline_case(operator, lon, lat, "市民来电：路灯不亮", category=LONG_CATEGORY)["code"]
        act(operator, verify, "request_verification", inspector_id=user_id(me))
    return {"verify": verify, "check": handled_case(server, admin_headers, lon, lat)}


def open_task(d: Driver, code: str):
    d.nav("tasks")
    d.until(lambda: d.find("TaskRow", code=code), "the task in the list")
    d.tap(d.find("TaskRow", code=code))
    d.until(lambda: d.app.current == "task" and d.screen.task.get("code") == code, "the task")
    return d.screen


def form_problems(task) -> list[str]:
    """The layout problems of the task screen but those of its small map's own buttons (gridmap.kv's:
    checked once, at the end of test_check_task_with_map_photos_and_handling_note)."""
    return [p for p in layout_problems(task) if not p.startswith("MapButton")]


def pick_picture(d: Driver, strip, picture: Path) -> None:
    """Add ``picture`` to a photo strip with its 选择 button (the desktop's gallery)."""
    d.tap(strip.ids.pick)
    popup = d.popup("PickPopup")
    popup.ids.chooser.path = str(picture.parent)
    entry = d.until(
        lambda: next((w for w in popup.walk() if getattr(w, "path", None) == str(picture)), None), "the file"
    )
    d.tap(entry)
    d.tap(popup.ids.choose)
    d.until(lambda: strip.paths and not strip.busy and popup.parent is None, "the picked photo")


def test_countdown_in_words():
    now = datetime(2026, 6, 12, 9, 0, tzinfo=UTC)

    def due(**delta) -> str:
        return (now + timedelta(**delta)).isoformat()

    assert countdown({"due_at": due(hours=3, minutes=10), "light": "green"}, now) == ("剩 3 小时", "green")
    assert countdown({"due_at": due(minutes=40), "light": "yellow"}, now) == ("剩 40 分钟", "yellow")
    assert countdown({"due_at": due(days=3), "light": "green"}, now) == ("剩 3 天", "green")
    # Past the due instant it is red, whatever the light of the last sync was.
    assert countdown({"due_at": due(hours=-2), "light": "yellow"}, now) == ("超时 2 小时", "red")
    assert countdown({"due_at": None, "light": None}, now) == ("不计时", "")


def test_rows_with_badge_and_distance_never_clipped(drive, server, tasks):
    d = drive()
    log_in(d, server.url)
    synced(d)
    d.until(lambda: d.app.fix, "a GPS fix")
    d.nav("tasks")
    d.until(lambda: len(d.screen.ids.rows.data) == 2, "the two tasks")
    row = d.until(lambda: d.find("TaskRow", code=tasks["verify"]), "the verification's row")
    assert "路灯不亮（连续3盏以上）" in row.text
    assert re.fullmatch(r"剩 \d+ (分钟|小时|天)", row.badge) and row.light == "green"
    badge = row.ids.badge
    assert badge.text == row.badge and badge.width >= dp(48) and badge.texture_size[0] <= badge.width
    assert re.fullmatch(r"距你 \d+ 米", row.distance) and row.ids.distance.text == row.distance

    assert layout_problems(d.screen) == []

    # The narrowest phone the app is made for: every line of every row still shows whole.
    rows = d.screen.ids.rows
    rows.size_hint_x, rows.width = None, dp(360)

    def shown() -> list:
        widgets = [w for w in rows.walk(restrict=True) if type(w).__name__ == "TaskRow"]
        assert all(w.width == rows.width for w in widgets), "rows still as wide as before"
        return widgets

    shown = d.until(shown, "the rows laid out anew")
    assert {w.code for w in shown} == set(tasks.values())
    for w in shown:
        label = w.ids.text
        assert label.width <= dp(360) and label.texture_size[1] <= label.height + 1, w.text
        assert w.height >= dp(48)
    assert layout_problems(d.screen) == []


def test_check_task_with_map_photos_and_handling_note(drive, server, tasks, beat):
    check = tasks["check"]
    d = drive()
    log_in(d, server.url)
    synced(d)
    d.until(lambda: d.app.fix, "a GPS fix")
    task = open_task(d, check)
    grid_map = task.ids.panel.map
    assert task.ids.panel.height == pytest.approx(dp(170))
    assert grid_map.pin == pytest.approx(beat[0])
    d.until(lambda: grid_map.position is d.app.fix, "my position on the small map")
    d.until(lambda: grid_map.drawn_outlines, "my grids on the small map")
    assert task.ids.handling.text == "处置说明：已清运"
    assert re.fullmatch(r"剩 \d+ (分钟|小时|天)", task.ids.badge.text)
    assert re.fullmatch(r"距你 \d+ 米", task.ids.distance.text)

    d.until(lambda: len(task.ids.case_photos.children) == 2, "the case's photos")
    tiles = {tile.label: tile for tile in task.ids.case_photos.children}
    assert set(tiles) == {"处置前", "处置后"}
    assert all(t.width >= dp(48) and t.height >= dp(48) for t in tiles.values())
    assert tiles["处置后"].source.endswith("-thumbnail.jpg")
    assert form_problems(task) == []
    view_photo(d, tiles["处置后"], "处置后照片")
    assert layout_problems(task) == []  # last: the small map's own buttons are gridmap.kv's


def test_confirmed_needs_a_photo_and_a_far_photo_asks_first(drive, server, tasks, beat, tmp_path):
    verify = tasks["verify"]
    d = drive()
    log_in(d, server.url)
    synced(d)
    assert d.app.services.store.get("photo_far_m") == 200  # the server's limit, kept by the sync
    task = open_task(d, verify)
    assert task.ids.handling.height == 0  # a verification has no handling yet
    d.tap(d.find("ResultButton", code="confirmed"))
    assert task.blocked == "核实属实需要至少一张现场照片：请先拍照。" and task.ids.send.disabled
    outbox = d.app.services.outbox
    task.send()  # even when asked directly, nothing goes without a photo
    assert outbox.items() == [] and d.app.notice == task.blocked

    (lon, lat), _ = beat
    picture = tmp_path / "pictures" / "elsewhere.jpg"
    picture.parent.mkdir()
    picture.write_bytes(jpeg(lon + 0.005, lat, color=(200, 120, 60)))  # about 450 m east of the case
    pick_picture(d, task.ids.photos, picture)
    assert task.blocked == ""
    d.tap(d.find("Thumbnail", root=task.ids.photos))  # scrolls the form down to the photos
    preview = d.popup("PhotoPreview")
    d.tap(preview.ids.keep)
    d.until(lambda: preview.parent is None, "the preview to close")
    assert form_problems(task) == []

    d.tap(task.ids.send)
    popup = d.popup("ChoicePopup")
    assert re.match(r"照片拍摄位置距案件 4\d\d 米，可能不是这个问题的现场", popup.text)
    assert layout_problems(popup) == []
    d.tap(d.find("BigButton", root=popup, text="取消"))
    d.until(lambda: popup.parent is None, "the question to close")
    assert outbox.items() == [] and d.app.current == "task" and task.ids.photos.paths

    d.tap(task.ids.send)
    popup = d.popup("ChoicePopup")
    d.tap(d.find("BigButton", root=popup, text="仍然发送"))
    assert d.app.current == "outbox"
    (item,) = outbox.items()
    assert item.kind == "reply" and item.case_code == verify
    d.until(lambda: outbox.get(item.id).state == "sent", "the reply to be sent")
    with closing(http_login(server, OPERATOR)) as operator:
        photos = case_of(operator, verify)["photos"]
    assert [(p["role"], p["far_from_report"]) for p in photos] == [("verification", True)]  # as warned


def view_photo(d: Driver, tile, title: str) -> None:
    """Tap a case photo: it opens large (the photo itself, downloaded), whole on the screen, and closes."""
    d.tap(tile)
    viewer = d.popup("PhotoViewer")
    assert viewer.title == title
    d.until(lambda: viewer.source.endswith("-full.jpg") and not viewer.status, "the photo itself")
    assert layout_problems(viewer) == []
    d.tap(viewer.ids.close)
    d.until(lambda: viewer.parent is None, "the photo to close")
