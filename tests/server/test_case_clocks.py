"""Clocks that match the urgency, request types with their own limits, and the department's receipt (签收):
an urgent flooded road reported on a Friday evening is due the same evening (natural time) while an
ordinary case waits for Monday (working time); a 咨询 is answered within a working day; a department signs
for a case within its request type's response limit before it may report its handling; remaining time
reads as people say it."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from server.case import present
from server.case.models import Case
from server.case.queues import QUEUES
from server.case.scope import scope_of
from server.category import service as category_service
from server.category.loader import load_taxonomy
from server.category.models import Category
from server.errors import Conflict, Invalid
from server.worktime.calendar import NaturalClock, duration_words
from tests.server.case_world import act, make_user, report, team

JINAN = ZoneInfo("Asia/Shanghai")
FRIDAY_EVENING = datetime(2026, 11, 27, 20, 38, tzinfo=JINAN)
SATURDAY = datetime(2026, 11, 28, 0, 0, tzinfo=JINAN)
MONDAY = datetime(2026, 11, 30, 8, 30, tzinfo=JINAN)
FLOODED_ROAD = "E06025"  # 道路积水: urgent, 2h, the water company
GARBAGE = "E06010"  # 暴露垃圾: normal, 4h, 历下区 sanitation
OUTDOOR_ADVERT = "E07003"  # 违规户外广告: 5d, and its own 2d for a 咨询


def dispatched(db, w, category: str, at: datetime, **report_fields) -> Case:
    """A case reported by the inspector at ``at``, filed and dispatched at once."""
    case = report(db, w["inspector"], w["lon"], w["lat"], category=category, at=at, **report_fields)
    act(db, w["lead"], case, "file", at=at)
    act(db, w["dispatcher"], case, "dispatch", at=at)
    return case


def shown(db, case: Case, at: datetime):
    (out,) = present.describe(db=db, cases=[case], at=at)
    return out


def test_duration_words():
    assert duration_words(130) == "2 小时 10 分"
    assert duration_words(28 * 60) == "1 天 4 小时"
    assert duration_words(3 * 450, 450) == "3 个工作日"
    assert duration_words(2 * 450 + 125, 450) == "2 个工作日 2 小时"  # minutes drop beyond a day
    assert duration_words(45) == "45 分"
    assert duration_words(0.4) == "不到 1 分"


def test_natural_time_counts_every_minute():
    clock = NaturalClock()
    assert clock.parse_limit("2d") == 2880 and clock.parse_limit("1.5h") == 90
    assert clock.add(FRIDAY_EVENING, 120) == FRIDAY_EVENING + timedelta(hours=2)
    assert clock.subtract(SATURDAY, 30) == SATURDAY - timedelta(minutes=30)
    assert clock.between(FRIDAY_EVENING, SATURDAY) == 202
    assert clock.between(SATURDAY, FRIDAY_EVENING) == 0


def test_an_urgent_case_reported_on_friday_evening_is_due_that_evening(demo_db):
    db = demo_db
    w = team(db)
    flood = dispatched(db, w, FLOODED_ROAD, FRIDAY_EVENING)
    assert (flood.urgency, flood.clock) == ("urgent", "natural")
    assert flood.handle_due_at == FRIDAY_EVENING + timedelta(hours=2)  # Friday 22:38, not Monday
    late = shown(db, flood, SATURDAY)
    assert (late.light, late.clock, late.remaining_text) == ("red", "natural", "已超时 1 小时 22 分")
    assert late.remaining_workdays is None  # natural time has no working days

    garbage = dispatched(db, w, GARBAGE, FRIDAY_EVENING)  # normal: working time, due Monday
    assert garbage.clock == "work"
    assert garbage.handle_due_at == datetime(2026, 11, 30, 14, 0, tzinfo=JINAN)  # 08:30-12:00, 13:30-14:00
    waiting = shown(db, garbage, SATURDAY)
    assert (waiting.light, waiting.remaining_text) == ("green", "剩余 4 小时")


def test_which_clock_is_data(demo_db, setting):
    db = demo_db
    w = team(db)
    setting("GRIDOPS_NATURAL_CLOCK_URGENCIES", "")  # a city whose urgent cases wait for office hours
    assert dispatched(db, w, FLOODED_ROAD, FRIDAY_EVENING).clock == "work"
    db.execute(update(Category).where(Category.code == GARBAGE).values(clock="natural"))
    garbage = dispatched(db, w, GARBAGE, FRIDAY_EVENING)  # the taxonomy says so for its category
    assert (garbage.clock, garbage.handle_due_at) == ("natural", FRIDAY_EVENING + timedelta(hours=4))


def test_a_case_filed_as_urgent_is_handled_on_natural_time(demo_db):
    db = demo_db
    w = team(db)
    case = report(db, w["inspector"], w["lon"], w["lat"], category=GARBAGE, at=FRIDAY_EVENING)
    assert case.clock == "work"
    act(db, w["lead"], case, "file", at=FRIDAY_EVENING, urgency="urgent")
    act(db, w["dispatcher"], case, "dispatch", at=FRIDAY_EVENING)  # the next step starts on its clock
    assert (case.clock, case.handle_due_at) == ("natural", FRIDAY_EVENING + timedelta(hours=4))


@pytest.mark.parametrize(
    ("category", "request_type", "working_days"),
    [
        (GARBAGE, "complaint", 240 / 450),  # the category's 4 h, sooner than a complaint's 7 days
        (GARBAGE, "consult", 240 / 450),  # the category's 4 h, sooner than a consultation's day
        (OUTDOOR_ADVERT, "complaint", 5),  # the category's 5 days, sooner than 7
        (OUTDOOR_ADVERT, "suggest", 3),  # a suggestion's 3 days, sooner than the category's 5
        (OUTDOOR_ADVERT, "consult", 2),  # the category's own limit for a consultation
    ],
)
def test_the_handling_limit_follows_the_request_type(demo_db, category, request_type, working_days):
    db = demo_db
    w = team(db, department="enforcement" if category == OUTDOOR_ADVERT else "sanitation_lx")
    case = dispatched(db, w, category, MONDAY, request_type=request_type)
    assert case.request_type == request_type
    assert case.step_limit_min == pytest.approx(working_days * 450)
    assert shown(db, case, MONDAY).request_type.code == request_type


def test_a_report_that_does_not_say_is_a_complaint_and_an_unknown_type_is_refused(demo_db):
    db = demo_db
    w = team(db)
    case = report(db, w["inspector"], w["lon"], w["lat"])
    assert shown(db, case, MONDAY).request_type.model_dump() == {"code": "complaint", "name": "投诉"}
    with pytest.raises(Invalid) as refused:
        report(db, w["inspector"], w["lon"], w["lat"], request_type="gossip")
    assert refused.value.code == "case.unknown_request_type"
    assert "投诉、咨询" in refused.value.message


def test_the_department_signs_for_a_case_within_its_response_limit(demo_db):
    db = demo_db
    w = team(db)
    case = dispatched(db, w, GARBAGE, MONDAY)  # a complaint: acknowledged within 1 hour
    assert case.receipt_limit_min == 60
    assert case.receipt_due_at == MONDAY + timedelta(hours=1)
    assert [shown(db, case, MONDAY + timedelta(minutes=m)).receipt_light for m in (44, 45, 60)] == [
        "green",
        "yellow",
        "red",
    ]
    late = shown(db, case, MONDAY + timedelta(minutes=75))
    assert late.receipt_text == "已超时 15 分"

    scope = scope_of(db=db, principal=w["department"])
    to_receive = QUEUES["receive"].condition(MONDAY, scope)
    assert db.scalar(select(Case.id).where(Case.id == case.id, to_receive)) == case.id

    with pytest.raises(Conflict) as refused:  # the handling waits for the receipt
        act(db, w["department"], case, "report_handling", version=case.version)
    assert refused.value.code == "case.receipt_first"
    act(db, w["department"], case, "receive", at=MONDAY + timedelta(minutes=75))
    assert case.received_by_department_at == MONDAY + timedelta(minutes=75)
    signed = shown(db, case, MONDAY + timedelta(minutes=80))
    assert (signed.receipt_light, signed.receipt_text) == (None, None)
    assert db.scalar(select(Case.id).where(Case.id == case.id, to_receive)) is None
    with pytest.raises(Conflict) as again:
        act(db, w["department"], case, "receive")
    assert again.value.code == "case.already_received"

    consult = dispatched(db, w, GARBAGE, MONDAY, request_type="consult")  # no response limit of its own
    assert consult.receipt_limit_min == 30  # the settings' receipt limit


def test_a_new_dispatch_starts_a_new_receipt(demo_db):
    db = demo_db
    w = team(db)
    case = dispatched(db, w, GARBAGE, MONDAY)
    act(db, w["department"], case, "receive", at=MONDAY)
    act(db, w["department"], case, "return", at=MONDAY, reason="不属于本部门")
    later = MONDAY + timedelta(hours=2)
    other = make_user(db, ["department"], department="sanitation_lx")
    act(db, w["dispatcher"], case, "dispatch", at=later)
    assert (case.received_by_department_at, case.receipt_due_at) == (None, later + timedelta(hours=1))
    act(db, other, case, "receive", at=later)


TAXONOMY = """
departments:
  - {code: sanitation, name: 环卫}
