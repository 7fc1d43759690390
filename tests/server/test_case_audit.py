"""The audit trail (全程留痕): ``case_event`` takes new rows only. The application's own connection, which
is no superuser, cannot change or remove an event (tests/server/test_audit_privileges.py tries every way);
the timeline a person reads is that table."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from server.case import present
from server.case.models import CaseEvent
from server.case.scope import scope_of
from server.localdb import APP_ROLE
from tests.server.case_world import DISTRICT, act, make_user, photo, report, village_point

ACTIONS_TAKEN = ["file", "dispatch", "receive", "report_handling", "request_check", "reply_check", "close"]
PHOTO_ROLES = ["before", "after", "check"]


@pytest.fixture
def closed_case(demo_db):
    """A case taken from report to closing, with a photo at each of its three stages."""
    db = demo_db
    village, lon, lat = village_point(db)
    inspector = make_user(db, ["inspector"], inspects=village)
    lead = make_user(db, ["shift_lead"], grid=DISTRICT)
    case = report(db, inspector, lon, lat)
    photo(db, inspector, case, "before")
    act(db, lead, case, "file")
    act(db, make_user(db, ["dispatcher"], grid=DISTRICT), case, "dispatch")
    department = make_user(db, ["department"], department="sanitation_lx")
    photo(db, department, case, "after")
    act(db, department, case, "report_handling")
    act(db, make_user(db, ["acceptor"], grid=DISTRICT), case, "request_check")
    photo(db, inspector, case, "check")
    act(db, inspector, case, "reply_check", result="pass")
    act(db, lead, case, "close")
    return case, lead


def test_the_app_connects_as_no_superuser(demo_db):
    assert demo_db.scalar(text("SELECT current_user")) == APP_ROLE
    assert demo_db.scalar(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")) is False


def test_the_timeline_is_the_event_table(demo_db, closed_case):
    case, lead = closed_case
    events = list(
        demo_db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))
    )
    assert len(events) == 1 + len(ACTIONS_TAKEN) + len(PHOTO_ROLES)
    assert [e.action for e in events if e.action not in ("report", "add_photo")] == ACTIONS_TAKEN
    assert [e.data["role"] for e in events if e.action == "add_photo"] == PHOTO_ROLES
    assert (
        demo_db.scalar(select(func.count()).where(CaseEvent.case_id == case.id, CaseEvent.action == "report"))
        == 1
    )

    detail = present.detail(db=demo_db, principal=lead, scope=scope_of(db=demo_db, principal=lead), case=case)
    assert [(e.id, e.action, e.actor, e.state_after) for e in detail.timeline] == [
        (e.id, e.action, e.actor_name, e.state_after) for e in events
    ]
    # Each event starts where the one before left the case.
    assert [e.state_before for e in detail.timeline[1:]] == [e.state_after for e in detail.timeline[:-1]]
    assert detail.timeline[-1].state_after == case.state == "closed"
