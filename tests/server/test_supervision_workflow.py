"""Supervision (督办) worked on the demo city: issued by a leader, shift lead or dispatcher with a note, a
level and optionally a new due time, acknowledged (签收督办) and answered (答复督办) by the lead department;
a repeat or the sweep (overdue, or left unanswered past its answer time) goes a level up; the 督办 queue
and its counts for each role; returns per department (推诿); the first department's responsibility
(首办负责制)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text

from server import messages
from server.case import supervision
from server.case.clock import calendar
from server.case.models import Case, CaseEvent, CaseSupervision
from server.case.trail import SYSTEM_ACTOR
from server.config import get_settings
from server.database import get_engine, new_session
from server.errors import Conflict, Forbidden, Invalid
from tests.server.case_world import act, make_user, report, team
from tests.server.test_case_desk import counts
from tests.server.test_case_http import login

SHANGHAI = ZoneInfo("Asia/Shanghai")
LEAD_DEPARTMENT = "sanitation_lx"  # 历下区's department for exposed garbage (E06010)


def local(moment: str) -> datetime:
    return datetime.fromisoformat(moment).replace(tzinfo=SHANGHAI)


T0 = local("2026-03-09 09:00")  # a Monday, a working day


@pytest.fixture
def world(demo_db, demo_client):
    people = team(demo_db, department=LEAD_DEPARTMENT)
    return {
        **people,
        "client": demo_client,
        "leader": make_user(demo_db, ["leader"]),
        "enforcement": make_user(demo_db, ["department"], department="enforcement"),
    }


def dispatched(world, at: datetime = T0, **fields) -> Case:
    """A report of the world's inspector filed and dispatched at ``at`` (to the category's department)."""
    db = world["db"]
    case = report(db, world["inspector"], world["lon"], world["lat"], at=at - timedelta(minutes=10))
    act(db, world["lead"], case, "file", at=at - timedelta(minutes=5))
    return act(db, world["dispatcher"], case, "dispatch", at=at, **fields)


def reassign(world, case: Case, at: datetime) -> Case:
    """Dispatch ``case`` to enforcement (not its first department): with a reason."""
    reason = "占道堆放属执法范围"
    return act(
        world["db"],
        world["dispatcher"],
        case,
        "dispatch",
        at=at,
        lead_department="enforcement",
        reason=reason,
    )


def open_row(db, case: Case) -> CaseSupervision | None:
    return db.scalar(
        select(CaseSupervision).where(CaseSupervision.case_id == case.id, CaseSupervision.closed_at.is_(None))
    )


def events(db, case: Case, *actions: str) -> list[CaseEvent]:
    query = select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action.in_(actions))
    return list(db.scalars(query.order_by(CaseEvent.id)))


def queue(client, headers, name: str) -> set[str]:
    resp = client.get("/api/cases", params={"queue": name, "limit": 500}, headers=headers)
    assert resp.status_code == 200, resp.text
    return {c["code"] for c in resp.json()["items"]}


def answer_limit(case: Case) -> int:
    return calendar(case.clock).parse_limit(get_settings().supervision_answer_limit)


def test_issued_acknowledged_and_answered(world):
    db, client = world["db"], world["client"]
    case = dispatched(world)
    with pytest.raises(Invalid) as refused:  # a supervision says what is wanted
        act(db, world["dispatcher"], case, "supervise", at=T0 + timedelta(minutes=10), level=2)
    assert (refused.value.code, refused.value.params) == (
        "case.field_required",
        {"action": "督办", "field": "意见"},
    )
    at = T0 + timedelta(minutes=10)
    act(db, world["dispatcher"], case, "supervise", at=at, level=2, note="市民多次来电，请今天清运")
    assert case.supervision_level == 2
    row = open_row(db, case)
    cal = calendar(case.clock)
    assert (row.kind, row.level, row.note, row.issued_at) == ("supervise", 2, "市民多次来电，请今天清运", at)
    assert row.answer_due_at == cal.add(at, answer_limit(case))
    assert row.issuer_id == world["dispatcher"].user_id and row.department_id == case.department_id
    (event,) = events(db, case, "supervise")
    assert event.note == "市民多次来电，请今天清运" and event.role == "dispatcher"
    assert (event.data["kind"], event.data["level"]) == ("supervise", 2)

    # The department sees it in its case: acknowledge now, answer after acknowledging.
    department = login(client, world["department"])
    detail = client.get(f"/api/cases/{case.code}", headers=department).json()
    assert (detail["supervision_level"], detail["supervised"]) == (2, True)
    assert detail["supervision"] | {"issued_at": None, "answer_due_at": None} == {
        "kind": "supervise",
        "kind_label": "督办",
        "level": 2,
        "level_label": "重点督办",
        "note": "市民多次来电，请今天清运",
        "issued_at": None,
        "issuer": world["dispatcher"].name,
        "department": {"code": LEAD_DEPARTMENT, "name": "历下区环境卫生服务中心"},
        "new_due_at": None,
        "answer_due_at": None,
        "acknowledged_at": None,
        "answered_at": None,
        "answer": None,
    }
    assert detail["actions"]["acknowledge_supervision"] is None
    assert detail["actions"]["answer_supervision"] == messages.text("case.supervision_not_acknowledged")
    assert "supervise" not in detail["actions"]  # not the department's to issue

    acknowledged = T0 + timedelta(minutes=20)
    act(db, world["department"], case, "acknowledge_supervision", at=acknowledged)
    assert open_row(db, case).acknowledged_at == acknowledged
    with pytest.raises(Conflict) as refused:
        act(db, world["department"], case, "acknowledge_supervision", at=acknowledged)
    assert refused.value.code == "case.supervision_acknowledged"
    with pytest.raises(Invalid) as refused:
        act(db, world["department"], case, "answer_supervision", at=acknowledged)
    assert refused.value.params == {"action": "答复督办", "field": "答复内容"}

    answered = T0 + timedelta(minutes=40)
    act(db, world["department"], case, "answer_supervision", at=answered, answer="已派车，11 点前清运完毕")
    row = open_row(db, case)  # answered, it stays open (a repeat goes a level up) until the case ends
    assert (row.answered_at, row.answer, row.answered_by) == (
        answered,
        "已派车，11 点前清运完毕",
        world["department"].user_id,
    )
    assert case.supervision_level is None
    detail = client.get(f"/api/cases/{case.code}", headers=department).json()
    assert detail["supervision_level"] is None and not detail["supervised"]
    assert detail["supervision"]["answer"] == "已派车，11 点前清运完毕"
    assert detail["actions"]["answer_supervision"] == messages.text("case.no_open_supervision")
    timeline = [(e["action"], e["data"].get("level")) for e in detail["timeline"]]
    assert timeline[-3:] == [("supervise", 2), ("acknowledge_supervision", 2), ("answer_supervision", 2)]
    assert detail["timeline"][-1]["data"]["answer"] == "已派车，11 点前清运完毕"


def test_a_repeat_goes_a_level_up_to_the_top(world):
    db = world["db"]
    case = dispatched(world)
    at = T0 + timedelta(minutes=10)
    act(db, world["leader"], case, "urge", at=at, note="请加快")  # 催办: level 1 unless given
    first = open_row(db, case)
    assert (first.kind, first.level) == ("urge", 1)
    act(db, world["lead"], case, "supervise", at=at + timedelta(minutes=1), level=1, note="仍未处理")
    second = open_row(db, case)
    assert first.closed_at == at + timedelta(minutes=1)
    assert (second.kind, second.level, case.supervision_level) == ("supervise", 2, 2)
    act(db, world["dispatcher"], case, "urge", at=at + timedelta(minutes=2), note="第三次催办")
    act(db, world["dispatcher"], case, "supervise", at=at + timedelta(minutes=3), level=3, note="挂牌")
    assert case.supervision_level == 3  # at most 挂牌督办
    issued = [
        (e.action, e.data["level"], e.data.get("escalated_from"))
        for e in events(db, case, "supervise", "urge")
    ]
    assert issued == [("urge", 1, None), ("supervise", 2, 1), ("urge", 3, 2), ("supervise", 3, 3)]
    still_open = select(func.count()).where(
        CaseSupervision.case_id == case.id, CaseSupervision.closed_at.is_(None)
    )
    assert db.scalar(still_open) == 1

    # Answered, a supervision still counts: a new one after it goes above it too.
    other = dispatched(world, at=T0 + timedelta(hours=1))
    at = T0 + timedelta(hours=1, minutes=10)
    act(db, world["leader"], other, "supervise", at=at, level=2, note="重点关注")
    act(db, world["department"], other, "acknowledge_supervision", at=at + timedelta(minutes=1))
    act(db, world["department"], other, "answer_supervision", at=at + timedelta(minutes=2), answer="已处理")
    act(db, world["leader"], other, "supervise", at=at + timedelta(minutes=30), note="现场仍有垃圾")
    assert other.supervision_level == 3


def test_a_new_due_time_moves_the_step_clock(world):
    db, client = world["db"], world["client"]
    case = dispatched(world)
    limit = case.step_limit_min
    with pytest.raises(Invalid) as refused:
        act(
            db,
            world["leader"],
            case,
            "supervise",
            at=T0 + timedelta(minutes=5),
            note="限时",
            new_due="2026-03-09T08:00",
        )
    assert refused.value.code == "case.supervision_due_past"
    act(db, world["leader"], case, "supervise", at=T0 + timedelta(minutes=5), note="限今天 11 点前办结",
        new_due="2026-03-09T11:00")  # fmt: skip
    due = local("2026-03-09 11:00")  # the city's local time
    cal = calendar(case.clock)
    assert case.step_due_at == case.handle_due_at == due
    assert case.step_yellow_at == cal.subtract(due, get_settings().yellow_fraction * limit)
    assert open_row(db, case).new_due_at == due
    (event,) = events(db, case, "supervise")
    assert datetime.fromisoformat(event.data["new_due"]) == due and event.due_at == due
    shown = client.get(f"/api/cases/{case.code}", headers=login(client, world["leader"])).json()
    assert datetime.fromisoformat(shown["due_at"]) == due

    act(db, world["dispatcher"], case, "suspend", at=T0 + timedelta(minutes=30), reason="等待施工")
    with pytest.raises(Conflict) as refused:  # no clock runs while suspended
        act(db, world["leader"], case, "supervise", at=T0 + timedelta(minutes=40), note="限时",
            new_due="2026-03-10T11:00")  # fmt: skip
    assert refused.value.params["state_label"] == "挂账"


def test_the_sweep_supervises_overdue_cases_and_raises_unanswered_supervisions(world):
    db = world["db"]
    case = dispatched(world)
    cal = calendar(case.clock)
    late = case.step_due_at + timedelta(minutes=1)
    assert supervision.sweep_overdue(db=db, at=case.step_due_at - timedelta(minutes=1)) == []
    version = case.version
    assert supervision.sweep_overdue(db=db, at=late) == [case.code]
    assert supervision.sweep_overdue(db=db, at=late + timedelta(minutes=5)) == []  # once per step
    row = open_row(db, case)
    assert (row.kind, row.level, row.issuer_id, row.issuer_name) == ("supervise", 1, None, SYSTEM_ACTOR)
    assert row.department_id == case.department_id and row.answer_due_at == cal.add(late, answer_limit(case))
    assert (case.supervision_level, case.version) == (1, version + 1)
    (event,) = events(db, case, "supervise")
    assert event.actor_name == SYSTEM_ACTOR and event.note == messages.text(
        "case.supervision_overdue_note", state_label="处置中"
    )

    # Left unanswered past its answer time: one level up, once.
    assert supervision.escalate_unanswered(db=db, at=row.answer_due_at - timedelta(minutes=1)) == []
    raised_at = row.answer_due_at + timedelta(minutes=1)
    assert supervision.escalate_unanswered(db=db, at=raised_at) == [case.code]
    assert supervision.escalate_unanswered(db=db, at=raised_at) == []
    second = open_row(db, case)
    assert (row.closed_at, second.level, case.supervision_level) == (raised_at, 2, 2)
    assert second.answer_due_at == cal.add(raised_at, answer_limit(case))
    raised = events(db, case, "supervise")[-1]
    assert (raised.data["level"], raised.data["escalated_from"]) == (2, 1)
    assert raised.note == messages.text(
        "case.supervision_escalated_note", previous="一般督办", level="重点督办"
    )

    # Acknowledged is not answered: still raised; at the top it stays.
    act(db, world["department"], case, "acknowledge_supervision", at=raised_at + timedelta(minutes=1))
    third_at = second.answer_due_at + timedelta(minutes=1)
    assert supervision.escalate_unanswered(db=db, at=third_at) == [case.code]
    assert case.supervision_level == 3
    assert supervision.escalate_unanswered(db=db, at=third_at + timedelta(days=30)) == []
    assert len(events(db, case, "supervise")) == 3

    # An answered supervision is not raised; a case overdue again under it goes a level up.
    other = dispatched(world, at=T0 + timedelta(hours=1))
    act(db, world["dispatcher"], other, "supervise", at=T0 + timedelta(hours=1, minutes=5), note="请尽快")
    act(db, world["department"], other, "acknowledge_supervision", at=T0 + timedelta(hours=1, minutes=6))
    act(
        db,
        world["department"],
        other,
        "answer_supervision",
        at=T0 + timedelta(hours=1, minutes=7),
        answer="马上到",
    )
    assert supervision.escalate_unanswered(db=db, at=T0 + timedelta(days=10)) == []
    assert supervision.sweep_overdue(db=db, at=other.step_due_at + timedelta(minutes=1)) == [other.code]
    assert other.supervision_level == 2


def test_an_ended_case_ends_its_supervision(world):
    db = world["db"]
    case = report(db, world["inspector"], world["lon"], world["lat"], at=T0)  # registered: no department
    act(db, world["lead"], case, "supervise", at=T0 + timedelta(minutes=1), note="尽快立案")
    row = open_row(db, case)
    assert row.department_id is None and row.answer_due_at is None  # nobody answers it, nothing raises it
    act(db, world["lead"], case, "void", at=T0 + timedelta(minutes=2), reason="重复上报")
    db.refresh(row)
    assert row.closed_at == T0 + timedelta(minutes=2) and case.supervision_level is None


def test_the_supervision_queue_and_its_counts_for_each_role(world):
    """Counted like every queue, within each user's scope (the demo city has supervised cases of its own)."""
    db, client = world["db"], world["client"]
    issuers = ("leader", "lead", "dispatcher")
    h = {n: login(client, world[n]) for n in (*issuers, "department", "enforcement", "acceptor")}
    assert "supervision" not in counts(client, h["acceptor"])  # the acceptor neither issues nor answers
    before = {n: counts(client, h[n])["supervision"][0] for n in (*issuers, "department", "enforcement")}
    case = dispatched(world)
    quiet = dispatched(world, at=T0 + timedelta(minutes=1))

    act(db, world["leader"], case, "supervise", at=T0 + timedelta(minutes=10), note="请尽快")
    registered = report(db, world["inspector"], world["lon"], world["lat"], at=T0)
    act(db, world["lead"], registered, "urge", at=T0 + timedelta(minutes=11), note="请尽快立案")
    for name in issuers:
        assert counts(client, h[name])["supervision"][0] == before[name] + 2, name
        assert {case.code, registered.code} <= queue(client, h[name], "supervision")
        assert quiet.code not in queue(client, h[name], "supervision")
    assert counts(client, h["department"])["supervision"][0] == before["department"] + 1
    assert case.code in queue(client, h["department"], "supervision")
    assert counts(client, h["enforcement"])["supervision"][0] == before["enforcement"]

    # Answered, it leaves the department's queue; the issuers follow it until the case ends.
    act(db, world["department"], case, "acknowledge_supervision", at=T0 + timedelta(minutes=12))
    act(db, world["department"], case, "answer_supervision", at=T0 + timedelta(minutes=13), answer="已安排")
    assert case.code not in queue(client, h["department"], "supervision")
    assert counts(client, h["department"])["supervision"][0] == before["department"]
    act(db, world["lead"], registered, "void", at=T0 + timedelta(minutes=14), reason="非城市管理问题")
    assert counts(client, h["dispatcher"])["supervision"][0] == before["dispatcher"] + 1
    assert case.code in queue(client, h["dispatcher"], "supervision")
    assert registered.code not in queue(client, h["dispatcher"], "supervision")