major_classes:
  event: {"06": 市容环境}
categories:
  - {code: E06010, name: 暴露垃圾, urgency: normal, handling_limit: 4h, department: sanitation,
     clock: natural, simple_flow: true, request_limits: {consult: 2h}}
tags: []
request_types:
  - {code: complaint, name: 投诉, response_limit: 30m, handling_limit: 5d}
  - {code: consult, name: 咨询, handling_limit: 1d}
"""


def test_a_city_loads_its_own_request_types_and_limits(demo_db):
    db = demo_db
    result = category_service.load(db=db, taxonomy=load_taxonomy(TAXONOMY.encode(), "yaml"), dry_run=True)
    counts = result.request_types
    assert (counts.updated, counts.unchanged, counts.deactivated) == (1, 1, 3)

    category_service.load(db=db, taxonomy=load_taxonomy(TAXONOMY.encode(), "yaml"))
    garbage = category_service.get_category(db=db, code="E06010")
    assert (garbage.clock, garbage.simple_flow) == ("natural", True)
    assert [(r.request_type, r.handling_limit) for r in garbage.request_limits] == [("consult", "2h")]
    assert [(t.code, t.response_limit) for t in category_service.list_request_types(db=db)] == [
        ("complaint", "30m"),
        ("consult", None),
    ]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ("  - {code: complaint, name: 投诉", "缺少 complaint（投诉）"),  # dropped below
        ("request_limits: {consult: 2h}", "没有编号为“gossip”的诉求类型"),
        ("clock: natural", "计时方式“sometimes”不对"),
        ("simple_flow: true", "即报即处（simple_flow）应为 true（是）或 false（否）"),
    ],
)
def test_taxonomy_errors_in_request_types_and_clocks(change, problem):
    wrong = {
        "  - {code: complaint, name: 投诉": "  - {code: help, name: 求助",
        "request_limits: {consult: 2h}": "request_limits: {gossip: 2h}",
        "clock: natural": "clock: sometimes",
        "simple_flow: true": "simple_flow: maybe",
    }[change]
    with pytest.raises(Invalid) as refused:
        load_taxonomy(TAXONOMY.replace(change, wrong).encode(), "yaml")
    assert any(problem in e for e in refused.value.params["errors"]), refused.value.params["errors"]
