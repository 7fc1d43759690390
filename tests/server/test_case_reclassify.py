"""改类 (reclassify, server/case/effects.py ``reclassify``): a case filed under the wrong category moves to
another leaf and takes again what the intake takes from the category; the statistics summaries follow."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text, update

from server.case import queries
from server.case.clock import calendar
from server.case.states import State
from server.category.models import Category
from server.errors import Conflict, Invalid
from tests.server.case_world import act, report, village_point
from tests.server.test_case_transitions import ADMIN, advance, case_in, last_event

T0 = datetime(2026, 11, 16, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Monday, working time


def department_of(db, case) -> str | None:
    return queries.code_of_department(db, case.department_id)


def test_reclassify_takes_the_new_categorys_urgency_clock_and_department(demo_db):
    db = demo_db
    _, lon, lat = village_point(db)
    case = report(db, ADMIN, lon, lat, channel="hotline", at=T0)  # 暴露垃圾: important, 历下区环卫
    assert (case.urgency, department_of(db, case), case.clock) == ("important", "sanitation_lx", "work")
    act(db, ADMIN, case, "reclassify", at=T0, category="E01002", reason="来电说的是井盖破损")
    # 污水井盖缺失破损: urgent, so natural time and the urgent step limit, from the step's start; water
    assert (case.state, case.urgency, department_of(db, case), case.clock) == (
        State.REPORTED, "urgent", "water", "natural",
    )  # fmt: skip
    assert case.category_id == db.scalar(text("SELECT id FROM category WHERE code = 'E01002'"))
    assert case.step_limit_min == 10 and case.step_due_at == case.step_started_at + timedelta(minutes=10)
    event = last_event(db, case)
    assert (event.action, event.data["from"], event.data["to"], event.data["reason"]) == (
        "reclassify", "E06010", "E01002", "来电说的是井盖破损",
    )  # fmt: skip
    assert event.data["urgency"] == {"from": "important", "to": "urgent"}
    # then dispatched by default to the new category's department
    advance(db, case, State.DISPATCHED, at=T0)
    assert department_of(db, case) == "water"


def test_an_urgency_set_by_hand_stays_and_the_district_override_applies(demo_db):
    db = demo_db
    case = case_in(db, State.FILED)
    act(db, ADMIN, case, "reclassify", category="E09009", reason="现场是机动车乱停")
    act(db, ADMIN, case, "reclassify", category="E06012", reason="再次核对：道路不洁")
    # 道路不洁 in 370102 goes to the district's sanitation centre (its override), not the city's
    assert (case.state, case.urgency, department_of(db, case)) == (State.FILED, "important", "sanitation_lx")
    _, lon, lat = village_point(db, index=1)
    by_hand = report(db, ADMIN, lon, lat, urgency="urgent", at=T0)
    act(db, ADMIN, by_hand, "reclassify", at=T0, category="E09009", reason="机动车乱停")
    assert (by_hand.urgency, department_of(db, by_hand), by_hand.clock) == (
        "urgent",
        "traffic_police",
        "natural",
    )
    # a case returned by its department is reclassified before it is dispatched again
    returned = case_in(db, State.RETURNED, where=village_point(db, index=2)[1:])
    act(db, ADMIN, returned, "reclassify", category="E09010", reason="是非机动车")
    assert department_of(db, returned) == "subdistrict"
    act(db, ADMIN, returned, "dispatch", reason="改类后由属地街道办理")
    assert department_of(db, returned) == "subdistrict"


def test_the_duplicate_mark_follows_the_category(demo_db):
    db = demo_db
    _, lon, lat = village_point(db)
    parked = report(db, ADMIN, lon, lat, category="E09009")
    garbage = report(db, ADMIN, lon, lat)
    assert garbage.duplicate_of_id is None
    act(db, ADMIN, garbage, "reclassify", category="E09009", reason="来电说的是乱停车")
    assert garbage.duplicate_of_id == parked.id
    assert last_event(db, garbage).data["duplicate_of"] == parked.code


def test_refusals(demo_db):
    db = demo_db
    case = case_in(db, State.REGISTERED)
    refusals = [
        ({"category": "E06010", "reason": "同类"}, Conflict, "case.same_category"),
        ({"category": "E06", "reason": "大类"}, Invalid, "category.not_a_leaf"),
        ({"category": "E06012"}, Invalid, "case.field_required"),
    ]
    for fields, kind, code in refusals:
        with pytest.raises(kind) as refused:
            act(db, ADMIN, case, "reclassify", **fields)
        assert refused.value.code == code
    assert refused.value.message == "改类需要填写原因，请填写后再提交"
    db.execute(update(Category).where(Category.code == "E06011").values(active=False))
    with pytest.raises(Invalid) as refused:
        act(db, ADMIN, case, "reclassify", category="E06011", reason="积存垃圾")
    assert refused.value.code == "category.category_retired"
    dispatched = case_in(db, State.DISPATCHED, where=village_point(db, index=1)[1:])
    with pytest.raises(Conflict) as refused:
        act(db, ADMIN, dispatched, "reclassify", category="E06012", reason="道路不洁")
    assert refused.value.code == "case.state_forbids"
    db.refresh(case)
    assert case.category_id == db.scalar(text("SELECT id FROM category WHERE code = 'E06010'"))


def test_summaries_equal_sql_over_the_cases_after_a_reclassify(demo_db):
    """The category and area summaries (kept by triggers) move the case to its new category and department:
    each figure equals a count over the case rows."""
    db = demo_db
    _, lon, lat = village_point(db)
    cases = [report(db, ADMIN, lon, lat, category=c, at=T0) for c in ("E06010", "E06010", "E09009")]
    act(db, ADMIN, cases[0], "reclassify", category="E09009", reason="乱停车")
    act(db, ADMIN, cases[2], "reclassify", category="E01002", reason="井盖")
    tz = calendar().tz.key
    day = f"(c.received_at AT TIME ZONE '{tz}')::date"
    direct = f"""
        SELECT subpath(c.grid_path, 0, 1) AS path, {day} AS day, c.category_id, d.id AS department_id,
               count(*) AS n
        FROM case_file c CROSS JOIN LATERAL (VALUES (0::bigint), (c.department_id)) AS d(id)
        WHERE c.state <> 'merged' AND d.id IS NOT NULL GROUP BY 1, 2, 3, 4"""
    summary = """SELECT path, day, category_id, department_id, received FROM stats_category_day
                 WHERE depth = 1 AND received <> 0"""
    assert sorted(db.execute(text(summary)).all()) == sorted(db.execute(text(direct)).all())
    area_direct = f"""
        SELECT subpath(c.grid_path, 0, 1) AS path, {day} AS day, d.id AS department_id, count(*) AS n
        FROM case_file c CROSS JOIN LATERAL (VALUES (0::bigint), (c.department_id)) AS d(id)
        WHERE c.state <> 'merged' AND d.id IS NOT NULL GROUP BY 1, 2, 3"""
    area = "SELECT path, day, department_id, received FROM stats_area_day WHERE depth = 1 AND received <> 0"
    assert sorted(db.execute(text(area)).all()) == sorted(db.execute(text(area_direct)).all())