def test_only_the_department_leading_the_case_acknowledges_and_answers(world):
    db, client = world["db"], world["client"]
    case = dispatched(world)
    act(db, world["dispatcher"], case, "supervise", at=T0 + timedelta(minutes=5), note="请尽快")
    other = make_user(db, ["department"], department="greening")
    refused = client.post(  # a department the case was never dispatched to does not see it
        f"/api/cases/{case.code}/actions/acknowledge_supervision",
        json={"version": case.version},
        headers=login(client, other),
    )
    assert refused.status_code == 404
    with pytest.raises(Forbidden) as forbidden:  # issuing is not a department's
        act(db, world["department"], case, "supervise", at=T0 + timedelta(minutes=6), note="自己督办")
    assert forbidden.value.code == "case.role_required"

    # Returned and sent elsewhere: the department that leads it now answers, the first one no more.
    act(db, world["department"], case, "return", at=T0 + timedelta(minutes=10), reason="属于执法部门")
    reassign(world, case, T0 + timedelta(minutes=15))
    with pytest.raises(Forbidden) as forbidden:
        act(db, world["department"], case, "acknowledge_supervision", at=T0 + timedelta(minutes=20))
    assert forbidden.value.code == "case.lead_department_only"
    assert case.code not in queue(client, login(client, world["department"]), "supervision")
    assert case.code in queue(client, login(client, world["enforcement"]), "supervision")
    act(db, world["enforcement"], case, "acknowledge_supervision", at=T0 + timedelta(minutes=20))


