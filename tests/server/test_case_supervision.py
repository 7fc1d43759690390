"""The server flags overdue cases for supervision by itself, every GRIDOPS_SUPERVISION_SWEEP_SECONDS."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import func, select

from server.case.models import Case, CaseEvent
from server.database import get_engine, new_session
from tests.server.case_world import make_user, report, village_point
from tests.server.live import live_server


def test_the_running_server_flags_overdue_cases(demo_clone_url, tmp_path):
    with new_session(demo_clone_url) as db:
        village, lon, lat = village_point(db)
        inspector = make_user(db, ["inspector"], inspects=village)
        long_ago = db.scalar(select(func.now())) - timedelta(days=10)
        code = report(db, inspector, lon, lat, at=long_ago).code
        fresh = report(db, inspector, lon + 0.001, lat, category="E09009").code
    get_engine(demo_clone_url).dispose()

    with live_server(demo_clone_url, tmp_path / "server.log", GRIDOPS_SUPERVISION_SWEEP_SECONDS="0.5"):
        deadline = time.monotonic() + 30
        with new_session(demo_clone_url) as db:
            while db.scalar(select(Case.supervised_at).where(Case.code == code)) is None:
                assert time.monotonic() < deadline, "the server did not flag the overdue case"
                time.sleep(0.2)
                db.rollback()
            time.sleep(1.5)  # three more sweeps: none may flag it again
            db.rollback()
            flags = db.scalars(
                select(CaseEvent.action).join(Case, Case.id == CaseEvent.case_id).where(Case.code == code)
            ).all()
            assert flags.count("supervise") == 1
            assert db.scalar(select(Case.supervised_at).where(Case.code == fresh)) is None
    get_engine(demo_clone_url).dispose()
