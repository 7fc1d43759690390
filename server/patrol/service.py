"""Patrol shifts: clock in and out, idempotent track uploads, distances.

The phone works offline first: it makes a shift's UUID itself, queues track points and uploads them in
batches, possibly twice. Starting a shift again with its UUID answers the stored shift; a point is stored
once per shift and instant (``INSERT ... ON CONFLICT DO NOTHING``, one statement per batch).

The distance of a shift is the geodesic length (WGS 84 ellipsoid, as PostGIS's geography measures it) of
the line through its points in time order, leaving out:

- fixes whose accuracy radius is worse than ``MAX_ACCURACY_M`` (50 m): they wander more than a patrol
  moves between two fixes;
- jumps: a point that could only be reached from the last point kept at more than ``MAX_SPEED_MPS``
  (12 m/s, about 43 km/h, beyond an inspector on foot or on a bicycle or e-bike) is a GNSS glitch. The
  next point is measured from the last point kept again, so a glitch and the way back from it add nothing.

A batch that adds points recounts the inspector's proactive patrol tasks of its days
(``server.patrol.tasks.refresh_coverage``).

The command center follows the inspectors live: when a batch adds points to an open shift, the shift's
newest point is sent on the ``patrol_position`` channel at commit (``server.events`` streams it to the
users whose scope sees that inspector, ``server.patrol.visibility.sees_position``). Who sees whose shifts,
positions and tracks is ``server.patrol.visibility``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import ColumnElement, func, select, text, true
from sqlalchemy.orm import Session

from gis.crs import distance_m, to_wgs84_arrays
from server.auth.models import User
from server.config import get_settings
from server.errors import Conflict, Invalid, NotFound
from server.grid.models import CURRENT, Grid, GridAssignment, in_force
from server.patrol import tasks
from server.patrol.models import PatrolShift, TrackPoint
from server.patrol.schemas import (
    LineString,
    Point,
    PointIn,
    PositionFeature,
    PositionProperties,
    ShiftIn,
    ShiftOut,
    TrackOut,
    TrackProperties,
)

MAX_ACCURACY_M = 50.0  # fixes with a worse accuracy radius are left out of the distance
MAX_SPEED_MPS = 12.0  # reaching a point faster than this from the last one kept is a GNSS glitch
CLOCK_SKEW = timedelta(minutes=5)  # how far ahead of the server's clock a phone's times may be
POSITION_CHANNEL = "patrol_position"  # the notification channel ``add_points`` sends positions on


def utc_now() -> datetime:
    """The server's clock."""
    return datetime.now(UTC)


def _tz() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


def local_time(moment: datetime) -> str:
    """``moment`` in the settings' time zone, to the second, for messages and listings."""
    return moment.astimezone(_tz()).strftime("%Y-%m-%d %H:%M:%S")


