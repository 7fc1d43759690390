"""The sync engine against the live server: reports with their photos, refusals, the pull of grids,
categories and tasks with cursors, task replies (lost answers, stale versions), the background thread."""

from __future__ import annotations

import io
import queue
import uuid

import pytest
from PIL import Image

from mobile.services.sync import SyncStatus
from tests.mobile.conftest import OPERATOR, act, case_of, hotline_case, http_login, user_id

BEIJING = (116.3975, 39.9087)  # 天安门: outside every grid of the Jinan demo city
STARTER_CATEGORIES = 15 + 90  # the sync sends every node of the tree: 15 major classes over 90 categories
WAIT_S = 60  # bounds every wait for the background thread


@pytest.fixture(scope="module")
def operator_http(server):
    """赵敏 (acceptor, shift lead, dispatcher) at the command center."""
    client = http_login(server, OPERATOR)
    yield client
    client.close()


@pytest.fixture
def verification_task(operator_http, inspector_http, village) -> str:
    """A hotline case in the inspector's village that the operator sent the inspector to verify: its code."""
    _, lon, lat = village
    case = hotline_case(
        operator_http,
        lon,
        lat,
        "市民来电：路口有垃圾堆放",
        reporter_name="王先生",
        reporter_phone="13012345678",
    )
    assert case["state"] == "reported"
    sent = act(operator_http, case["code"], "request_verification", inspector_id=user_id(inspector_http))
    assert sent["state"] == "verifying"
    return case["code"]


def calls(exchanges) -> list[tuple[str, str, int | None]]:
    return [(e.method, e.path, e.status) for e in exchanges]


def task(app, code: str) -> dict:
    return next(t for t in app.cache.tasks(active_only=False) if t["code"] == code)


# -- reports --------------------------------------------------------------------------------------------


def test_report_with_two_photos_becomes_one_case_with_both(
    inspector_app, inspector_http, camera, queue_report
):
    item = queue_report(inspector_app.outbox, camera(2))
    run = inspector_app.sync.run_once()

    assert run.sent == [item.client_uuid] and run.failed == []
    item = inspector_app.outbox.get(item.id)
    assert item.state == "sent" and item.case_code and item.sent_at is not None
    assert all(p.photo_id is not None for p in item.photos)
    case = case_of(inspector_http, item.case_code)
    assert case["client_uuid"] == item.client_uuid
    assert case["channel"] == "inspector" and case["category"]["code"] == "E06010"
    assert case["description"] == "路边垃圾堆放"
    assert sorted(p["id"] for p in case["photos"]) == sorted(p.photo_id for p in item.photos)
    assert [p["role"] for p in case["photos"]] == ["before", "before"]
    thumbnail = inspector_app.api.download(case["photos"][0]["thumbnail_url"].lstrip("/"))
    assert Image.open(io.BytesIO(thumbnail)).size[0] <= 320  # what the task screen shows
    assert [e["action"] for e in case["timeline"]].count("report") == 1
    assert item.case_code in [c["code"] for c in inspector_app.cache.reports()]
    assert inspector_app.sync.status.state == "idle"


def test_wifi_login_page_leaves_the_report_queued(inspector_app, netfault, camera, queue_report):
    item = queue_report(inspector_app.outbox, camera(1))
    start = netfault.count
    netfault.set("portal")

    run = inspector_app.sync.run_once()

    assert run.sent == [] and run.failed == []
    assert inspector_app.sync.status.state == "offline"
    assert "Wi-Fi 登录页面" in inspector_app.sync.status.message
    item = inspector_app.outbox.get(item.id)
    assert item.state == "queued" and item.case_code is None and "Wi-Fi 登录页面" in item.error
    assert calls(netfault.since(start)) == [("POST", "/api/cases", None)]  # never reached the server

    netfault.set("pass")
    assert inspector_app.sync.run_once().sent == [item.client_uuid]


def test_report_outside_every_grid_fails_with_the_servers_reason(
    inspector_app, inspector_http, camera, queue_report
):
    outbox = inspector_app.outbox
    item = queue_report(outbox, camera(1), lon=BEIJING[0], lat=BEIJING[1])

    run = inspector_app.sync.run_once()
    assert run.failed == [item.client_uuid] and run.sent == []
    failed = outbox.get(item.id)
    assert failed.state == "failed" and failed.case_code is None
    same = inspector_http.post("/api/cases", json={**failed.payload, "client_uuid": str(uuid.uuid4())})
    assert same.status_code == 422 and failed.error == same.json()["detail"]  # the server's words as they are
    assert inspector_app.sync.status.state == "idle"  # a refused report does not stop the sync
    assert "1 条被拒" in inspector_app.sync.status.message

    outbox.retry(item.id)
    assert inspector_app.sync.run_once().failed == [item.client_uuid]
    assert outbox.get(item.id).error == failed.error

    outbox.delete(item.id)
    assert outbox.counts()["failed"] == 0
    assert not any(p.path.exists() for p in failed.photos)


# -- pull -----------------------------------------------------------------------------------------------


