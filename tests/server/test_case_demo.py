"""The demo cases: a few dozen, in every state of the workflow, made through the real services."""

from __future__ import annotations

from sqlalchemy import func, select

from server.case.demo import load_demo_cases
from server.case.models import Case, CaseEvent, CasePhoto
from server.case.present import describe
from server.case.states import State


def test_demo_cases_cover_every_state(demo_db):
    created = load_demo_cases(db=demo_db)
    assert 30 <= created <= 60
    states = dict(demo_db.execute(select(Case.state, func.count()).group_by(Case.state)).all())
    assert set(states) == {s.value for s in State}, states
    assert demo_db.scalar(select(func.count()).select_from(CaseEvent)) > created * 3
    assert demo_db.scalar(select(func.count()).select_from(CasePhoto).where(CasePhoto.role == "after")) > 5
    assert demo_db.scalar(select(func.count()).where(Case.supervised_at.is_not(None))) > 0
    assert demo_db.scalar(select(func.count()).where(Case.extension_request.is_not(None))) > 0
    lights = {c.light for c in describe(db=demo_db, cases=list(demo_db.scalars(select(Case))))}
    assert {"green", "red", None} <= lights  # fresh, overdue, and finished or suspended cases
    merged = demo_db.scalars(select(Case).where(Case.state == State.MERGED.value)).all()
    assert len(merged) == 2 and all(c.merged_into_id for c in merged)
    assert load_demo_cases(db=demo_db) == 0  # idempotent