def test_the_first_department_stays_responsible_until_reassigned_with_a_reason(world):
    db, client = world["db"], world["client"]
    case = dispatched(world)
    first = case.first_department_id
    assert first == case.department_id
    act(db, world["department"], case, "return", at=T0 + timedelta(minutes=10), reason="不是本单位的")
    with pytest.raises(Invalid) as refused:
        act(
            db,
            world["dispatcher"],
            case,
            "dispatch",
            at=T0 + timedelta(minutes=15),
            lead_department="enforcement",
        )
    assert (refused.value.code, refused.value.params) == (
        "case.reassign_reason_required",
        {"first": "历下区环境卫生服务中心"},
    )
    reassign(world, case, T0 + timedelta(minutes=15))
    assert (case.first_department_id, events(db, case, "dispatch")[-1].data["reason"]) == (
        first,
        "占道堆放属执法范围",
    )
    act(db, world["enforcement"], case, "return", at=T0 + timedelta(minutes=20), reason="仍属环卫")
    back = T0 + timedelta(minutes=25)  # back to the first department: no reason needed
    act(db, world["dispatcher"], case, "dispatch", at=back, lead_department=LEAD_DEPARTMENT)
    detail = client.get(f"/api/cases/{case.code}", headers=login(client, world["dispatcher"])).json()
    assert detail["first_department"] == {"code": LEAD_DEPARTMENT, "name": "历下区环境卫生服务中心"}
    assert detail["department"]["code"] == LEAD_DEPARTMENT