def test_pull_fills_grids_categories_and_tasks_then_fetches_only_changes(
    inspector_app, netfault, village, verification_task
):
    code, lon, lat = village
    cache = inspector_app.cache
    run = inspector_app.sync.run_once()

    assert run.categories == STARTER_CATEGORIES and len(cache.categories()) == STARTER_CATEGORIES
    grids = cache.grid_records()
    assert run.grids == len(grids) > 1
    assert {g.code for g in grids if g.level == "village"} == {code}
    assert all(g.code.startswith(code) for g in grids)  # my village and its unit grids, nothing else
    assert [g.level for g in cache.grid_at(lon, lat)] == ["village", "unit"]
    assert cache.grid_at(*BEIJING) == []
    mine = task(inspector_app, verification_task)
    assert mine["kind"] == "verification" and mine["active"] and mine["state"] == "verifying"
    assert run.tasks >= 1

    start = netfault.count
    again = inspector_app.sync.run_once()
    assert (again.categories, again.grids, again.tasks, again.reports) == (0, 0, 0, 0)
    assert [(e.method, e.path) for e in netfault.since(start)] == [
        ("GET", "/api/categories"),
        ("GET", "/api/sync/grids"),
        ("GET", "/api/sync/tasks"),
        ("GET", "/api/sync/reports"),
        ("GET", "/api/sync/addresses"),
        ("GET", "/api/patrol/tasks/mine"),
    ]
    assert len(cache.categories()) == STARTER_CATEGORIES and len(cache.grid_records()) == len(grids)


# -- task replies -----------------------------------------------------------------------------------------


def confirm(app, code: str, photos):
    """Queue the inspector's confirmation of the verification task ``code`` as the phone last saw it (its
    version), made where the case is."""
    case = task(app, code)
    return app.outbox.add_reply(
        case_code=code,
        action="reply_verification",
        result="confirmed",
        note="现场确认属实",
        version=case["version"],
        lon=case["lon"],
        lat=case["lat"],
        photos=photos,
    )


def replies(case: dict) -> list[dict]:
    return [e for e in case["timeline"] if e["action"] == "reply_verification"]


def test_task_reply_with_a_photo_moves_the_case_on(inspector_app, inspector_http, verification_task, camera):
    inspector_app.sync.run_once()
    item = confirm(inspector_app, verification_task, camera(1))

    run = inspector_app.sync.run_once()

    assert run.sent == [item.client_uuid]
    case = case_of(inspector_http, verification_task)
    assert case["state"] == "registered"
    (event,) = replies(case)
    (photo,) = [p for p in case["photos"] if p["role"] == "verification"]
    assert event["photo_ids"] == [photo["id"]] == [inspector_app.outbox.get(item.id).photos[0].photo_id]
    assert event["note"] == "现场确认属实"
    assert not task(inspector_app, verification_task)["active"]  # pulled after the push


def test_reply_whose_answer_was_lost_is_recognised_as_delivered(
    inspector_app, netfault, inspector_http, verification_task, camera
):
    inspector_app.sync.run_once()
    item = confirm(inspector_app, verification_task, camera(1))
    start = netfault.count
    netfault.fault("lost_answer", path="/actions/reply_verification$")

    first = inspector_app.sync.run_once()

    assert first.sent == [] and inspector_app.sync.status.state == "offline"
    assert inspector_app.outbox.get(item.id).state == "queued"
    posts = [e.status for e in netfault.since(start) if e.path.endswith("/reply_verification")]
    assert posts[0] == 200 and set(posts[1:]) == {409}  # taken at once; the retries found it done

    netfault.set("pass")
    rerun_start = netfault.count
    second = inspector_app.sync.run_once()

    assert second.sent == [item.client_uuid] and second.failed == []
    assert inspector_app.outbox.get(item.id).state == "sent"
    assert calls(netfault.since(rerun_start))[:2] == [
        ("POST", f"/api/cases/{verification_task}/actions/reply_verification", 409),
        ("GET", f"/api/cases/{verification_task}", 200),
    ]
    case = case_of(inspector_http, verification_task)
    assert case["state"] == "registered" and len(replies(case)) == 1


def test_reply_to_a_case_changed_meanwhile_is_sent_with_the_new_version(
    inspector_app, netfault, inspector_http, operator_http, verification_task, camera
):
    inspector_app.sync.run_once()
    seen = task(inspector_app, verification_task)["version"]
    tagged = operator_http.post(
        f"/api/cases/{verification_task}/actions/tag", json={"version": seen, "tag": "key_supervision"}
    )
    assert tagged.status_code == 200, tagged.text
    item = confirm(inspector_app, verification_task, camera(1))  # as it was before the tag
    start = netfault.count

    assert inspector_app.sync.run_once().sent == [item.client_uuid]

    action = f"/api/cases/{verification_task}/actions/reply_verification"
    assert calls(netfault.since(start))[1:4] == [  # after the photo
        ("POST", action, 409),
        ("GET", f"/api/cases/{verification_task}", 200),
        ("POST", action, 200),
    ]
    case = case_of(inspector_http, verification_task)
    assert case["state"] == "registered" and "key_supervision" in case["tags"]  # the tag is kept
    assert len(replies(case)) == 1 and case["version"] > tagged.json()["version"]


# -- in the background ------------------------------------------------------------------------------------


def test_background_sync_delivers_when_the_network_returns(inspector_app, netfault, camera, queue_report):
    statuses: queue.Queue[SyncStatus] = queue.Queue()
    inspector_app.sync.listen(statuses.put)

    def next_status(state: str) -> SyncStatus:
        while (status := statuses.get(timeout=WAIT_S)).state != state:
            pass
        return status

    netfault.set("down")
    inspector_app.sync.start()
    item = queue_report(inspector_app.outbox, camera(1))
    inspector_app.sync.wake()
    next_status("offline")
    assert inspector_app.outbox.get(item.id).state in ("queued", "sending")  # the next try may be on

    netfault.set("pass")
    inspector_app.sync.wake()
    done = next_status("idle")
    inspector_app.sync.stop()

    assert inspector_app.outbox.get(item.id).state == "sent"
    assert done.last_success is not None and done.message.startswith("已同步")
