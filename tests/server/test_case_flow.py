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
    with pytest.raises(Invalid, match="after-photo"):
        act(db, w["department"], case, "report_handling")
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
    with pytest.raises(Forbidden, match="needs the role shift_lead"):
        act(db, w["dispatcher"], case, "file")
    with pytest.raises(Conflict, match="cannot dispatch a case that is registered"):
        act(db, w["dispatcher"], case, "dispatch")
    with pytest.raises(Conflict, match="changed since you loaded it"):
        act(db, w["lead"], case, "file", version=case.version + 5)