def local_day(moment: datetime) -> date:
    """The date of ``moment`` in the settings' time zone."""
    return moment.astimezone(_tz()).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The first instant of local ``day`` and of the day after."""
    start = datetime.combine(day, time(), _tz())
    return start, datetime.combine(day + timedelta(days=1), time(), _tz())


# -- clock in and out, uploads ------------------------------------------------------------------------


def start_shift(
    *, db: Session, user: User, data: ShiftIn, at: datetime | None = None
) -> tuple[PatrolShift, bool]:
    """Start a shift, or answer the stored one when its UUID was received before (``created`` False).

    A user has at most one open shift: an open shift that started earlier ends when this one starts (a
    phone may have lost its clock-out); one that started later makes this one, which arrives late, end
    when that one started."""
    # The user's row lock makes a retry wait for the first attempt, and a user's starts run one at a time.
    db.execute(select(User.id).where(User.id == user.id).with_for_update(key_share=True))
    shift = db.scalar(select(PatrolShift).where(PatrolShift.client_uuid == data.client_uuid))
    if shift is not None:
        if shift.user_id != user.id:
            raise Conflict("patrol.shift_of_another", client_uuid=data.client_uuid)
        return shift, False
    now = at or utc_now()
    if data.started_at > now + CLOCK_SKEW:
        raise Invalid("patrol.starts_in_future", started_at=local_time(data.started_at))
    shift = PatrolShift(
        client_uuid=data.client_uuid, user_id=user.id, started_at=data.started_at, device_id=data.device_id
    )
    open_shift = db.scalar(
        select(PatrolShift).where(PatrolShift.user_id == user.id, PatrolShift.ended_at.is_(None))
    )
    if open_shift is not None:
        if open_shift.started_at == data.started_at:
            raise Conflict(
                "patrol.same_start",
                client_uuid=open_shift.client_uuid,
                started_at=local_time(data.started_at),
            )
        if open_shift.started_at < data.started_at:
            open_shift.ended_at = data.started_at
            db.flush()  # before the new open shift meets the one-open-shift index
        else:
            shift.ended_at = open_shift.started_at
    db.add(shift)
    db.commit()
    return shift, True


def _own_shift(db: Session, user: User, client_uuid: UUID) -> PatrolShift:
    """The user's shift, locked until commit; 404 for anyone else's."""
    shift = db.scalar(
        select(PatrolShift)
        .where(PatrolShift.client_uuid == client_uuid, PatrolShift.user_id == user.id)
        .with_for_update(key_share=True)
    )
    if shift is None:
        raise NotFound("patrol.no_shift", client_uuid=client_uuid)
    return shift


def end_shift(
    *, db: Session, user: User, client_uuid: UUID, ended_at: datetime, at: datetime | None = None
) -> PatrolShift:
    """End one's shift. Idempotent: a shift keeps the earliest end it is given, so the same or a later end
    answers the shift as it is, and a phone's own clock-out arriving after a newer shift ended this one
    moves the end back to it."""
    shift = _own_shift(db, user, client_uuid)
    if ended_at <= shift.started_at:
        raise Invalid(
            "patrol.ends_before_start", ended_at=local_time(ended_at), started_at=local_time(shift.started_at)
        )
    if ended_at > (at or utc_now()) + CLOCK_SKEW:
        raise Invalid("patrol.ends_in_future", ended_at=local_time(ended_at))
    if shift.ended_at is None or ended_at < shift.ended_at:
        shift.ended_at = ended_at
    db.commit()
    return shift


INSERT_POINTS = text(
    """
    INSERT INTO track_point (shift_id, recorded_at, location, accuracy_m, speed_mps)
    SELECT :shift_id, t.recorded_at, ST_Point(t.lon, t.lat, 4326), t.accuracy_m, t.speed_mps
    FROM unnest(
        CAST(:times AS timestamptz[]), CAST(:lons AS float8[]), CAST(:lats AS float8[]),
        CAST(:accuracy AS float8[]), CAST(:speed AS float8[])
    ) AS t(recorded_at, lon, lat, accuracy_m, speed_mps)
    ON CONFLICT (shift_id, recorded_at) DO NOTHING
    """
)


def add_points(
    *, db: Session, user: User, client_uuid: UUID, points: list[PointIn], at: datetime | None = None
) -> tuple[PatrolShift, int]:
    """Store a batch of one's track points in one statement; returns the shift and how many were new.

    Points must lie within the shift: from its start to its end, or while it is open to a few minutes
    from now. An ended shift still takes its points (a late upload). The first point outside refuses the
    whole batch (422) and names it."""
    shift = _own_shift(db, user, client_uuid)
    last = shift.ended_at or (at or utc_now()) + CLOCK_SKEW
    for i, point in enumerate(points):
        if not shift.started_at <= point.recorded_at <= last:
            raise Invalid(
                "patrol.point_outside_shift",
                point=i,
                n=i + 1,
                recorded_at=local_time(point.recorded_at),
                started_at=local_time(shift.started_at),
                until=local_time(shift.ended_at) if shift.ended_at else "现在（巡查尚未结束）",
            )
    stored = 0
    if points:
        lons, lats = np.array([p.lon for p in points]), np.array([p.lat for p in points])
        for crs in {p.crs for p in points}:
            mine = np.array([p.crs == crs for p in points])
            lons[mine], lats[mine] = to_wgs84_arrays(lons[mine], lats[mine], crs)
        stored = db.execute(
            INSERT_POINTS,
            {
                "shift_id": shift.id,
                "times": [p.recorded_at for p in points],
                "lons": lons.tolist(),
                "lats": lats.tolist(),
                "accuracy": [p.accuracy_m for p in points],
                "speed": [p.speed_mps for p in points],
            },
        ).rowcount
    if stored:
        moments = [p.recorded_at for p in points]
        tasks.refresh_coverage(
            db, user_id=user.id, first_day=local_day(min(moments)), last_day=local_day(max(moments))
        )
        if shift.ended_at is None:
            _notify_position(db, shift)
    db.commit()
    return shift, stored


# -- tracks, distances, durations ---------------------------------------------------------------------


@dataclass
class Track:
    """A shift's points in time order."""

    times: list[datetime] = field(default_factory=list)
    lons: list[float] = field(default_factory=list)
    lats: list[float] = field(default_factory=list)
    accuracy: list[float | None] = field(default_factory=list)


def _tracks(db: Session, shifts: list[PatrolShift]) -> dict[int, Track]:
    tracks = {shift.id: Track() for shift in shifts}
    rows = db.execute(
        select(
            TrackPoint.shift_id,
            TrackPoint.recorded_at,
            func.ST_X(TrackPoint.location),
            func.ST_Y(TrackPoint.location),
            TrackPoint.accuracy_m,
        )
        .where(TrackPoint.shift_id.in_(list(tracks)))
        .order_by(TrackPoint.shift_id, TrackPoint.recorded_at)
    )
    for shift_id, recorded_at, lon, lat, accuracy in rows:
        track = tracks[shift_id]
        track.times.append(recorded_at)
        track.lons.append(lon)
        track.lats.append(lat)
        track.accuracy.append(accuracy)
    return tracks


