"""No report lost, none twice: the network dies, or the app is killed, at every request of a sync; the
sync run again with the network back delivers each report exactly once, checked on the live server.

A report with two photos syncs in :data:`SEQUENCE` (the report, each photo, then the pull). For every
request k of it, and for a network that drops requests (``down``: the server never sees them) or drops
answers (``lost_answer``: the server did the work, the phone never heard) from request k onward, and for
the app killed while it waits for the answer to request k: the server holds exactly one new case for the
report's client UUID, with exactly its two photos, and the outbox item is sent with that case's code.
"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from mobile.services.app import AppServices
from mobile.services.patrol import Patrol
from mobile.services.sync import Sync
from server.config import PROJECT_DIR

SEQUENCE = [
    ("POST", r"/api/cases"),
    ("POST", r"/api/cases/[0-9-]+/photos"),
    ("POST", r"/api/cases/[0-9-]+/photos"),
    ("GET", r"/api/categories"),
    ("GET", r"/api/sync/grids"),
    ("GET", r"/api/sync/tasks"),
    ("GET", r"/api/sync/reports"),
    ("GET", r"/api/sync/addresses"),
    ("GET", r"/api/patrol/tasks/mine"),
]
REQUESTS = range(1, len(SEQUENCE) + 1)
WAIT_S = 60  # bounds the wait for the killed app's request to reach the proxy

# The app started on the data folder argv[1]: one sync run (killed by the test before it ends).
SYNC_ONCE = """
import sys
from pathlib import Path

from mobile.services.app import AppServices

AppServices(Path(sys.argv[1])).sync.run_once()
"""


def my_case_count(http) -> int:
    """How many cases the inspector sees on the server."""
    answer = http.get("/api/cases", params={"limit": 1})
    assert answer.status_code == 200, answer.text
    return answer.json()["total"]


def assert_delivered_once(app: AppServices, item_id: int, http, cases_before: int) -> None:
    item = app.outbox.get(item_id)
    assert item.state == "sent" and item.error is None, item
    assert my_case_count(http) == cases_before + 1  # one new case, none other
    case = http.get(f"/api/cases/{item.case_code}").json()
    assert case["client_uuid"] == item.client_uuid
    assert sorted(p["id"] for p in case["photos"]) == sorted(p.photo_id for p in item.photos)
    assert len(case["photos"]) == 2 and {p["role"] for p in case["photos"]} == {"before"}
    assert [e["action"] for e in case["timeline"]] == ["report", "add_photo", "add_photo"]


def sequence_of(exchanges) -> list[tuple[str, str]]:
    return [(e.method, e.path) for e in exchanges]


def follows_sequence(exchanges) -> bool:
    return len(exchanges) <= len(SEQUENCE) and all(
        method == e.method and re.fullmatch(path, e.path)
        for e, (method, path) in zip(exchanges, SEQUENCE, strict=False)
    )


def test_a_sync_of_one_report_makes_the_requests_the_other_tests_interrupt(
    inspector_app, netfault, inspector_http, camera, queue_report
):
    before = my_case_count(inspector_http)
    item = queue_report(inspector_app.outbox, camera(2))
    start = netfault.count
    inspector_app.sync.run_once()
    made = netfault.since(start)
    assert follows_sequence(made) and len(made) == len(SEQUENCE), sequence_of(made)
    assert_delivered_once(inspector_app, item.id, inspector_http, before)


@pytest.mark.parametrize("k", REQUESTS)
@pytest.mark.parametrize("mode", ["down", "lost_answer"])
def test_network_dies_at_request_k(inspector_app, netfault, inspector_http, camera, queue_report, mode, k):
    before = my_case_count(inspector_http)
    item = queue_report(inspector_app.outbox, camera(2))
    start = netfault.count
    netfault.fault(mode, skip=k - 1)

    inspector_app.sync.run_once()

    made = netfault.since(start)
    assert follows_sequence(made[:k]), sequence_of(made)
    assert made[k - 1].mode == mode and all(e.mode == mode for e in made[k:])  # the retries died too
    assert inspector_app.sync.status.state == "offline"
    assert inspector_app.outbox.get(item.id).state == ("queued" if k <= 3 else "sent")

    netfault.set("pass")
    inspector_app.sync.run_once()

    assert inspector_app.sync.status.state == "idle", inspector_app.sync.status
    assert_delivered_once(inspector_app, item.id, inspector_http, before)


@pytest.mark.parametrize("k", REQUESTS)
def test_app_killed_while_waiting_for_request_k(
    app_dir, inspector_app, netfault, inspector_http, camera, queue_report, k
):
    before = my_case_count(inspector_http)
    item = queue_report(inspector_app.outbox, camera(2))
    inspector_app.close()
    start = netfault.count
    netfault.fault("hang", skip=k - 1, times=1)

    app = subprocess.Popen([sys.executable, "-c", SYNC_ONCE, str(app_dir)], cwd=PROJECT_DIR)
    try:
        held = netfault.wait_hanging(WAIT_S)
    finally:
        app.kill()
        app.wait()
    netfault.release()
    assert held.number == start + k and held.status is not None  # the server answered; nobody heard
    assert follows_sequence(netfault.since(start)), sequence_of(netfault.since(start))

    restarted = AppServices(app_dir)
    try:
        assert restarted.outbox.get(item.id).state == ("sending" if k <= 3 else "sent")
        restarted.sync.run_once()
        assert restarted.sync.status.state == "idle", restarted.sync.status
        assert_delivered_once(restarted, item.id, inspector_http, before)
    finally:
        restarted.close()


def test_track_batch_resent_after_a_lost_answer_is_stored_once(
    inspector_app, netfault, inspector_http, village
):
    _, lon, lat = village
    started = datetime.now(UTC) - timedelta(hours=1)
    patrol = Patrol(inspector_app.store, now=lambda: started)
    sync = Sync(inspector_app.api, inspector_app.outbox, inspector_app.cache, patrol)
    shift = patrol.clock_in()
    for i in range(30):  # 15 m north every 10 s
        assert patrol.add_fix(lon, lat + i * 0.000135, 5.0, started + timedelta(seconds=10 * (i + 1)))
    start = netfault.count
    netfault.fault("lost_answer", path="/points$")

    sync.run_once()

    assert sync.status.state == "offline"
    lost = [e for e in netfault.since(start) if e.path.endswith("/points")]
    assert len(lost) == inspector_app.api.retries + 1 and {e.status for e in lost} == {200}  # all taken
    assert len(patrol.unsent_points(shift, 100)) == 30

    netfault.set("pass")
    sync.run_once()

    assert sync.status.state == "idle" and patrol.unsent_shifts() == []
    answer = inspector_http.get(f"/api/patrol/shifts/{shift}/track")
    assert answer.status_code == 200, answer.text
    track = answer.json()
    assert track["properties"]["points"] == 30
    assert len(track["geometry"]["coordinates"]) == len(set(track["properties"]["times"])) == 30
