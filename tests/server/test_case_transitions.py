"""Every action of the workflow from each of its source states, and its refusal from every other state; the
side effects that matter (dispatches, clocks, rework, closing kinds, merges, tags); the intake rules.

Cases are driven along the workflow by the system administrator (the settings' admin token), so only the
user under test is made per test."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from geoalchemy2.shape import to_shape
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.crs import CRS, distance_m, to_wgs84, wgs84_to_gcj02
from server.auth.principal import ADMINISTRATOR, Principal
from server.case import clock as case_clock
from server.case import intake, queries
from server.case.flows import ACTIONS, allowed_from
from server.case.models import Case
from server.case.schemas import ReportIn
from server.case.states import STATE_LABELS, State
from server.category import service as category_service
from server.category.schemas import DispatchCenterIn
from server.errors import Conflict, Forbidden, Invalid, NotFound
from server.grid import people as grid_people
from tests.server.case_world import (
    AFTER_RECEIPT,
    DISTRICT,
    OTHER_DISTRICT,
    act,
    make_user,
    photo,
    report,
    village_point,
)

ADMIN = ADMINISTRATOR
LEAD_DEPARTMENT = "sanitation_lx"  # E06010 exposed garbage in 370102 (district override)
TAG = "key_supervision"
JINAN = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 16, 9, 0, tzinfo=JINAN)  # a Monday, 09:00 in Jinan: working time

# The route a case takes: each state after "reported" is reached from one state by one action.
ROUTE: dict[State, tuple[State, str]] = {
    State.VERIFYING: (State.REPORTED, "request_verification"),
    State.REGISTERED: (State.VERIFYING, "reply_verification"),
    State.FILED: (State.REGISTERED, "file"),
    State.DISPATCHED: (State.FILED, "dispatch"),
    State.RETURNED: (State.DISPATCHED, "return"),
    State.SUSPENDED: (State.DISPATCHED, "suspend"),
    State.HANDLED: (State.DISPATCHED, "report_handling"),
    State.CHECKING: (State.HANDLED, "request_check"),
    State.CHECKED: (State.CHECKING, "reply_check"),
    State.CLOSED: (State.CHECKED, "close"),
    State.VOIDED: (State.REPORTED, "void"),
    State.MERGED: (State.REPORTED, "merge"),
}
FIELDS = {
    "reply_verification": {"result": "confirmed"},
    "void": {"reason": "重复上报"},
    "return": {"reason": "不属于本部门职责"},
    "escalate": {"reason": "涉及多个街道，需区级协调"},
    "request_extension": {"extension": "4h", "reason": "需调运大型设备"},
    "refuse_extension": {"reason": "现有人力可按期处置"},
    "suspend": {"reason": "待管线改造工程完工"},
    "tag": {"tag": TAG},
    "untag": {"tag": TAG},
    "reclassify": {"category": "E06012", "reason": "现场是道路不洁，不是暴露垃圾"},
    "answer": {"reply": "{来电人}您好，{案件编号}已答复"},
    "callback": {"contacted": False},
    "supervise": {"note": "请尽快办理"},
    "urge": {"note": "请尽快办理"},
    "answer_supervision": {"answer": "已安排人员处理"},
}
# Where each action leads (None: the state stays); reply_check with result "pass".
TARGET = {
    "request_verification": State.VERIFYING,
    "reply_verification": State.REGISTERED,
    "file": State.FILED,
    "void": State.VOIDED,
    "dispatch": State.DISPATCHED,
    "escalate": None,
    "return": State.RETURNED,
    "receive": None,
    "request_extension": None,
    "approve_extension": None,
    "refuse_extension": None,
    "suspend": State.SUSPENDED,
    "resume": State.DISPATCHED,
    "report_handling": State.HANDLED,
    "request_check": State.CHECKING,
    "reply_check": State.CHECKED,
    "close": State.CLOSED,
    "merge": State.MERGED,
    "keep_apart": None,
    "reclassify": None,
    "tag": None,
    "untag": None,
    "answer": State.CLOSED,
    "callback": None,
    "supervise": None,
    "urge": None,
    "acknowledge_supervision": None,
    "answer_supervision": None,
}


def route(state: State) -> list[str]:
    """The actions that bring a reported case to ``state``."""
    steps = []
    while state != State.REPORTED:
        state, action = ROUTE[state]
        steps.insert(0, action)
    return steps


def body_for(db: Session, case: Case, action: str, inspector: Principal | None = None) -> dict:
    """The fields that make ``action`` succeed on ``case``, uploading the photo it reports if it needs one;
    verification and check tasks go to ``inspector`` (default: an inspector of the case's grid)."""
    if action in ("request_verification", "request_check"):
        return {"inspector_id": inspector.user_id} if inspector else {}
    if action == "report_handling":
        return {"photo_ids": [photo(db, ADMIN, case, "after").id]}
    if action == "reply_check":
        return {"result": "pass", "photo_ids": [photo(db, ADMIN, case, "check").id]}
    if action == "merge":
        return {"master": queries.code_of(db=db, case_id=case.duplicate_of_id)}
    return FIELDS.get(action, {})


def advance(
    db: Session, case: Case, state: State, *, at: datetime | None = None, inspector: Principal | None = None
) -> Case:
    """Take ``case`` on along the route to ``state``, as the administrator."""
    done, steps = route(State(case.state)), route(state)
    assert steps[: len(done)] == done, f"{state} does not follow {case.state}"
    for action in steps[len(done) :]:
        act(db, ADMIN, case, action, at=at, **body_for(db, case, action, inspector))
    return case


def case_in(
    db: Session,
    state: State,
    *,
    at: datetime | None = None,
    inspector: Principal | None = None,
    duplicate: bool = False,
    where: tuple[float, float] | None = None,
) -> Case:
    """A fresh exposed-garbage case in ``state``, reported by a citizen in the first village of 历下区
    (or at ``where``). A duplicate (and every merged case) is reported just after an open case on the spot,
    its master."""
    lon, lat = where or village_point(db)[1:]
    if duplicate or state == State.MERGED:
        report(db, ADMIN, lon, lat, at=at)
    return advance(db, report(db, ADMIN, lon, lat, at=at), state, at=at, inspector=inspector)


def ready(db: Session, action: str, state: State, *, inspector: Principal | None = None) -> tuple[Case, dict]:
    """A fresh case in ``state`` with what ``action`` needs there (a duplicate to merge or keep apart, a
    pending extension request, a tag to remove, a dispatch center to send it up from), and the fields that
    make the action succeed."""
    if action == "escalate":  # filed to the district's own dispatch center, which sends it up
        center = DispatchCenterIn(grid_code=DISTRICT, name="历下区指挥分中心")
        category_service.create_dispatch_center(db=db, data=center)
    case = case_in(db, state, inspector=inspector, duplicate=action in ("merge", "keep_apart"))
    if action == "answer":  # only a 咨询 is answered directly
        case.request_type = "consult"
        db.commit()
    if action in AFTER_RECEIPT:
        act(db, ADMIN, case, "receive")
    if action in ("approve_extension", "refuse_extension"):
        act(db, ADMIN, case, "request_extension", **FIELDS["request_extension"])
    if action == "untag":
        act(db, ADMIN, case, "tag", tag=TAG)
    if action in ("acknowledge_supervision", "answer_supervision"):
        act(db, ADMIN, case, "supervise", **FIELDS["supervise"])
    if action == "answer_supervision":
        act(db, ADMIN, case, "acknowledge_supervision")
    return case, body_for(db, case, action, inspector)


def member(db: Session, role: str, village: str, department: str = LEAD_DEPARTMENT) -> Principal:
    """A user holding ``role`` whose scope covers ``village``: an inspector patrolling it, a user of
    ``department``, the grid head of its district, or anyone else bound to its district."""
    district = village[:6]
    if role == "inspector":
        return make_user(db, [role], inspects=village)
    if role == "department":
        return make_user(db, [role], department=department)
    if role == "grid_head":
        head = make_user(db, [role])
        grid_people.assign(db=db, grid_code=district, user=head.user, role="head")
        return head
    return make_user(db, [role], grid=district)


def last_event(db: Session, case: Case):
    return queries.timeline(db=db, case=case)[-1]


def working(text: str) -> int:
    return case_clock.calendar().parse_limit(text)


# -- every action from each of its sources, refused from every other state ------------------------------


def test_the_tables_cover_every_action():
    assert set(TARGET) == set(ACTIONS)
    assert {action for _, action in ROUTE.values()} <= set(ACTIONS)
    for action, target in TARGET.items():
        assert ACTIONS[action].target == (None if action == "reply_check" else target), action


@pytest.mark.parametrize(
    ("action", "source"),
    [
        pytest.param(name, state, id=f"{name}-from-{state}")
        for name, spec in ACTIONS.items()
        for state in State
        if state in spec.sources
    ],
)
def test_action_succeeds_from_each_source(demo_db, action, source):
    db = demo_db
    village = village_point(db)[0]
    role = min(ACTIONS[action].roles - {"admin"})
    actor = member(db, role, village)
    case, fields = ready(db, action, source, inspector=actor if role == "inspector" else None)
    version = case.version

    act(db, actor, case, action, **fields)

    assert case.state == (TARGET[action] or source)
    assert case.version == version + 1
    event = last_event(db, case)
    assert (event.action, event.state_before, event.state_after) == (action, source, case.state)
    assert (event.actor_id, event.role) == (actor.user_id, role)


@pytest.mark.parametrize("state", list(State), ids=str)
def test_actions_refused_from_other_states(demo_db, state):
    db = demo_db
    case = case_in(db, state)
    allowed = allowed_from(state)
    version = case.version
    for action in sorted(set(ACTIONS) - set(allowed)):
        with pytest.raises(Conflict) as refused:
            act(db, ADMIN, case, action)
        where = {"state": state.value, "version": version, "state_label": STATE_LABELS[state]}
        where["action"] = ACTIONS[action].label
        if allowed:
            labels = "、".join(ACTIONS[name].label for name in allowed)
            assert (refused.value.code, refused.value.params) == (
                "case.state_forbids",
                {**where, "allowed": labels},
            )
        else:
            assert (refused.value.code, refused.value.params) == ("case.state_over", where)
            assert refused.value.message == f"案件{STATE_LABELS[state]}，不能再{ACTIONS[action].label}"
    assert (case.state, case.version) == (state, version)


# -- side effects ---------------------------------------------------------------------------------------


def test_verification_task_goes_to_the_named_inspector_or_the_grids_own(demo_db):
    db = demo_db
    village = village_point(db)[0]
    named = member(db, "inspector", village)
    case = case_in(db, State.VERIFYING, inspector=named)
    assert case.task_assignee_id == named.user_id
    assert case.step_limit_min == working("60m")  # verification of an important case
    second, lon, lat = village_point(db, index=1)
    assigned = grid_people.assignments(db=db, grid_code=second)
    patrolling = [a.user_id for a, _ in assigned if a.role == "inspector"]
    other = case_in(db, State.VERIFYING, where=(lon, lat))  # no inspector named: the village's own
    assert patrolling and other.task_assignee_id == patrolling[0]
    colleague = member(db, "inspector", village)  # patrols the village too, but the task is not theirs
    with pytest.raises(Forbidden) as refused:
        act(db, colleague, case, "reply_verification", result="confirmed")
    assert refused.value.message == f"这项任务派给了{named.name}，由{named.name}回复"
    with pytest.raises(Invalid) as refused:
        act(db, named, case, "reply_verification", result="pass")
    problem = "结果不是可选的值，请从说明列出的选项中选择"  # the field in words, never the value sent
    assert (refused.value.code, refused.value.params["errors"]) == ("case.invalid_input", [problem])
    assert refused.value.message == f"填写的内容不符合要求：{problem}"
    act(db, named, case, "reply_verification", result="not_found")
    assert case.state == State.REGISTERED
    assert last_event(db, case).data["result"] == "not_found"


def test_file_can_change_the_urgency_and_void_needs_a_reason(demo_db):
    db = demo_db
    case = case_in(db, State.REGISTERED)
    act(db, ADMIN, case, "file", urgency="urgent")
    assert (case.state, case.urgency) == (State.FILED, "urgent")
    other = case_in(db, State.REGISTERED, where=village_point(db, index=1)[1:])
    with pytest.raises(Invalid) as refused:
        act(db, ADMIN, other, "void")
    assert refused.value.message == "作废需要填写原因，请填写后再提交"
    act(db, ADMIN, other, "void", reason="重复上报")
    assert other.state == State.VOIDED and other.step_due_at is None


def test_dispatch_writes_lead_and_parallel_rows_and_starts_the_handling_clock(demo_db):
    db = demo_db
    case = case_in(db, State.FILED, at=T0)
    act(db, ADMIN, case, "dispatch", at=T0, parallel_departments=["enforcement"])
    rows = [(d.code, x.lead, x.dispatched_at, x.ended_at) for x, d in queries.dispatches(db=db, case=case)]
    assert rows == [(LEAD_DEPARTMENT, True, T0, None), ("enforcement", False, T0, None)]
    assert queries.code_of_department(db, case.department_id) == LEAD_DEPARTMENT
    # E06010 has 4 working hours: 09:00-12:00, then 13:30-14:30.
    assert case.handle_due_at == case.step_due_at == datetime(2026, 11, 16, 14, 30, tzinfo=JINAN)
    other = case_in(db, State.FILED, where=village_point(db, index=1)[1:])
    with pytest.raises(Invalid) as refused:
        act(db, ADMIN, other, "dispatch", parallel_departments=[LEAD_DEPARTMENT])
    assert refused.value.code == "case.lead_also_parallel"


def test_return_ends_the_dispatches_and_a_new_dispatch_names_another_lead(demo_db):
    db = demo_db
    department = member(db, "department", village_point(db)[0])
    case = case_in(db, State.DISPATCHED, at=T0)
    with pytest.raises(Invalid) as refused:
        act(db, department, case, "return")
    assert (refused.value.code, refused.value.params) == (
        "case.field_required",
        {"action": "回退", "field": "原因"},
    )
    returned_at = T0 + timedelta(minutes=20)
    act(db, department, case, "return", at=returned_at, reason="属于执法部门")
    assert case.state == State.RETURNED
    assert [(d.code, x.ended_at) for x, d in queries.dispatches(db=db, case=case)] == [
        (LEAD_DEPARTMENT, returned_at)
    ]
    assert case.step_limit_min == working("30m")  # back on the dispatch clock

    act(db, ADMIN, case, "dispatch", at=returned_at, lead_department="enforcement", reason="属于执法部门")
    rows = [(d.code, x.lead, x.ended_at) for x, d in queries.dispatches(db=db, case=case)]
    assert rows == [(LEAD_DEPARTMENT, True, returned_at), ("enforcement", True, None)]
    assert queries.code_of_department(db, case.department_id) == "enforcement"
    with pytest.raises(Forbidden) as refused:
        act(db, department, case, "report_handling")  # it still sees the case, but no longer leads it
    assert refused.value.code == "case.lead_department_only"


def test_approved_extension_moves_both_deadlines_by_the_working_time(demo_db):
    db = demo_db
    department = member(db, "department", village_point(db)[0])
    case = case_in(db, State.DISPATCHED, at=T0)
    due = case.step_due_at
    act(db, department, case, "request_extension", at=T0, extension="4h", reason="需调运大型设备")
    assert case.extension_request == {"extension": "4h", "minutes": working("4h"), "reason": "需调运大型设备"}
    assert case.step_due_at == due  # nothing moves before the approval
    with pytest.raises(Conflict) as refused:
        act(db, department, case, "request_extension", extension="2h", reason="再延")
    assert refused.value.code == "case.extension_waiting"

    act(db, ADMIN, case, "approve_extension", at=T0 + timedelta(minutes=5))
    cal = case_clock.calendar()
    assert case.step_due_at == case.handle_due_at == cal.add(due, working("4h"))
    assert cal.between(due, case.step_due_at) == working("4h") == 240
    # Monday 14:30 plus four working hours: 3 h on Monday, 1 h on Tuesday morning.
    assert case.step_due_at == datetime(2026, 11, 17, 9, 30, tzinfo=JINAN)
    assert case.extension_request is None
    with pytest.raises(Conflict) as refused:
        act(db, ADMIN, case, "approve_extension")
    assert refused.value.code == "case.no_extension_request"


def test_an_extension_is_at_most_the_categorys_limit_again(demo_db):
    db = demo_db
    department = member(db, "department", village_point(db)[0])
    case = case_in(db, State.DISPATCHED, at=T0)  # E06010: handled within 4 working hours
    too_long = "延期时长太长：这类问题最多可延期 4 小时，请缩短后再提交"
    unreadable = "延期时长应为大于零的数字加单位，如 30m、4h、2d：请改正后再提交"
    for extension, message in [
        ("999d", too_long),
        ("5h", too_long),
        ("0h", unreadable),
        ("soon", unreadable),
    ]:
        with pytest.raises(Invalid) as refused:
            act(db, department, case, "request_extension", extension=extension, reason="需调运大型设备")
        assert refused.value.message == message, extension
    act(db, department, case, "request_extension", extension="4h", reason="需调运大型设备")
    assert case.extension_request["minutes"] == 240


def test_refused_extension_keeps_the_deadline(demo_db):
    db = demo_db
    case, fields = ready(db, "refuse_extension", State.DISPATCHED)
    due = case.handle_due_at
    with pytest.raises(Invalid) as refused:
        act(db, ADMIN, case, "refuse_extension")
    assert refused.value.message == "驳回延期需要填写原因，请填写后再提交"
    act(db, ADMIN, case, "refuse_extension", **fields)
    assert (case.extension_request, case.handle_due_at, case.step_due_at) == (None, due, due)
    assert last_event(db, case).data["minutes"] == working("4h")


def test_suspension_stops_the_clock_and_resume_gives_back_the_remaining_time(demo_db):
    db = demo_db
    case = case_in(db, State.DISPATCHED, at=T0)
    due = case.step_due_at  # Monday 14:30
    act(db, ADMIN, case, "suspend", at=T0 + timedelta(hours=1), reason="待管线改造工程完工")
    assert case.state == State.SUSPENDED
    assert case.step_due_at is None
    assert case.step_remaining_min == case_clock.calendar().between(T0 + timedelta(hours=1), due) == 180
    clock = case_clock.clock(case, T0 + timedelta(days=1))
    assert (clock.due, clock.light, clock.remaining_min) == (None, None, 180)

    resumed_at = datetime(2026, 11, 18, 9, 0, tzinfo=JINAN)  # Wednesday
    act(db, ADMIN, case, "resume", at=resumed_at)
    assert case.state == State.DISPATCHED
    assert case.step_due_at == case.handle_due_at == datetime(2026, 11, 18, 12, 0, tzinfo=JINAN)
    assert case_clock.calendar().between(resumed_at, case.step_due_at) == 180
    assert case.step_remaining_min is None


def test_report_handling_needs_an_after_photo(demo_db):
    db = demo_db
    department = member(db, "department", village_point(db)[0])
    case = case_in(db, State.DISPATCHED)
    with pytest.raises(Invalid) as refused:
        act(db, department, case, "report_handling")
    assert refused.value.code == "case.after_photo_required"
    after = photo(db, department, case, "after")
    act(db, department, case, "report_handling")
    assert case.state == State.HANDLED and case.handled_at is not None
    assert last_event(db, case).photo_ids == [after.id]


def test_a_passed_check_needs_a_check_photo(demo_db):
    db = demo_db
    inspector = member(db, "inspector", village_point(db)[0])
    case = case_in(db, State.CHECKING, inspector=inspector)
    with pytest.raises(Invalid) as refused:
        act(db, inspector, case, "reply_check", result="pass")
    assert refused.value.code == "case.check_photo_required"
    assert case.state == State.CHECKING


def test_rework_goes_back_to_the_department_on_its_handling_deadline(demo_db):
    db = demo_db
    inspector = member(db, "inspector", village_point(db)[0])
    case = case_in(db, State.CHECKING, at=T0, inspector=inspector)
    handle_due = case.handle_due_at
    act(db, inspector, case, "reply_check", at=T0 + timedelta(hours=2), result="rework", note="仍有垃圾")
    assert case.state == State.DISPATCHED
    assert case.rework_count == 1
    assert case.handle_due_at == case.step_due_at == handle_due
    assert case.handled_at is None
    advance(db, case, State.CHECKING, at=T0 + timedelta(hours=3), inspector=inspector)
    act(db, inspector, case, "reply_check", at=T0 + timedelta(hours=4), result="rework")
    assert case.rework_count == 2


def test_close_on_time_is_normal(demo_db):
    case = case_in(demo_db, State.CHECKED, at=T0)
    act(demo_db, ADMIN, case, "close", at=T0)
    assert (case.state, case.close_kind, case.closed_at) == (State.CLOSED, "normal", T0)
    assert case.step_due_at is None


def test_close_after_late_handling_is_overdue_and_never_normal(demo_db):
    db = demo_db
    case = case_in(db, State.DISPATCHED, at=T0)
    advance(db, case, State.CHECKED, at=T0 + timedelta(days=1))  # handled Tuesday, due Monday 14:30
    with pytest.raises(Invalid) as refused:
        act(db, ADMIN, case, "close", close_kind="normal")
    assert refused.value.code == "case.handled_late"
    assert case.state == State.CHECKED
    act(db, ADMIN, case, "close")
    assert (case.state, case.close_kind) == (State.CLOSED, "overdue")


@pytest.mark.parametrize("kind", ["erroneous", "special"])
def test_erroneous_and_special_closing_need_a_note(demo_db, kind):
    db = demo_db
    case = case_in(db, State.CHECKED)
    with pytest.raises(Invalid) as refused:
        act(db, ADMIN, case, "close", close_kind=kind)
    label = {"erroneous": "误报结案", "special": "特殊结案"}[kind]
    assert refused.value.message == f"{label}需要在意见中说明原因，请填写后再提交"
    act(db, ADMIN, case, "close", close_kind=kind, note="依据领导批示")
    assert (case.state, case.close_kind) == (State.CLOSED, kind)


def test_merge_joins_the_duplicate_to_its_master_with_an_event_on_both(demo_db):
    db = demo_db
    acceptor = member(db, "acceptor", village_point(db)[0])
    duplicate = case_in(db, State.REPORTED, duplicate=True)
    master = db.get(Case, duplicate.duplicate_of_id)
    master_state = master.state
    act(db, acceptor, duplicate, "merge", master=master.code, note="同一处垃圾")
    assert duplicate.state == State.MERGED
    assert (duplicate.merged_into_id, duplicate.duplicate_of_id) == (master.id, None)
    assert last_event(db, duplicate).data["master"] == master.code
    db.refresh(master)
    assert master.state == master_state
    event = last_event(db, master)
    assert (event.action, event.actor_id, event.role) == ("merge", acceptor.user_id, "acceptor")
    assert (event.data, event.note) == ({"merged": duplicate.code}, "同一处垃圾")


def test_merge_refuses_itself_and_a_finished_master(demo_db):
    db = demo_db
    case = case_in(db, State.REPORTED)
    with pytest.raises(Invalid) as refused:
        act(db, ADMIN, case, "merge")
    assert (refused.value.code, refused.value.params) == (
        "case.field_required",
        {"action": "合并", "field": "主案件"},
    )
    with pytest.raises(Conflict) as refused:
        act(db, ADMIN, case, "merge", master=case.code)
    assert refused.value.code == "case.merge_into_itself"
    closed = case_in(db, State.VOIDED, where=village_point(db, index=1)[1:])
    with pytest.raises(Conflict) as refused:
        act(db, ADMIN, case, "merge", master=closed.code)
    assert (
        refused.value.message
        == f"案件 {closed.code} 已作废，不能再合并进去：请选择一个未办结的案件作为主案件"
    )


def test_keep_apart_clears_the_duplicate_candidate(demo_db):
    db = demo_db
    duplicate = case_in(db, State.REGISTERED, duplicate=True)
    master_code = queries.code_of(db=db, case_id=duplicate.duplicate_of_id)
    act(db, ADMIN, duplicate, "keep_apart")
    assert duplicate.duplicate_of_id is None and duplicate.state == State.REGISTERED
    assert last_event(db, duplicate).data["was_duplicate_of"] == master_code
    with pytest.raises(Conflict) as refused:
        act(db, ADMIN, duplicate, "keep_apart")
    assert refused.value.code == "case.not_duplicate"


def test_tag_and_untag(demo_db):
    db = demo_db
    case = case_in(db, State.DISPATCHED)
    act(db, ADMIN, case, "tag", tag=TAG)
    act(db, ADMIN, case, "tag", tag="campaign")
    assert case.tags == [TAG, "campaign"]
    with pytest.raises(Conflict) as refused:
        act(db, ADMIN, case, "tag", tag=TAG)
    name = category_service.get_tag(db=db, code=TAG).name  # as people read it
    assert (refused.value.code, refused.value.params) == ("case.tag_present", {"tag": TAG, "name": name})
    with pytest.raises(NotFound) as refused:
        act(db, ADMIN, case, "tag", tag="no_such_tag")
    assert (refused.value.code, refused.value.params) == ("category.no_tag", {"tag": "no_such_tag"})
    with pytest.raises(Invalid) as refused:
        act(db, ADMIN, case, "tag")
    assert refused.value.message == "加标签需要填写标签，请填写后再提交"
    act(db, ADMIN, case, "untag", tag=TAG)
    assert case.tags == ["campaign"]
    with pytest.raises(Conflict) as refused:
        act(db, ADMIN, case, "untag", tag=TAG)
    assert refused.value.code == "case.tag_absent"


# -- intake ---------------------------------------------------------------------------------------------


def test_hotline_report_starts_reported_and_an_inspectors_registered(demo_db):
    db = demo_db
    village, lon, lat = village_point(db)
    acceptor = member(db, "acceptor", village)
    hotline = report(db, acceptor, lon, lat, channel="hotline", reporter_name="王女士", at=T0)
    assert (hotline.state, hotline.channel, hotline.reporter_name) == (State.REPORTED, "hotline", "王女士")
    assert hotline.step_due_at == case_clock.calendar().add(T0, working("30m"))  # the dispatch limit
    inspector = member(db, "inspector", village)
    own = report(db, inspector, lon, lat, category="E09009")
    assert (own.state, own.channel, own.reporter_id) == (State.REGISTERED, "inspector", inspector.user_id)
    assert village in own.grid_path.split(".")


def test_report_outside_every_grid_is_invalid(demo_db):
    with pytest.raises(Invalid) as refused:
        report(demo_db, ADMIN, 116.39, 39.9)  # Beijing
    assert (refused.value.code, refused.value.params) == (
        "case.outside_city",
        {"lon": 116.39, "lat": 39.9, "crs": "wgs84"},
    )
    assert refused.value.message == "这个位置不在本市任何网格内：请检查位置和坐标系"


def test_report_of_an_unknown_category_is_not_found(demo_db):
    _, lon, lat = village_point(demo_db)
    with pytest.raises(NotFound) as refused:
        report(demo_db, ADMIN, lon, lat, category="E99999")
    assert (refused.value.code, refused.value.params) == ("category.no_category", {"category": "E99999"})


def north(lon: float, lat: float, metres: float) -> tuple[float, float]:
    """A point about ``metres`` north (checked against the geodesic distance)."""
    moved = lat + metres / 110_990
    assert abs(distance_m(lon, lat, lon, moved) - metres) < 0.5
    return lon, moved


@pytest.mark.parametrize(
    ("category", "metres", "hours", "first_state", "candidate"),
    [
        ("E06010", 40, 71, State.REPORTED, True),
        ("E06010", 0, 0, State.DISPATCHED, True),
        ("E06012", 0, 1, State.REPORTED, False),
        ("E06010", 60, 1, State.REPORTED, False),
        ("E06010", 0, 73, State.REPORTED, False),
        ("E06010", 0, 1, State.VOIDED, False),
    ],
    ids=["40m-71h", "same-spot-dispatched", "other-category", "60m", "73h", "first-voided"],
)
def test_duplicate_candidate(demo_db, category, metres, hours, first_state, candidate):
    db = demo_db
    _, lon, lat = village_point(db)
    first = case_in(db, first_state, at=T0, where=(lon, lat))
    second = report(db, ADMIN, *north(lon, lat, metres), category=category, at=T0 + timedelta(hours=hours))
    assert second.duplicate_of_id == (first.id if candidate else None)


def test_case_codes_count_per_district_and_local_day(demo_db):
    db = demo_db
    _, lon, lat = village_point(db)
    _, other_lon, other_lat = village_point(db, OTHER_DISTRICT)
    evening = datetime(2026, 3, 2, 23, 30, tzinfo=JINAN)
    codes = [
        report(db, ADMIN, lon, lat, at=evening).code,
        report(db, ADMIN, lon, lat, at=evening + timedelta(minutes=10)).code,
        report(db, ADMIN, other_lon, other_lat, at=evening).code,
        report(db, ADMIN, lon, lat, at=evening + timedelta(minutes=40)).code,  # 00:10 the next day
        report(db, ADMIN, lon, lat, at=evening + timedelta(minutes=50)).code,
    ]
    assert all(re.fullmatch(r"[0-9]{6}-[0-9]{8}-[0-9]{4}", code) for code in codes)
    assert codes == [
        f"{DISTRICT}-20260302-0001",
        f"{DISTRICT}-20260302-0002",
        f"{OTHER_DISTRICT}-20260302-0001",
        f"{DISTRICT}-20260303-0001",
        f"{DISTRICT}-20260303-0002",
    ]
    # the number grows past four digits rather than wrapping or being cut
    db.execute(
        text("UPDATE case_counter SET last = 9999 WHERE district_code = :d AND day = '2026-03-03'"),
        {"d": DISTRICT},
    )
    db.commit()
    assert report(db, ADMIN, lon, lat, at=evening + timedelta(hours=1)).code == f"{DISTRICT}-20260303-10000"


def test_the_same_client_uuid_gives_the_same_case_and_other_content_conflicts(demo_db):
    db = demo_db
    _, lon, lat = village_point(db)
    data = ReportIn(client_uuid=uuid.uuid4(), category="E06010", lon=lon, lat=lat, description="垃圾")
    case, created = intake.accept(db=db, principal=ADMIN, data=data)
    assert created
    again, created = intake.accept(db=db, principal=ADMIN, data=data.model_copy())
    assert (again.id, created) == (case.id, False)
    changed = data.model_copy(update={"description": "垃圾很多"})
    with pytest.raises(Conflict) as refused:
        intake.accept(db=db, principal=ADMIN, data=changed)
    assert refused.value.code == "case.client_uuid_taken"


def test_gcj02_report_is_stored_in_wgs84(demo_db):
    db = demo_db
    _, lon, lat = village_point(db)
    gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)
    assert distance_m(lon, lat, gcj_lon, gcj_lat) > 100  # the offset is real
    case = report(db, ADMIN, gcj_lon, gcj_lat, crs="gcj02")
    stored = to_shape(case.location)
    expected = to_wgs84(gcj_lon, gcj_lat, CRS.GCJ02)
    assert stored.x == pytest.approx(expected[0], abs=1e-9)
    assert stored.y == pytest.approx(expected[1], abs=1e-9)
    assert distance_m(lon, lat, stored.x, stored.y) < 0.05
    assert case.reported_crs == "gcj02"
