"""A proactive patrol task (主动巡查任务) on the phone: the shift lead sends the demo inspector to patrol a
unit grid; the task shows in the phone's task list with its grid, kind of problem, days and reason; the patrol
the app records there and sends counts against it until the list shows it done; and a report made there
is found proactively (主动发现)."""

from __future__ import annotations

# isort: off
import mobile.main  # noqa: F401 (first: it sets the window's size, which Kivy fixes when it makes it)

# isort: on
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import shapely

from mobile.platform.gps import Fix
from tests.mobile.app_driver import log_in, synced
from tests.mobile.conftest import INSPECTOR, OPERATOR, http_login, user_id
from tests.mobile.test_screens import shoot
from tests.server.live import LiveServer, live_server

NEEDED_MINUTES = 3  # the server's patrol_task_minutes here: a walk of a few minutes does it
STEP = timedelta(seconds=30)  # between the fixes the test feeds the patrol
REASON = "近期此处垃圾堆放反映增多，请重点巡查"


@pytest.fixture(scope="module")
def server(mobile_db_url, tmp_path_factory) -> Iterator[LiveServer]:
    """The GridOps server on the module's demo clone, a task done after ``NEEDED_MINUTES`` in its grid."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    with live_server(mobile_db_url, log, GRIDOPS_PATROL_TASK_MINUTES=str(NEEDED_MINUTES)) as live:
        yield live


def test_a_proactive_task_is_patrolled_and_covered_on_the_phone(drive, server, unit, camera, queue_report):
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    with closing(http_login(server, OPERATOR)) as lead, closing(http_login(server, INSPECTOR)) as me:
        body = {
            "grid": unit["properties"]["code"], "category": "E06010", "assignee_id": user_id(me),
            "reason": REASON, "starts_on": today.isoformat(), "ends_on": (today + timedelta(1)).isoformat(),
        }  # fmt: skip
        made = lead.post("/api/patrol/tasks", json=body)
        assert made.status_code == 201, made.text
        task_id = made.json()["id"]

    d = drive()
    log_in(d, server.url)
    synced(d)
    services = d.app.services
    d.nav("tasks")
    row = d.until(lambda: next((r for r in d.screen.ids.rows.data if REASON in r["text"]), None), "the task")
    assert unit["properties"]["name"] in row["text"] and "垃圾" in row["text"]
    assert f"{today} 至 {today + timedelta(1)}" in row["text"]
    assert row["badge"] == f"已巡 0/{NEEDED_MINUTES} 分"
    assert "1 项主动巡查" in d.screen.ids.summary.text
    shoot(d, "tasks-patrol")

    # Back and forth across the unit from clock-in, as the patrol keeps it: a fix every 30 s for 4 minutes.
    d.nav("home")
    d.app.gps.stop()  # the track is the test's from here on
    d.tap(d.screen.ids.clock)
    assert services.patrol.on_shift
    start = datetime.fromisoformat(services.store.query("SELECT started_at FROM shift")[0]["started_at"])
    shape = shapely.geometry.shape(unit["geometry"])
    x0, y0, x1, y1 = shape.bounds
    walk = [(x0 + (x1 - x0) * (0.2 + 0.6 * (k % 2)), (y0 + y1) / 2) for k in range(9)]
    assert all(shape.contains(shapely.Point(p)) for p in walk)
    for n, (x, y) in enumerate(walk, 1):
        assert services.patrol.add_fix(x, y, 5.0, start + n * STEP)
    lon, lat = walk[4]
    d.app.fix = Fix(lon, lat, 5.0, start + 9 * STEP)
    queue_report(services.outbox, camera(1), lon=lon, lat=lat)
    services.sync.wake()

    d.nav("tasks")
    d.until(
        lambda: any(r["badge"] == "已完成" and REASON in r["text"] for r in d.screen.ids.rows.data),
        "the task covered",
    )
    (task,) = services.cache.patrol_tasks()
    assert (task["id"], task["state"], task["covered_minutes"]) == (task_id, "done", 4.0)
    d.until(lambda: not services.outbox.pending(), "the report sent")
    synced(d)
    (mine,) = [r for r in services.cache.reports() if r["patrol_task_id"] is not None]
    assert mine["patrol_task_id"] == task_id  # 主动发现
