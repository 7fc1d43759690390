"""The permission matrix: every action x every role x (in scope / out of scope), each cell its own test;
lists and details by scope; and the answers over HTTP with real login tokens.

In scope: bound to the case's district (command center, leaders, administrators), patrolling its village
(inspectors, who are also given the case's tasks), the lead department once the case has been dispatched,
the grid head of its district. Out of scope: the same role bound to another district, another village or
another department."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from server import messages
from server.auth.principal import Principal
from server.case import queries
from server.case.flows import ACTIONS
from server.case.scope import scope_of
from server.case.states import State
from server.errors import Forbidden, NotFound
from tests.server.case_world import OTHER_DISTRICT, PASSWORD, act, make_user, village_point
from tests.server.test_case_transitions import ADMIN, case_in, last_event, member, ready

ROLES = ["inspector", "acceptor", "shift_lead", "dispatcher", "department", "grid_head", "leader", "admin"]
OTHER_DEPARTMENT = "sanitation"
# Who may take each action (docs/DOMAIN.md section 5); the administrator may take them all.
ALLOWED = {
    "request_verification": {"acceptor"},
    "reply_verification": {"inspector"},
    "file": {"shift_lead"},
    "void": {"shift_lead"},
    "dispatch": {"dispatcher"},
    "escalate": {"dispatcher"},
    "return": {"department"},
    "receive": {"department"},
    "request_extension": {"department"},
    "approve_extension": {"dispatcher"},
    "refuse_extension": {"dispatcher"},
    "suspend": {"dispatcher"},
    "resume": {"dispatcher"},
    "report_handling": {"department"},
    "request_check": {"acceptor"},
    "reply_check": {"inspector"},
    "close": {"shift_lead"},
    "merge": {"acceptor", "shift_lead"},
    "answer": {"acceptor", "shift_lead"},
    "keep_apart": {"acceptor", "shift_lead"},
    "reclassify": {"acceptor", "shift_lead", "dispatcher"},
    "tag": {"acceptor", "shift_lead", "dispatcher"},
    "untag": {"acceptor", "shift_lead", "dispatcher"},
    "callback": {"acceptor"},
    "supervise": {"leader", "shift_lead", "dispatcher"},
    "urge": {"leader", "shift_lead", "dispatcher"},
    "acknowledge_supervision": {"department"},
    "answer_supervision": {"department"},
}
# The source state each cell puts the case in: one after the first dispatch where the action allows it,
# so that the lead department sees the case.
CELL_STATE = {
    "request_verification": State.REPORTED,
    "reply_verification": State.VERIFYING,
    "file": State.REGISTERED,
    "void": State.REGISTERED,
    "dispatch": State.RETURNED,
    "escalate": State.FILED,
    "return": State.DISPATCHED,
    "receive": State.DISPATCHED,
    "request_extension": State.DISPATCHED,
    "approve_extension": State.DISPATCHED,
    "refuse_extension": State.DISPATCHED,
    "suspend": State.DISPATCHED,
    "resume": State.SUSPENDED,
    "report_handling": State.DISPATCHED,
    "request_check": State.HANDLED,
    "reply_check": State.CHECKING,
    "close": State.CHECKED,
    "merge": State.FILED,
    "answer": State.REPORTED,
    "keep_apart": State.DISPATCHED,
    "reclassify": State.REGISTERED,
    "tag": State.DISPATCHED,
    "untag": State.DISPATCHED,
    "callback": State.CLOSED,
    "supervise": State.DISPATCHED,
    "urge": State.DISPATCHED,
    "acknowledge_supervision": State.DISPATCHED,
    "answer_supervision": State.DISPATCHED,
}
DISPATCHED_ONCE = {
    State.DISPATCHED,
    State.RETURNED,
    State.SUSPENDED,
    State.HANDLED,
    State.CHECKING,
    State.CHECKED,
    State.CLOSED,
}
CELLS = [
    pytest.param(action, role, side, id=f"{action}-{role}-{side}")
    for action in ACTIONS
    for role in ROLES
    for side in ("in", "out")
]


def expected(action: str, role: str, side: str) -> type[Exception] | None:
    """What a cell answers: None (the action is taken), NotFound (the case is invisible) or Forbidden."""
    if role == "admin":
        return None
    if side == "out" or (role == "department" and CELL_STATE[action] not in DISPATCHED_ONCE):
        return NotFound  # a department sees a case only once it has been dispatched to it
    return None if role in ALLOWED[action] else Forbidden


def user_for(db: Session, role: str, side: str) -> Principal:
    if side == "in":
        return member(db, role, village_point(db)[0])
    return member(db, role, village_point(db, OTHER_DISTRICT)[0], department=OTHER_DEPARTMENT)


def test_the_matrix_covers_every_action_in_a_source_state():
    assert set(ALLOWED) == set(CELL_STATE) == set(ACTIONS)
    for action, state in CELL_STATE.items():
        assert state in ACTIONS[action].sources, action


@pytest.mark.parametrize(("action", "role", "side"), CELLS)
def test_permission(demo_db, action, role, side):
    db = demo_db
    actor = user_for(db, role, side)
    task_holder = actor if role == "inspector" and side == "in" else None
    case, fields = ready(db, action, CELL_STATE[action], inspector=task_holder)
    version = case.version
    outcome = expected(action, role, side)

    if outcome is None:
        act(db, actor, case, action, **fields)
        event = last_event(db, case)
        assert (event.action, event.actor_id, case.version) == (action, actor.user_id, version + 1)
        return
    with pytest.raises(outcome) as refused:
        act(db, actor, case, action, **fields)
    if outcome is Forbidden:
        needed = messages.role_names(ALLOWED[action])
        assert (refused.value.code, refused.value.params) == (
            "case.role_required",
            {"action": ACTIONS[action].label, "roles": needed},
        )
    else:
        assert (refused.value.code, refused.value.params) == ("case.not_found", {"case": case.code})
    db.refresh(case)
    assert (case.state, case.version) == (CELL_STATE[action], version)


# Which of three cases each user sees: "here" (370102, dispatched to the lead department), "fresh" (370102,
# never dispatched) and "there" (370103, dispatched to the other department).
HOME, AWAY, EVERYTHING = {"here", "fresh"}, {"there"}, {"here", "fresh", "there"}
SEES = {  # role: (what the user in scope sees, what the user out of scope sees)
    "inspector": ({"here"}, AWAY),
    "acceptor": (HOME, AWAY),
    "shift_lead": (HOME, AWAY),
    "dispatcher": (HOME, AWAY),
    "department": ({"here"}, AWAY),
    "grid_head": (HOME, AWAY),
    "leader": (HOME, AWAY),
    "admin": (EVERYTHING, EVERYTHING),
}


@pytest.mark.parametrize("role", ROLES)
def test_lists_and_details_show_exactly_the_scope(demo_db, role):
    db = demo_db
    _, away_lon, away_lat = village_point(db, OTHER_DISTRICT)
    away_inspector = make_user(db, ["inspector"], inspects=village_point(db, OTHER_DISTRICT)[0])
    cases = {
        "here": case_in(db, State.DISPATCHED),
        "fresh": case_in(db, State.REPORTED, where=village_point(db, index=1)[1:]),
        "there": case_in(db, State.DISPATCHED, where=(away_lon, away_lat), inspector=away_inspector),
    }
    assert queries.code_of_department(db, cases["there"].department_id) == OTHER_DEPARTMENT
    mine = {case.code for case in cases.values()}
    for side, sees in zip(("in", "out"), SEES[role], strict=True):
        scope = scope_of(db=db, principal=user_for(db, role, side))
        listed, total = queries.list_cases(db=db, scope=scope, filters=queries.CaseFilter(), limit=500)
        assert total == len(listed)
        assert {case.code for case in listed} & mine == {cases[name].code for name in sees}, side
        for name, case in cases.items():
            if name in sees:
                assert queries.get_case(db=db, scope=scope, code=case.code) is case
            else:
                with pytest.raises(NotFound) as refused:
                    queries.get_case(db=db, scope=scope, code=case.code)
                assert refused.value.code == "case.not_found"


# -- over HTTP, with real login tokens ----------------------------------------------------------------


def bearer(client, who: Principal) -> dict[str, str]:
    body = {"login": who.user.phone, "password": PASSWORD, "device_id": f"test-{who.user_id}"}
    resp = client.post("/api/auth/login", json=body)
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def test_http_role_not_allowed_is_403_with_the_message(demo_client, demo_db):
    db = demo_db
    case = case_in(db, State.REGISTERED)
    headers = bearer(demo_client, user_for(db, "dispatcher", "in"))
    resp = demo_client.post(
        f"/api/cases/{case.code}/actions/file", json={"version": case.version}, headers=headers
    )
    assert resp.status_code == 403
    assert resp.json() == {
        "detail": "立案需要值班长的身份：请用有这个身份的账号办理，或请管理员开通",
        "code": "case.role_required",
        "params": {"action": "立案", "roles": "值班长"},
    }
    shown = demo_client.get(f"/api/cases/{case.code}", headers=headers).json()
    assert shown["state"] == "registered"
    assert "file" not in shown["actions"]  # not the dispatcher's to take: not offered at all
    assert shown["held_by"] == "由值班长办理"


def test_http_out_of_scope_is_404(demo_client, demo_db):
    db = demo_db
    case = case_in(db, State.REPORTED)
    headers = bearer(demo_client, user_for(db, "acceptor", "out"))
    detail = f"没有编号为 {case.code} 的案件，或它不在你的查看范围内：请核对案件编号"
    resp = demo_client.get(f"/api/cases/{case.code}", headers=headers)
    assert (resp.status_code, resp.json()["detail"], resp.json()["code"]) == (404, detail, "case.not_found")
    resp = demo_client.post(
        f"/api/cases/{case.code}/actions/request_verification",
        json={"version": case.version},
        headers=headers,
    )
    assert (resp.status_code, resp.json()["detail"]) == (404, detail)
    listed = demo_client.get("/api/cases", params={"q": case.code}, headers=headers).json()
    assert listed == {"total": 0, "items": []}


def test_http_stale_version_is_409_with_the_message(demo_client, demo_db):
    db = demo_db
    case = case_in(db, State.REGISTERED)
    headers = bearer(demo_client, user_for(db, "shift_lead", "in"))
    seen = demo_client.get(f"/api/cases/{case.code}", headers=headers).json()["version"]
    act(db, ADMIN, case, "tag", tag="campaign")

    resp = demo_client.post(f"/api/cases/{case.code}/actions/file", json={"version": seen}, headers=headers)
    assert resp.status_code == 409
    params = {
        "state": "registered",
        "version": seen + 1,
        "seen": seen,
        "actor": ADMIN.name,
        "action": "加标签",
    }
    assert resp.json() == {
        "detail": f"你打开案件后，{ADMIN.name}已对它办理了“加标签”（你看到的是第 {seen} 版，现在是第 "
        f"{seen + 1} 版）：请刷新后再试",
        "code": "case.stale_version",
        "params": params,
    }
    assert resp.json()["detail"] == messages.text("case.stale_version", **params)
    resp = demo_client.post(
        f"/api/cases/{case.code}/actions/file", json={"version": seen + 1}, headers=headers
    )
    assert resp.status_code == 200, resp.text
    assert (resp.json()["state"], resp.json()["version"]) == ("filed", seen + 2)


def test_http_without_a_token_is_401(demo_client, demo_db):
    case = case_in(demo_db, State.REGISTERED)
    version = case.version
    for resp in (
        demo_client.get("/api/cases"),
        demo_client.get(f"/api/cases/{case.code}"),
        demo_client.post(f"/api/cases/{case.code}/actions/file", json={"version": case.version}),
        demo_client.get(f"/api/cases/{case.code}", headers={"Authorization": "Bearer not-a-token"}),
    ):
        assert resp.status_code == 401, resp.text
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    demo_db.refresh(case)
    assert (case.state, case.version) == (State.REGISTERED, version)
