"""Who sees whose patrol shifts and positions, and the reads narrowed by it.

Everyone sees their own shifts; administrators, the command center and leaders, and grid heads also those
of the people assigned to grids within their case scope (``viewer_of``). The inspectors' latest positions
and today's tracks are read with the case scope itself: a city-wide scope sees every inspector, a grid scope
those assigned to grids in its subtrees, a department none (``_inspectors_seen``, and its twin for the
position notifications, ``sees_position``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from sqlalchemy import ColumnElement, Select, false, func, or_, select, true
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from server.auth.models import User
from server.auth.principal import Principal
from server.case.scope import CITY_WIDE_ROLES, Scope, scope_of
from server.errors import Invalid, NotFound
from server.grid.models import CURRENT, Grid, GridAssignment, in_force
from server.grid.subtree import path_within, within
from server.patrol.models import PatrolShift, TrackPoint
from server.patrol.schemas import (
    DayTrackFeature,
    DayTrackProperties,
    DayTracksOut,
    LineString,
    PositionsOut,
    TodayOut,
)
from server.patrol.service import day_bounds, describe, local_day, newest_positions, utc_now

# -- who sees whose shifts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    user_id: int | None
    everything: bool
    grid_paths: tuple[str, ...] = ()  # a grid head's subtrees: the shifts of the people assigned in them


def viewer_of(*, db: Session, principal: Principal) -> Viewer:
    """Everyone sees their own shifts; administrators, the command center and leaders, and grid heads also
    those of the people assigned to grids within their case scope (``server.case.scope``: the whole city,
    or the subtrees of their home grid and of the grids they head or patrol)."""
    if not principal.has("admin", "grid_head", *CITY_WIDE_ROLES):
        return Viewer(principal.user_id, False)
    scope = scope_of(db=db, principal=principal)
    return Viewer(principal.user_id, scope.everything, scope.grid_paths)


def _assigned_within(paths: tuple[str, ...]) -> Select:
    """The users with an assignment in force today to grids in the subtrees of ``paths``."""
    return (
        select(GridAssignment.user_id)
        .join(Grid, (Grid.code == GridAssignment.grid_code) & CURRENT)
        .where(in_force(local_day(utc_now())), within(Grid.path, paths))
    )


def _visible(viewer: Viewer) -> ColumnElement[bool]:
    """The SQL condition on ``PatrolShift`` for the shifts ``viewer`` may see."""
    if viewer.everything:
        return true()
    terms = [PatrolShift.user_id == viewer.user_id]
    if viewer.grid_paths:
        terms.append(PatrolShift.user_id.in_(_assigned_within(viewer.grid_paths)))
    return or_(*terms)


def get_shift(*, db: Session, viewer: Viewer, client_uuid: UUID) -> PatrolShift:
    shift = db.scalar(select(PatrolShift).where(PatrolShift.client_uuid == client_uuid, _visible(viewer)))
    if shift is None:
        raise NotFound("patrol.no_shift_visible", client_uuid=client_uuid)
    return shift


def list_shifts(
    *, db: Session, viewer: Viewer, day: date | None = None, user_id: int | None = None
) -> list[PatrolShift]:
    """The shifts ``viewer`` sees that started on a local day (default today), of one user or all."""
    start, end = day_bounds(day or local_day(utc_now()))
    query = (
        select(PatrolShift)
        .where(_visible(viewer), PatrolShift.started_at >= start, PatrolShift.started_at < end)
        .order_by(PatrolShift.started_at, PatrolShift.id)
    )
    if user_id is not None:
        query = query.where(PatrolShift.user_id == user_id)
    return list(db.scalars(query))


def today(*, db: Session, user: User, at: datetime | None = None) -> TodayOut:
    """The user's shifts started today (local date), with their distance and time on shift together."""
    now = at or utc_now()
    day = local_day(now)
    shifts = describe(
        db=db, shifts=list_shifts(db=db, viewer=Viewer(user.id, False), day=day, user_id=user.id), at=now
    )
    return TodayOut(
        day=day,
        shifts=shifts,
        distance_m=round(sum(s.distance_m for s in shifts), 1),
        duration_s=round(sum(s.duration_s for s in shifts), 1),
    )


# -- live positions and today's tracks ----------------------------------------------------------------


def _inspectors_seen(scope: Scope) -> ColumnElement[bool]:
    """The SQL condition on ``PatrolShift`` for the inspectors whose positions ``scope`` sees: everyone
    for a city-wide scope, those assigned to grids in its subtrees for a grid scope, nobody else."""
    if scope.everything:
        return true()
    if scope.grid_paths:
        return PatrolShift.user_id.in_(_assigned_within(scope.grid_paths))
    return false()


def sees_position(scope: Scope, payload: dict) -> bool:
    """Whether a position notification (``server.patrol.service.add_points``) is for ``scope``:
    ``_inspectors_seen`` on the grid paths the inspector is assigned to."""
    if scope.everything:
        return True
    paths = payload.get("grid_paths") or ()
    return any(path_within(path, scope.grid_paths) for path in paths)


def positions(*, db: Session, scope: Scope, at: datetime | None = None) -> PositionsOut:
    """The latest position of every inspector ``scope`` sees who is on an open shift and was located
    today (local date), as a GeoJSON FeatureCollection."""
    start, _ = day_bounds(local_day(at or utc_now()))
    shifts = PatrolShift.ended_at.is_(None) & _inspectors_seen(scope)
    return PositionsOut(features=newest_positions(db, shifts, since=start))


def day_tracks(
    *,
    db: Session,
    scope: Scope,
    west: float,
    south: float,
    east: float,
    north: float,
    limit: int,
    at: datetime | None = None,
) -> DayTracksOut:
    """Today's tracks (local date) of the inspectors ``scope`` sees that cross the box: per shift, the line
    through its points of today in time order (two points at least). More than ``limit`` tracks: 422. The
    box as ``server.deps.bounding_box`` checked it."""
    envelope = func.ST_MakeEnvelope(west, south, east, north, 4326)
    start, end = day_bounds(local_day(at or utc_now()))
    line = func.ST_MakeLine(aggregate_order_by(TrackPoint.location, TrackPoint.recorded_at))
    rows = db.execute(
        select(
            PatrolShift.client_uuid,
            PatrolShift.user_id,
            User.name,
            PatrolShift.ended_at,
            func.count().label("points"),
            func.ST_AsGeoJSON(line, 7).label("geometry"),
        )
        .join(PatrolShift, PatrolShift.id == TrackPoint.shift_id)
        .join(User, User.id == PatrolShift.user_id)
        .where(_inspectors_seen(scope), TrackPoint.recorded_at >= start, TrackPoint.recorded_at < end)
        .group_by(PatrolShift.id, User.id)
        .having(func.count() > 1, func.ST_Intersects(line, envelope))
        .order_by(PatrolShift.started_at, PatrolShift.id)
        .limit(limit + 1)
    ).all()
    if len(rows) > limit:
        raise Invalid("patrol.too_many_tracks", limit=limit)
    return DayTracksOut(
        features=[
            DayTrackFeature(
                id=str(row.client_uuid),
                geometry=LineString(coordinates=json.loads(row.geometry)["coordinates"]),
                properties=DayTrackProperties(
                    client_uuid=row.client_uuid,
                    user_id=row.user_id,
                    user_name=row.name,
                    on_shift=row.ended_at is None,
                    points=row.points,
                ),
            )
            for row in rows
        ]
    )
