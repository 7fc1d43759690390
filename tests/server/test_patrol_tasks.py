"""Proactive patrol tasks (主动巡查任务) on the demo city and the real PostGIS: who may assign what to whom
and when, coverage counted from the track points as the phone uploads them, the reports found on a task
(主动发现), the routes, and the dashboard's per-street figures (found by inspectors against reported by
citizens)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from geoalchemy2.shape import to_shape
from sqlalchemy import select

from server.auth.principal import ADMINISTRATOR
from server.errors import DomainError
from server.grid import people as grid_people
from server.grid.models import CURRENT, Grid, today
from server.patrol import tasks
from server.patrol.models import PatrolTask
from server.patrol.service import local_day
from server.users.demo import DISTRICT
from tests.server.case_world import make_user, report
from tests.server.test_case_http import login

REASON = "预测本周垃圾堆放问题增多，请重点巡查"


def children(db, code: str) -> list[Grid]:
    return list(db.scalars(select(Grid).where(CURRENT, Grid.parent_code == code).order_by(Grid.code)))


@pytest.fixture
def world(demo_db):
    """In the first street of 历下区: a village headed by a new grid head, one of its near-rectangular unit
    grids, an inspector assigned to the village (since a month ago), another village, and an inspector
    assigned there."""
    db = demo_db
    street = children(db, DISTRICT)[0]
    other_village, village = children(db, street.code)[:2]
    unit = next(
        u for u in children(db, village.code) if to_shape(u.geom).area > 0.99 * to_shape(u.geom).envelope.area
    )
    head = make_user(db, ["grid_head"], name="网格长甲")
    grid_people.assign(db=db, grid_code=village.code, user=head.user, role="head")
    inspector = make_user(db, ["inspector"], name="网格员甲")
    grid_people.assign(
        db=db,
        grid_code=village.code,
        user=inspector.user,
        role="inspector",
        starts_on=today() - timedelta(30),
    )
    elsewhere = make_user(db, ["inspector"], inspects=other_village.code, name="网格员乙")
    x0, y0, x1, y1 = to_shape(unit.geom).bounds
    return {
        "db": db,
        "street": street,
        "village": village,
        "other_village": other_village,
        "unit": unit,
        "head": head,
        "inspector": inspector,
        "elsewhere": elsewhere,
        "inside": lambda k: (x0 + (x1 - x0) * (0.2 + 0.6 * k), (y0 + y1) / 2),  # k from 0 to 1, west to east
        "outside": to_shape(other_village.geom).representative_point(),
    }


def assign(w, *, by="head", grid=None, who="inspector", starts=0, days=1, **kw) -> PatrolTask:
    first = today() + timedelta(starts)
    return tasks.assign(
        w["db"],
        grid=grid or w["unit"].code,
        category=kw.pop("category", None),
        assignee=w[who].user_id,
        by=w[by] if isinstance(by, str) else by,
        source=kw.pop("source", "manual"),
        reason=kw.pop("reason", REASON),
        starts_on=first,
        ends_on=first + timedelta(days - 1),
    )


def refused(w, code: str, **kw) -> None:
    with pytest.raises(DomainError) as caught:
        assign(w, **kw)
    assert caught.value.code == code


def test_who_may_assign_what_to_whom_and_when(world):
    w = world
    task = assign(w, category="E06010", days=3)
    assert (task.assignee_id, task.assigned_by, task.source, task.state) == (
        w["inspector"].user_id, w["head"].user_id, "manual", "open",
    )  # fmt: skip
    assert (task.ends_on - task.starts_on).days == 2 and task.covered_minutes == 0
    # the whole village is the head's, and an area the inspector is assigned to
    assert assign(w, grid=w["village"].code).grid_code == w["village"].code
    # the system's rule assigns with no one behind it
    system = assign(w, by=None, source="forecast")
    assert system.assigned_by is None and system.source == "forecast"

    refused(w, "patrol.task_not_your_grid", grid=w["other_village"].code, who="elsewhere")
    refused(w, "patrol.task_not_assigned", who="elsewhere")  # not assigned to this village
    refused(w, "patrol.task_not_inspector", who="head")
    refused(w, "patrol.task_not_assigner", by="inspector")
    refused(w, "patrol.task_grid_level", grid=w["street"].code)
    refused(w, "patrol.task_no_category", category="X99999")
    refused(w, "patrol.task_no_reason", reason="  ")
    refused(w, "patrol.task_in_past", starts=-1)
    refused(w, "patrol.task_dates_order", days=0)
    refused(w, "patrol.task_too_long", days=15)
    refused(w, "patrol.task_too_far", starts=14)
    # an inspector assigned to the unit only from tomorrow: not for a task starting today
    grid_people.assign(
        db=w["db"], grid_code=w["unit"].code, user=w["elsewhere"].user, role="inspector",
        starts_on=today() + timedelta(1),
    )  # fmt: skip
    refused(w, "patrol.task_not_assigned", who="elsewhere")
    assert assign(w, who="elsewhere", starts=1).assignee_id == w["elsewhere"].user_id


def points(w, start: datetime, minutes: range, step_s: int = 30, where=None) -> list[dict]:
    """Fixes every ``step_s`` seconds over ``minutes`` after ``start``, walking east inside the unit (or at
    ``where``)."""
    out = []
    for s in range(minutes.start * 60, minutes.stop * 60 + 1, step_s):
        lon, lat = where or w["inside"](
            (s - minutes.start * 60) / max((minutes.stop - minutes.start) * 60, 1)
        )
        recorded = (start + timedelta(seconds=s)).isoformat()
        out.append({"recorded_at": recorded, "lon": lon, "lat": lat, "accuracy_m": 5.0})
    return out


def test_the_track_inside_the_grid_covers_the_task(world, demo_client):
    """20 minutes inside the unit, a step out of it and back, 15 minutes more: 35 minutes, done at the
    instant the 30th was walked; uploaded as the phone uploads (two batches, the first twice)."""
    w, client = world, demo_client
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=40)
    db = w["db"]
    task = PatrolTask(
        grid_code=w["unit"].code, assignee_id=w["inspector"].user_id, assigned_by=w["head"].user_id,
        source="manual", reason=REASON, starts_on=local_day(start), ends_on=today(), state="open",
        covered_minutes=0.0,
    )  # fmt: skip
    db.add(task)
    db.commit()
    headers = login(client, w["inspector"])
    shift = str(uuid.uuid4())
    body = {"client_uuid": shift, "started_at": start.isoformat()}
    assert client.post("/api/patrol/shifts", json=body, headers=headers).status_code == 201
    first = points(w, start, range(0, 20))
    outside = w["outside"]
    second = [
        *points(w, start, range(21, 21), where=(outside.x, outside.y)),
        *points(w, start, range(22, 37)),
    ]

    def mine() -> dict:
        found = client.get("/api/patrol/tasks/mine", headers=headers)
        assert found.status_code == 200, found.text
        (one,) = [t for t in found.json() if t["id"] == task.id]
        return one

    for batch in (first, first):
        sent = client.post(f"/api/patrol/shifts/{shift}/points", json={"points": batch}, headers=headers)
        assert sent.status_code == 200, sent.text
    got = mine()
    assert (got["state"], got["covered_minutes"], got["covered_at"]) == ("open", 20.0, None)
    assert got["reason"] == REASON and got["grid_name"] == w["unit"].name and got["needed_minutes"] == 30
    sent = client.post(f"/api/patrol/shifts/{shift}/points", json={"points": second}, headers=headers)
    assert sent.status_code == 200, sent.text
    got = mine()
    assert (got["state"], got["state_label"], got["covered_minutes"]) == ("done", "已完成", 35.0)
    assert datetime.fromisoformat(got["covered_at"]) == start + timedelta(minutes=32)


def test_a_task_assigned_after_the_patrol_counts_it(world, demo_client):
    w, client = world, demo_client
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=31)
    if local_day(start) != today():
        pytest.skip("the walk would begin yesterday (just after local midnight)")
    headers = login(client, w["inspector"])
    shift = str(uuid.uuid4())
    client.post(
        "/api/patrol/shifts", json={"client_uuid": shift, "started_at": start.isoformat()}, headers=headers
    )
    client.post(
        f"/api/patrol/shifts/{shift}/points", json={"points": points(w, start, range(0, 30))}, headers=headers
    )
    task = assign(w)
    assert (task.state, task.covered_minutes) == ("done", 30.0)


def test_reports_made_on_a_task_are_found_proactively(world, demo_client):
    w, client, db = world, demo_client, world["db"]
    task = assign(w, category="E06010")
    lon, lat = w["inside"](0.5)
    headers = login(client, w["inspector"])
    body = {"client_uuid": str(uuid.uuid4()), "category": "E06010", "lon": lon, "lat": lat}
    made = client.post("/api/cases", json=body, headers=headers)
    assert made.status_code == 201, made.text
    assert made.json()["patrol_task_id"] == task.id
    detail = client.get(f"/api/cases/{made.json()['code']}", headers=headers).json()
    assert detail["patrol_task_id"] == task.id
    # outside the task's grid; another inspector in it; a citizen's call in it: not on the task
    assert report(db, w["inspector"], w["outside"].x, w["outside"].y).patrol_task_id is None
    grid_people.assign(db=db, grid_code=w["unit"].code, user=w["elsewhere"].user, role="inspector")
    assert report(db, w["elsewhere"], lon, lat).patrol_task_id is None
    acceptor = make_user(db, ["acceptor"])
    assert report(db, acceptor, lon, lat, channel="hotline").patrol_task_id is None
    # a cancelled task no longer names the reports
    tasks.cancel(db, task_id=task.id, by=w["head"])
    assert report(db, w["inspector"], lon, lat).patrol_task_id is None
    assert tasks.describe(db, [task])[0].found == 1


def test_routes_assign_list_and_cancel(world, demo_client):
    w, client = world, demo_client
    head, inspector = login(client, w["head"]), login(client, w["inspector"])
    day = today().isoformat()
    body = {
        "grid": w["unit"].code, "category": "E06010", "assignee_id": w["inspector"].user_id, "reason": REASON,
        "starts_on": day, "ends_on": day,
    }  # fmt: skip
    made = client.post("/api/patrol/tasks", json=body, headers=head)
    assert made.status_code == 201, made.text
    task = made.json()
    assert (task["assignee"], task["assigned_by"], task["category"]["code"], task["source_label"]) == (
        "网格员甲", "网格长甲", "E06010", "人工布置",
    )  # fmt: skip
    assert client.post("/api/patrol/tasks", json=body, headers=inspector).status_code == 403
    away = client.post("/api/patrol/tasks", json=body | {"grid": w["other_village"].code}, headers=head)
    assert away.status_code == 403 and "不在你负责的范围内" in away.json()["detail"]
    past = client.post("/api/patrol/tasks", json=body | {"starts_on": "2020-01-01"}, headers=head)
    assert past.status_code == 422
    listed = client.get("/api/patrol/tasks", params={"grid": w["village"].code}, headers=head).json()
    assert [t["id"] for t in listed] == [task["id"]]
    assert [t["id"] for t in client.get("/api/patrol/tasks/mine", headers=inspector).json()] == [task["id"]]
    cancelled = client.post(f"/api/patrol/tasks/{task['id']}/cancel", headers=head)
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert client.get("/api/patrol/tasks/mine", headers=inspector).json() == []
    assert client.post("/api/patrol/tasks/999999999/cancel", headers=head).status_code == 404


def test_the_dashboard_counts_found_proactively_against_citizens_reports(world, demo_client, admin_headers):
    w, client, db = world, demo_client, world["db"]

    def row() -> dict:
        board = client.get("/api/stats/dashboard", params={"grid": DISTRICT}, headers=admin_headers)
        assert board.status_code == 200, board.text
        rows = {r["code"]: r for r in board.json()["proactive_streets"]}
        return rows.get(w["street"].code, {"found": 0, "proactive": 0, "citizens": 0})

    before = row()
    assign(w)
    lon, lat = w["inside"](0.5)
    acceptor = make_user(db, ["acceptor"])
    report(db, w["inspector"], lon, lat)  # on the task
    report(db, w["elsewhere"], w["outside"].x, w["outside"].y)  # found, not on a task
    for channel in ("hotline", "citizen"):
        report(db, acceptor, lon, lat, channel=channel)
    after = row()
    assert (after["found"] - before["found"], after["proactive"] - before["proactive"]) == (2, 1)
    assert after["citizens"] - before["citizens"] == 2
    assert after["found_share"] == pytest.approx(after["found"] / (after["found"] + after["citizens"]))
    params = {"grid": DISTRICT}
    csv = client.get("/api/stats/export/proactive_streets.csv", params=params, headers=admin_headers)
    assert csv.status_code == 200
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "编码,名称,网格员发现数,主动巡查发现数,市民反映数,主动发现占比"
    assert any(line.startswith(f"{w['street'].code},") for line in lines[1:])


def test_principal_without_user_assigns_as_the_system_administrator(world):
    """The admin token (no user): the task names no assigner."""
    task = assign(world, by=ADMINISTRATOR)
    assert task.assigned_by is None and task.source == "manual"


def test_cli_adds_lists_and_cancels_tasks(demo_clone_url, monkeypatch):
    from functools import partial

    from typer.testing import CliRunner

    from server.cli import app
    from server.database import new_session

    monkeypatch.setattr("server.cli_common.new_session", partial(new_session, demo_clone_url))
    with new_session(demo_clone_url) as db:
        village = children(db, children(db, children(db, DISTRICT)[0].code)[0].code)[0].parent_code
        name = db.scalar(select(Grid.name).where(CURRENT, Grid.code == village))

    def gridops(*args: str):
        result = CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})
        # a refusal (DomainError) is the entry point's to print: here it is the exception
        said = result.exception.message if isinstance(result.exception, DomainError) else ""
        return result.exit_code, result.stdout, result.stderr + said

    add = ("patrol", "task", "add", "--grid", village, "--inspector", "13900000001", "--reason", REASON)
    code, out, err = gridops(*add, "--category", "E06010")
    assert code == 0, err
    task_id = int(out.split("巡查任务 ")[1].split("：")[0])
    assert f"巡查 {name}（{village}）" in out
    code, out, err = gridops("patrol", "task", "list", "--grid", village)
    assert code == 0 and "共 1 个任务" in err
    row = next(line for line in out.splitlines() if line.strip().startswith(f"│ {task_id}"))
    assert "进行中" in row and "0 / 30" in row
    code, out, err = gridops("patrol", "task", "cancel", str(task_id))
    assert code == 0 and out.strip() == f"已取消巡查任务 {task_id}"
    code, out, err = gridops(*add, "--from", "2020-01-01")
    assert code == 1 and "已经过去" in err
