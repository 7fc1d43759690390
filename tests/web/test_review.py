"""The grid heads' review in Debian's Chromium on a clone of the demo city: the street's head opens 网格巡查
and sees the coverage of a village where its inspector walked today (the track uploaded over HTTP as the
phone does), then moves the inspector to the next village through the form; the tables and the history
show the move. No request leaves 127.0.0.1 and the page raises no error."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx

from server.auth.passwords import DEMO_PASSWORD
from server.users.demo import DISTRICT
from tests.web.conftest import logged_in, shape_of
from tests.web.test_map import SCREENSHOTS, WAIT_MS

TZ = ZoneInfo("Asia/Shanghai")  # the settings' time zone
INSPECTOR = "13900000002"  # 刘洋, the only inspector of the second village of 历下区's first street
STREET_HEAD = "chenjing"  # 陈静, head of that street


def walk_today(server_url: str, village: str) -> None:
    """刘洋 clocks in and walks 190 m east through the middle of ``village``, a fix every 5 s."""
    middle = shape_of(server_url, village).representative_point()
    now = datetime.now(TZ)
    start = max(now - timedelta(minutes=20), datetime.combine(now.date(), time(), TZ))
    shift = str(uuid.uuid4())
    points = [
        {
            "recorded_at": (start + timedelta(seconds=1 + 5 * i)).isoformat(),
            "lon": middle.x - 0.001 + 0.0001 * i,
            "lat": middle.y,
            "accuracy_m": 5.0,
        }
        for i in range(20)
    ]
    with logged_in(server_url, INSPECTOR) as phone:
        clock_in = {"client_uuid": shift, "started_at": start.isoformat()}
        answer = phone.post("/api/patrol/shifts", json=clock_in)
        assert answer.status_code == 201, answer.text
        answer = phone.post(f"/api/patrol/shifts/{shift}/points", json={"points": points})
        assert answer.status_code == 200 and answer.json()["stored"] == 20, answer.text


def test_a_grid_head_sees_coverage_and_moves_an_inspector(web_server, tab):
    url = web_server.url
    street = httpx.get(f"{url}/api/grids", params={"parent": DISTRICT}).json()[0]
    target, patrolled = httpx.get(f"{url}/api/grids", params={"parent": street["code"]}).json()[:2]
    walk_today(url, patrolled["code"])
    with logged_in(url, STREET_HEAD) as head:
        expected = head.get("/api/review", params={"grid": street["code"]}).json()
    walked = next(row for row in expected["grids"] if row["code"] == patrolled["code"])
    assert walked["coverage_today"] > 0 and walked["inspectors"] == ["刘洋"]
    (liu,) = [p for p in expected["inspectors"] if p["name"] == "刘洋"]

    page = tab.page
    page.goto(url)
    page.fill("#login [name=login]", STREET_HEAD)
    page.fill("#login [name=password]", DEMO_PASSWORD)
    page.click("#login button")
    page.wait_for_selector("#app", state="visible", timeout=WAIT_MS)
    page.click("#tabs [data-view=review-view]")
    row = f"#review-grids tr[data-code='{patrolled['code']}']"
    page.wait_for_selector(row, timeout=WAIT_MS)

    assert page.text_content(f"{row} td.today") == f"{walked['coverage_today'] * 100:.1f}%"
    assert page.text_content(f"{row} td.week") == f"{walked['coverage_week'] * 100:.1f}%"
    assert "刘洋" in page.text_content(f"{row} td.inspectors")
    nobody = "rows => rows.map(r => r.dataset.code)"
    assert page.eval_on_selector_all("#review-grids tr.nobody", nobody) == []  # every village has someone
    person = f"#review-inspectors tr[data-user='{liu['user_id']}']"
    cells = page.eval_on_selector_all(f"{person} td", "cells => cells.map(c => c.textContent)")
    assert cells[:3] == ["刘洋", patrolled["name"], f"{liu['today']['distance_m'] / 1000:.2f}"]
    assert liu["today"]["distance_m"] > 150

    page.select_option("#review-reassign [name=user_id]", label="刘洋")
    page.select_option("#review-reassign [name=from_grid]", patrolled["code"])
    page.select_option("#review-reassign [name=to_grid]", target["code"])
    page.click("#review-reassign button[type=submit]")
    moved = f"#review-grids tr[data-code='{target['code']}'] td.inspectors"
    shows = "selector => document.querySelector(selector)?.textContent.includes('刘洋')"
    page.wait_for_function(shows, arg=moved, timeout=WAIT_MS)
    assert page.text_content(f"{row} td.inspectors") == "—"  # the patrolled village has nobody now
    assert page.eval_on_selector_all("#review-grids tr.nobody", nobody) == [patrolled["code"]]
    assert "无人负责" in page.text_content(row)
    assert page.eval_on_selector_all(f"{person} td", "cells => cells[1].textContent") == target["name"]
    mine = f"#review-history tr[data-user='{liu['user_id']}']"
    page.wait_for_selector(mine, timeout=WAIT_MS)  # the history is read after the tables
    history = page.eval_on_selector_all(f"{mine} td", "cells => cells.map(c => c.textContent)")
    today = datetime.now(TZ).date().isoformat()
    assert history == ["网格员", "刘洋", today, "至今"]
    assert target["name"] in page.text_content(".review-history h3")

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 960})
    page.screenshot(path=SCREENSHOTS / "review.png")
    assert tab.hosts() == {"127.0.0.1"}, tab.hosts()
    assert tab.errors == []
