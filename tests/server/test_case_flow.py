"""The workflow through the services: every stage from report to closing, and what each refuses."""

from __future__ import annotations

import pytest

from server.case.states import State
from server.errors import Conflict, Forbidden, Invalid
from tests.server.case_world import DISTRICT, act, photo, report, team


@pytest.fixture
def world(demo_db):
    return team(demo_db)


def test_inspector_report_to_closed(world):
    db, w = world["db"], world
    case = report(db, w["inspector"], w["lon"], w["lat"], description="垃圾堆放")
    assert case.state == State.REGISTERED
    assert case.code.startswith(f"{DISTRICT}-")
    assert case.step_due_at is not None
    photo(db, w["inspector"], case, "before")
    act(db, w["lead"], case, "file")
    act(db, w["dispatcher"], case, "dispatch")
    assert case.state == State.DISPATCHED and case.handle_due_at is not None
    with pytest.raises(Invalid) as refused:
        act(db, w["department"], case, "report_handling")
    assert refused.value.code == "case.after_photo_required"
    assert refused.value.message == "处置反馈需要至少一张处置后照片：请先上传处置后照片，再提交处置反馈"
    photo(db, w["department"], case, "after")
    act(db, w["department"], case, "report_handling")
    act(db, w["acceptor"], case, "request_check")
    assert case.task_assignee_id == w["inspector"].user_id
    photo(db, w["inspector"], case, "check")
    act(db, w["inspector"], case, "reply_check", result="pass")
    act(db, w["lead"], case, "close")
    assert case.state == State.CLOSED and case.close_kind == "normal"


def test_refusals(world):
    db, w = world["db"], world
    case = report(db, w["inspector"], w["lon"], w["lat"])
    with pytest.raises(Forbidden) as refused:
        act(db, w["dispatcher"], case, "file")
    assert (refused.value.code, refused.value.params) == (
        "case.role_required",
        {"action": "立案", "roles": "值班长"},
    )
    assert refused.value.message == "立案需要值班长的身份：请用有这个身份的账号办理，或请管理员开通"
    with pytest.raises(Conflict) as refused:
        act(db, w["dispatcher"], case, "dispatch")
    assert refused.value.code == "case.state_forbids"
    assert refused.value.message.startswith("案件现在是“待立案”，不能派遣：这时可以办理的是立案、作废、")
    with pytest.raises(Conflict) as refused:
        act(db, w["lead"], case, "file", version=case.version + 5)
    assert refused.value.code == "case.version_mismatch"
    assert refused.value.params == {"state": "registered", "version": case.version, "seen": case.version + 5}