def test_returns_per_department(world):
    db, client = world["db"], world["client"]
    pushed = dispatched(world)
    act(db, world["department"], pushed, "return", at=T0 + timedelta(minutes=10), reason="不是本单位的")
    reassign(world, pushed, T0 + timedelta(minutes=15))
    act(db, world["enforcement"], pushed, "return", at=T0 + timedelta(minutes=20), reason="仍属环卫")
    act(
        db,
        world["dispatcher"],
        pushed,
        "dispatch",
        at=T0 + timedelta(minutes=25),
        lead_department=LEAD_DEPARTMENT,
    )
    dispatched(world, at=T0 + timedelta(hours=1))
    dispatched(world, at=local("2026-03-16 09:00"))  # the next week: outside the period

    week = {"since": "2026-03-09", "until": "2026-03-15"}
    for name in ("leader", "lead", "dispatcher"):
        answer = client.get("/api/cases/returns", params=week, headers=login(client, world[name]))
        assert answer.status_code == 200, answer.text
        rows = [(r["department"]["code"], r["dispatched"], r["returned"], r["ratio"]) for r in answer.json()]
        assert rows == [("enforcement", 1, 1, 1.0), (LEAD_DEPARTMENT, 3, 1, pytest.approx(1 / 3))], name
    for name in ("acceptor", "department"):
        refused = client.get("/api/cases/returns", params=week, headers=login(client, world[name]))
        assert refused.status_code == 403, name
    one_day = {"since": "2026-03-16", "until": "2026-03-16"}
    answer = client.get("/api/cases/returns", params=one_day, headers=login(client, world["leader"])).json()
    assert [(r["department"]["code"], r["dispatched"], r["returned"], r["ratio"]) for r in answer] == [
        (LEAD_DEPARTMENT, 1, 0, 0.0)
    ]


