"""The server supervises overdue cases by itself, every GRIDOPS_SUPERVISION_SWEEP_SECONDS, and raises a
supervision left unanswered past its answer time one level."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import func, select

from server.case.models import Case, CaseEvent
from server.database import get_engine, new_session
from tests.server.case_world import act, make_user, report, team, village_point
from tests.server.live import live_server


def test_the_running_server_flags_overdue_cases(demo_clone_url, tmp_path):
    with new_session(demo_clone_url) as db:
        village, lon, lat = village_point(db)
        inspector = make_user(db, ["inspector"], inspects=village)
        long_ago = db.scalar(select(func.now())) - timedelta(days=10)
        code = report(db, inspector, lon, lat, at=long_ago).code
        fresh = report(db, inspector, lon + 0.001, lat, category="E09009").code
        # a dispatched case given a new due time a month ahead, its supervision unanswered for days
        people = team(db)
        case = report(db, people["inspector"], lon, lat + 0.001, category="E09009", at=long_ago)
        act(db, people["lead"], case, "file", at=long_ago + timedelta(minutes=5))
        act(db, people["dispatcher"], case, "dispatch", at=long_ago + timedelta(minutes=10))
        ahead = (db.scalar(select(func.now())) + timedelta(days=30)).isoformat()
        act(db, people["dispatcher"], case, "supervise", at=long_ago + timedelta(minutes=15), note="请尽快",
            new_due=ahead)  # fmt: skip
        unanswered = case.code
    get_engine(demo_clone_url).dispose()

    def supervise_events(db, code: str) -> list[CaseEvent]:
        query = select(CaseEvent).join(Case, Case.id == CaseEvent.case_id)
        return list(db.scalars(query.where(Case.code == code, CaseEvent.action == "supervise")))

    with live_server(demo_clone_url, tmp_path / "server.log", GRIDOPS_SUPERVISION_SWEEP_SECONDS="0.5"):
        deadline = time.monotonic() + 30
        with new_session(demo_clone_url) as db:
            while (
                db.scalar(select(Case.supervised_at).where(Case.code == code)) is None
                or db.scalar(select(Case.supervision_level).where(Case.code == unanswered)) != 2
            ):
                assert time.monotonic() < deadline, "the server did not supervise the overdue case"
                time.sleep(0.2)
                db.rollback()
            time.sleep(1.5)  # three more sweeps: none may flag it again
            db.rollback()
            (flag,) = supervise_events(db, code)
            assert (flag.actor_name, flag.data["level"]) == ("系统", 1)
            assert db.scalar(select(Case.supervision_level).where(Case.code == code)) == 1
            assert db.scalar(select(Case.supervised_at).where(Case.code == fresh)) is None
            issued, raised = supervise_events(db, unanswered)  # the dispatcher's, then the server's
            assert (issued.data["level"], raised.data["level"], raised.data["escalated_from"]) == (1, 2, 1)
            assert raised.actor_name == "系统"
            assert db.scalar(select(Case.supervision_level).where(Case.code == unanswered)) == 2
    get_engine(demo_clone_url).dispose()
