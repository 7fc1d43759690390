"""The case as the inspector reads it: the grid by its name, and the timeline with each event's photos,
a tap on one showing it large."""

from __future__ import annotations

# isort: off
import mobile.main  # noqa: F401 (first: it sets the window's size, which Kivy fixes when it makes it)

# isort: on
from contextlib import closing

from kivy.metrics import dp

from tests.mobile.app_driver import log_in, synced
from tests.mobile.conftest import OPERATOR, case_of, http_login
from tests.mobile.layout import layout_problems
from tests.mobile.test_task_screen import handled_case, open_task, view_photo


def test_case_with_grid_name_and_timeline_photos(drive, server, beat, admin_headers):
    (lon, lat), _ = beat
    code = handled_case(server, admin_headers, lon, lat)
    with closing(http_login(server, OPERATOR)) as operator:
        case = case_of(operator, code)
    assert case["grid_name"]

    d = drive()
    log_in(d, server.url)
    synced(d)
    open_task(d, code)
    d.tap(d.find("SmallButton", text="查看案件经过"))
    assert d.app.current == "case"
    screen = d.screen
    d.until(lambda: screen.ids.timeline.children, "the case's timeline")
    summary = screen.ids.summary.text
    assert f"网格：{case['grid_name']}" in summary and case["grid_code"] not in summary

    events = screen.ids.timeline.children[::-1]
    assert len(events) == len(case["timeline"])
    d.until(lambda: sum(len(e.ids.photos.children) for e in events) == 2, "the timeline's photos")
    # Each photo once, with the last event that names it: the operator's upload, the department's handling.
    with_photos = {
        e.text.split("　")[1]: [t.label for t in e.ids.photos.children]
        for e in events
        if e.ids.photos.children
    }
    assert with_photos == {"上传照片": ["处置前"], "处置反馈": ["处置后"]}

    assert layout_problems(screen) == []
    handling = next(e for e in events if "处置反馈" in e.text)
    assert "已清运" in handling.text
    (tile,) = handling.ids.photos.children
    assert tile.height >= dp(48) and tile.width >= dp(48)
    view_photo(d, tile, "处置后照片")
    assert d.app.current == "case"