def measure(track: Track) -> tuple[float, list[int]]:
    """The patrolled distance in metres, and the positions of the points it leaves out: fixes less
    accurate than ``MAX_ACCURACY_M``, and points reached from the last point kept faster than
    ``MAX_SPEED_MPS`` (see the module's docstring)."""
    distance, skipped, kept = 0.0, [], None
    for i, (moment, lon, lat, accuracy) in enumerate(
        zip(track.times, track.lons, track.lats, track.accuracy, strict=True)
    ):
        if accuracy is not None and accuracy > MAX_ACCURACY_M:
            skipped.append(i)
            continue
        if kept is not None:
            step = distance_m(kept[1], kept[2], lon, lat)
            if step > MAX_SPEED_MPS * (moment - kept[0]).total_seconds():
                skipped.append(i)
                continue
            distance += step
        kept = (moment, lon, lat)
    return distance, skipped


def _summary(shift: PatrolShift, user_name: str, track: Track, distance: float, now: datetime) -> dict:
    end = shift.ended_at or max([now, *track.times[-1:]])
    return {
        "client_uuid": shift.client_uuid,
        "user_id": shift.user_id,
        "user_name": user_name,
        "started_at": shift.started_at,
        "ended_at": shift.ended_at,
        "on_shift": shift.ended_at is None,
        "points": len(track.times),
        "distance_m": round(distance, 1),
        "duration_s": round(max((end - shift.started_at).total_seconds(), 0.0), 1),
    }


def _names(db: Session, shifts: list[PatrolShift]) -> dict[int, str]:
    ids = {shift.user_id for shift in shifts}
    return dict(db.execute(select(User.id, User.name).where(User.id.in_(ids))).all())


def describe(*, db: Session, shifts: list[PatrolShift], at: datetime | None = None) -> list[ShiftOut]:
    """Shifts as the API shows them, with their points, distance and duration (an open shift's lasts until
    ``at``, default now, or its last point if later), in two queries."""
    if not shifts:
        return []
    now, names, tracks = at or utc_now(), _names(db, shifts), _tracks(db, shifts)
    return [
        ShiftOut(**_summary(s, names[s.user_id], tracks[s.id], measure(tracks[s.id])[0], now)) for s in shifts
    ]


def track_feature(*, db: Session, shift: PatrolShift, at: datetime | None = None) -> TrackOut:
    """The shift's track as a GeoJSON Feature: the line through its points in time order, their times,
    the distance and duration, and which points the distance leaves out."""
    track = _tracks(db, [shift])[shift.id]
    distance, skipped = measure(track)
    summary = _summary(shift, _names(db, [shift])[shift.user_id], track, distance, at or utc_now())
    coordinates = [(round(lon, 7), round(lat, 7)) for lon, lat in zip(track.lons, track.lats, strict=True)]
    return TrackOut(
        id=str(shift.client_uuid),
        geometry=LineString(coordinates=coordinates) if len(coordinates) > 1 else None,
        properties=TrackProperties(**summary, times=track.times, skipped=skipped),
    )


# -- live positions ---------------------------------------------------------------------------------


def newest_positions(
    db: Session, shifts: ColumnElement[bool], since: datetime | None = None
) -> list[PositionFeature]:
    """The newest point of each shift meeting ``shifts`` (recorded at ``since`` or later), by user."""
    newest = (
        select(
            TrackPoint.recorded_at,
            TrackPoint.accuracy_m,
            func.ST_X(TrackPoint.location).label("lon"),
            func.ST_Y(TrackPoint.location).label("lat"),
        )
        .where(TrackPoint.shift_id == PatrolShift.id)
        .order_by(TrackPoint.recorded_at.desc())
        .limit(1)
        .lateral("newest")
    )
    query = (
        select(PatrolShift.user_id, User.name, PatrolShift.client_uuid, newest)
        .join(User, User.id == PatrolShift.user_id)
        .join(newest, true())
        .where(shifts)
        .order_by(PatrolShift.user_id)
    )
    if since is not None:
        query = query.where(newest.c.recorded_at >= since)
    return [
        PositionFeature(
            id=row.user_id,
            geometry=Point(coordinates=(round(row.lon, 7), round(row.lat, 7))),
            properties=PositionProperties(
                user_id=row.user_id,
                user_name=row.name,
                client_uuid=row.client_uuid,
                recorded_at=row.recorded_at,
                accuracy_m=row.accuracy_m,
            ),
        )
        for row in db.execute(query)
    ]


def _notify_position(db: Session, shift: PatrolShift) -> None:
    """Send the shift's newest point on ``POSITION_CHANNEL`` at commit, with the grid paths its inspector
    is assigned to today (what ``server.patrol.visibility.sees_position`` reads)."""
    (position,) = newest_positions(db, PatrolShift.id == shift.id)
    paths = db.scalars(
        select(Grid.path)
        .join(GridAssignment, (GridAssignment.grid_code == Grid.code) & CURRENT)
        .where(GridAssignment.user_id == shift.user_id, in_force(local_day(utc_now())))
        .order_by(Grid.path)
    )
    lon, lat = position.geometry.coordinates
    payload = {**position.properties.model_dump(mode="json"), "lon": lon, "lat": lat}
    payload["grid_paths"] = list(paths)
    payload["city_id"] = shift.city_id
    db.execute(select(func.pg_notify(POSITION_CHANNEL, json.dumps(payload, ensure_ascii=False))))
