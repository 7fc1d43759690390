"""The demo patrols: each demo inspector walks a band of their village on every day of the week since they
were assigned to it, through the real patrol service; loading again adds only a new day's walks."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import shapely
from geoalchemy2.shape import to_shape
from sqlalchemy import select

from server.grid.models import CURRENT, Grid, GridAssignment
from server.patrol.demo import load_demo_patrols
from server.patrol.models import PatrolShift, TrackPoint
from server.patrol.service import describe

TZ = ZoneInfo("Asia/Shanghai")


def test_demo_inspectors_walk_their_villages_each_day(demo_db):
    starts = demo_db.scalars(
        select(GridAssignment.starts_on).where(
            GridAssignment.role == "inspector", GridAssignment.ends_on.is_(None)
        )
    ).all()
    inspectors = len(starts)
    # Two days after the assignments started: a walk a day since then (within that week), today's included.
    assigned = min(starts)
    now = datetime.combine(assigned + timedelta(days=2), time(15), TZ)
    monday = now.date() - timedelta(days=now.weekday())
    days = (now.date() - max(monday, assigned)).days + 1
    assert load_demo_patrols(db=demo_db, now=now) == days * inspectors
    assert load_demo_patrols(db=demo_db, now=now) == 0
    shifts = list(demo_db.scalars(select(PatrolShift)))
    assert len(shifts) == days * inspectors
    today = [s for s in shifts if s.started_at.astimezone(TZ).date() == now.date()]
    assert len(today) == inspectors
    assert all(now - timedelta(hours=3, minutes=2) < s.started_at < s.ended_at < now for s in today)
    for shift, out in zip(shifts, describe(db=demo_db, shifts=shifts, at=now), strict=True):
        assert out.distance_m > 500
        village = to_shape(
            demo_db.scalar(
                select(Grid.geom)
                .join(GridAssignment, GridAssignment.grid_code == Grid.code)
                .where(CURRENT, GridAssignment.user_id == shift.user_id, GridAssignment.role == "inspector")
            )
        )
        points = demo_db.scalars(select(TrackPoint.location).where(TrackPoint.shift_id == shift.id)).all()
        inside = sum(village.covers(to_shape(p)) for p in points)
        assert inside >= 0.8 * len(points)  # the lanes' ends join across bays of the village
        assert shapely.MultiPoint([to_shape(p) for p in points]).envelope.area < village.envelope.area
    # the next day brings one more walk each
    assert load_demo_patrols(db=demo_db, now=now + timedelta(days=1)) == inspectors
