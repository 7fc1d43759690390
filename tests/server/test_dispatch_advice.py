"""The dispatch form's advice (GET /api/cases/{code}/dispatch-advice): the department configured for the
case's category in its district first, and each department's record with such cases over the last
dispatch_advice_days days: lead dispatches, returns (回退) and the return rate, a warning for a department
that returns them often. Real cases dispatched and returned through the workflow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.config import get_settings
from tests.server.case_world import OTHER_DISTRICT, act, make_user, report, team, village_point
from tests.server.test_case_http import login

GARBAGE = "E06010"  # 历下区 sends it to its district sanitation centre (a district override)


@pytest.fixture
def world(demo_db, demo_client):
    people = team(demo_db, department="sanitation_lx")
    return {
        **people,
        "client": demo_client,
        "enforcement": make_user(demo_db, ["department"], department="enforcement"),
        "city": make_user(demo_db, ["acceptor", "shift_lead", "dispatcher"]),  # city-wide: both districts
    }


def sent(world, to: str, category: str = GARBAGE, at: datetime | None = None, point=None, returned=False):
    """A report filed and dispatched to the department ``to`` at ``at`` (now), returned by it if asked."""
    db = world["db"]
    lon, lat = point or (world["lon"], world["lat"])
    step = timedelta(minutes=5)
    case = report(db, world["inspector"], lon, lat, category=category, at=at and at - 2 * step)
    act(db, world["city"], case, "file", at=at and at - step)
    act(db, world["city"], case, "dispatch", at=at, lead_department=to)
    if returned:
        act(db, world["enforcement"], case, "return", at=at and at + step, reason="非本单位职责")
    return case


def advice(world, case, who: str = "dispatcher") -> dict:
    client = world["client"]
    resp = client.get(f"/api/cases/{case.code}/dispatch-advice", headers=login(client, world[who]))
    assert resp.status_code == 200, resp.text
    return resp.json()


def record(body: dict, department: str) -> tuple[int, int]:
    row = next((r for r in body["records"] if r["code"] == department), None)
    return (row["dispatched"], row["returned"]) if row else (0, 0)


def test_returns_of_the_category_in_the_district_warn(world, monkeypatch):
    db = world["db"]
    fresh = report(db, world["inspector"], world["lon"], world["lat"], category=GARBAGE)
    before = advice(world, fresh)
    assert before["days"] == get_settings().dispatch_advice_days == 180
    assert before["records"] == []  # nothing dispatched yet in the test's database
    configured = before["suggested"][0]
    assert (configured["code"], configured["name"], configured["configured"]) == (
        "sanitation_lx",
        "历下区环境卫生服务中心",
        True,
    )

    returned = [sent(world, "enforcement", returned=True) for _ in range(2)]
    sent(world, "enforcement")  # handled, not returned
    sent(world, "sanitation_lx")
    # not counted: another category, another district, a return older than the period
    sent(world, "enforcement", category="E06012", returned=True)
    _, lon, lat = village_point(db, OTHER_DISTRICT)
    sent(world, "enforcement", point=(lon, lat), returned=True)
    sent(world, "enforcement", at=datetime.now(UTC) - timedelta(days=200), returned=True)

    rows = [
        (r["code"], r["dispatched"], r["returned"], r["warn"])
        for r in advice(world, fresh, "lead")["records"]
    ]
    # 2 returns: no warning yet
    assert rows == [("enforcement", 3, 2, False), ("sanitation_lx", 1, 0, False)]

    returned.append(sent(world, "enforcement", returned=True))
    body = advice(world, returned[0])  # the advice of a returned case, to dispatch it again
    first = body["records"][0]
    assert (first["code"], first["name"]) == ("enforcement", "济南市城市管理综合执法支队")
    assert (first["dispatched"], first["returned"], first["return_rate"], first["warn"]) == (4, 3, 0.75, True)

    monkeypatch.setattr(get_settings(), "dispatch_advice_return_warn", 0.8)  # 75% is below this rate
    assert advice(world, fresh)["records"][0]["warn"] is False
