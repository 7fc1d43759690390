"""Demo patrols: each demo inspector walks part of their village every day of the current week, so the map's
tracks and the grid heads' review have something to show. Made through the real patrol service (shifts and
point batches as a phone uploads them), one shift per inspector and day, keyed by a UUID derived from both:
loading again adds only the days that are missing (today's, on a new day)."""

from __future__ import annotations

import math
import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import shapely
from geoalchemy2.shape import to_shape
from shapely.geometry import LineString
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.auth.models import User
from server.config import get_settings
from server.grid.models import CURRENT, Grid, GridAssignment, in_force
from server.patrol import service
from server.patrol.models import PatrolShift
from server.patrol.schemas import MAX_POINTS_PER_BATCH, PointIn, ShiftIn

NAMESPACE = uuid.UUID("0b7e5d2c-4a51-4f0e-9a3e-2f6c8d1b7a90")
START = time(9, 0)  # a shift on a past day starts at 9:00 local
WALK_MPS = 1.2
EVERY_S = 5  # one fix every 5 s
BANDS = 4  # the village is walked in four horizontal bands, one a day
LANE_M = 80  # the zigzag's lanes, 80 m apart
LONGEST_S = 3 * 3600  # a walk stops after three hours
METRES_PER_DEGREE = 111_320.0


def _route(village, band: int) -> list[tuple[float, float]]:
    """A zigzag over one horizontal band of the village, lanes ``LANE_M`` apart, kept inside it."""
    minx, miny, maxx, maxy = village.bounds
    height = (maxy - miny) / BANDS
    low = miny + band * height
    lane = LANE_M / METRES_PER_DEGREE
    route: list[tuple[float, float]] = []
    for k in range(max(1, math.ceil(height / lane))):
        y = low + (k + 0.5) * lane
        crossing = LineString([(minx, y), (maxx, y)]).intersection(village)
        pieces = [g for g in getattr(crossing, "geoms", [crossing]) if isinstance(g, LineString) and g.length]
        if not pieces:
            continue
        longest = max(pieces, key=lambda g: g.length)
        ends = list(longest.coords)
        route += ends if k % 2 == 0 else ends[::-1]
    return route


def _walk(route: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The positions, one every ``EVERY_S`` seconds, of a walk along ``route`` at ``WALK_MPS`` (at most
    ``LONGEST_S`` of it)."""
    if len(route) < 2:
        return []
    line = LineString(route)
    lat = line.centroid.y
    metres = line.length * METRES_PER_DEGREE * (1 + math.cos(math.radians(lat))) / 2  # between lat and lon
    steps = max(2, int(metres / (WALK_MPS * EVERY_S)))
    points = shapely.line_interpolate_point(line, [i / (steps - 1) for i in range(steps)], normalized=True)
    return [(p.x, p.y) for p in points[: LONGEST_S // EVERY_S]]


def _patrol(db: Session, user: User, key: uuid.UUID, started: datetime, walk) -> None:
    """A shift from ``started`` with a fix of the walk every ``EVERY_S`` seconds, uploaded as a phone does."""
    fixes = [
        PointIn(recorded_at=started + timedelta(seconds=i * EVERY_S), lon=lon, lat=lat, accuracy_m=6.0)
        for i, (lon, lat) in enumerate(walk)
    ]
    service.start_shift(db=db, user=user, data=ShiftIn(client_uuid=key, started_at=started), at=started)
    for first in range(0, len(fixes), MAX_POINTS_PER_BATCH):
        batch = fixes[first : first + MAX_POINTS_PER_BATCH]
        service.add_points(db=db, user=user, client_uuid=key, points=batch, at=batch[-1].recorded_at)
    ended = fixes[-1].recorded_at
    service.end_shift(db=db, user=user, client_uuid=key, ended_at=ended, at=ended)


def load_demo_patrols(*, db: Session, now: datetime | None = None) -> int:
    """Walk each demo inspector's village on every day of this week up to today (today's walk ends now)
    since their assignment to it started; return how many shifts were added."""
    tz = ZoneInfo(get_settings().timezone)
    now = (now or db.scalar(select(func.now()))).astimezone(tz)
    monday = now.date() - timedelta(days=now.weekday())
    rows = db.execute(
        select(User, Grid, GridAssignment.starts_on)
        .join(GridAssignment, GridAssignment.user_id == User.id)
        .join(Grid, (Grid.code == GridAssignment.grid_code) & CURRENT)
        .where(GridAssignment.role == "inspector", in_force(now.date()), Grid.level == "village")
        .order_by(User.id)
    ).all()
    added = 0
    for user, grid, assigned_on in rows:
        village = to_shape(grid.geom)
        first = max(monday, assigned_on)  # no walk before the inspector had the village
        for day in range((now.date() - first).days + 1):
            date = first + timedelta(days=day)
            key = uuid.uuid5(NAMESPACE, f"{user.phone}-{date.isoformat()}")
            if db.scalar(select(PatrolShift.id).where(PatrolShift.client_uuid == key)) is not None:
                continue
            walk = _walk(_route(village, (date.toordinal() + user.id) % BANDS))
            if not walk:
                continue
            started = datetime.combine(date, START, tz)
            if date == now.date():  # today's walk ends a minute ago
                started = now - timedelta(seconds=EVERY_S * (len(walk) - 1) + 60)
            _patrol(db, user, key, started, walk)
            added += 1
    return added