def test_several_sweeps_at_once_supervise_each_case_once(demo_clone_url):
    """A case another process holds locked is skipped, and supervised once by the process holding it."""
    with new_session(demo_clone_url) as db:
        people = team(db, department=LEAD_DEPARTMENT)
        cases = []
        for minutes in (0, 1):
            case = report(
                db, people["inspector"], people["lon"], people["lat"], at=T0 + timedelta(minutes=minutes)
            )
            act(db, people["lead"], case, "file", at=T0 + timedelta(minutes=5))
            cases.append(act(db, people["dispatcher"], case, "dispatch", at=T0 + timedelta(minutes=10)))
        codes = [c.code for c in cases]
        ids = [c.id for c in cases]
    later = T0 + timedelta(days=30)
    with new_session(demo_clone_url) as holder, new_session(demo_clone_url) as other:
        other.execute(text("SET lock_timeout = '20s'"))  # waiting on the holder would be the failure
        holder.execute(select(Case.id).where(Case.id == ids[0]).with_for_update())
        assert supervision.sweep_overdue(db=other, at=later) == [codes[1]]
        assert supervision.sweep_overdue(db=holder, at=later) == [codes[0]]
        holder.execute(select(Case.id).where(Case.id == ids[1]).with_for_update())
        raised = later + timedelta(days=30)
        assert supervision.escalate_unanswered(db=other, at=raised) == [codes[0]]
        assert supervision.escalate_unanswered(db=holder, at=raised) == [codes[1]]
        assert supervision.escalate_unanswered(db=holder, at=raised) == []
        levels = holder.scalars(select(Case.supervision_level).where(Case.id.in_(ids))).all()
        assert levels == [2, 2]
        assert holder.scalar(select(func.count()).where(CaseSupervision.case_id.in_(ids))) == 4
    get_engine(demo_clone_url).dispose()
