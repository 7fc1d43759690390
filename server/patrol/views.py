"""Patrol routes: clock in and out, track uploads, shifts and tracks by visibility, the phone's day, for
the command-center map the inspectors' latest positions and today's tracks, and proactive patrol tasks."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy.orm import Session

from server.auth.dependencies import CurrentUser, require_roles
from server.auth.models import User
from server.auth.principal import Principal
from server.case.views import ScopeDep
from server.config import get_settings
from server.deps import DB, BBox
from server.patrol import service, tasks, visibility
from server.patrol.models import PatrolShift
from server.patrol.schemas import (
    DayTracksOut,
    PatrolTaskIn,
    PatrolTaskOut,
    PointsIn,
    PointsOut,
    PositionsOut,
    ShiftEnd,
    ShiftIn,
    ShiftOut,
    TodayOut,
    TrackOut,
)

router = APIRouter(prefix="/patrol", tags=["patrol"])
Patroller = Annotated[Principal, require_roles("inspector", "grid_head", "admin")]
ShiftUUID = Annotated[UUID, Path(description="The client_uuid the phone made when the shift started")]


def _user(principal: Principal) -> User:
    return principal.own_user()


def _out(db: Session, shift: PatrolShift) -> ShiftOut:
    (out,) = service.describe(db=db, shifts=[shift])
    return out


@router.post(
    "/shifts",
    response_model=ShiftOut,
    status_code=201,
    summary="Start a patrol shift (clock in); idempotent by client_uuid",
    responses={
        200: {"description": "This client_uuid was already received: the shift as it is"},
        409: {"description": "This client_uuid belongs to another user's shift"},
        422: {"description": "A start in the future"},
    },
)
def start_shift(data: ShiftIn, principal: Patroller, db: DB, response: Response):
    shift, created = service.start_shift(db=db, user=_user(principal), data=data)
    if not created:
        response.status_code = 200
    return _out(db, shift)


@router.post(
    "/shifts/{client_uuid}/end",
    response_model=ShiftOut,
    summary="End a patrol shift (clock out); idempotent, the earliest end given stays",
    responses={
        404: {"description": "You have no such shift"},
        422: {"description": "An end before the start"},
    },
)
def end_shift(client_uuid: ShiftUUID, body: ShiftEnd, principal: Patroller, db: DB):
    shift = service.end_shift(db=db, user=_user(principal), client_uuid=client_uuid, ended_at=body.ended_at)
    return _out(db, shift)


@router.post(
    "/shifts/{client_uuid}/points",
    response_model=PointsOut,
    summary="Upload a batch of track points (at most 1000); points already stored are skipped",
    responses={
        404: {"description": "You have no such shift"},
        422: {"description": "Too many points, or a point outside the shift's span (named in the message)"},
    },
)
def add_points(client_uuid: ShiftUUID, body: PointsIn, principal: Patroller, db: DB):
    shift, stored = service.add_points(
        db=db, user=_user(principal), client_uuid=client_uuid, points=body.points
    )
    return PointsOut(received=len(body.points), stored=stored, shift=_out(db, shift))


@router.get("/shifts", response_model=list[ShiftOut], summary="Patrol shifts you may see, started on a day")
def list_shifts(
    principal: CurrentUser,
    db: DB,
    user_id: Annotated[int | None, Query(description="Only this user's shifts")] = None,
    day: Annotated[
        date | None, Query(description="The local date the shifts started (default today)")
    ] = None,
):
    viewer = visibility.viewer_of(db=db, principal=principal)
    return service.describe(
        db=db, shifts=visibility.list_shifts(db=db, viewer=viewer, day=day, user_id=user_id)
    )


@router.get(
    "/shifts/{client_uuid}/track",
    response_model=TrackOut,
    summary="A shift's track as a GeoJSON Feature: the line, its times, distance and duration",
    responses={404: {"description": "No such shift you may see"}},
)
def track(client_uuid: ShiftUUID, principal: CurrentUser, db: DB):
    viewer = visibility.viewer_of(db=db, principal=principal)
    return service.track_feature(
        db=db, shift=visibility.get_shift(db=db, viewer=viewer, client_uuid=client_uuid)
    )


@router.get(
    "/today",
    response_model=TodayOut,
    summary="My patrol today: my shifts, their distance and time on shift together",
)
def today(principal: CurrentUser, db: DB):
    return visibility.today(db=db, user=_user(principal))


@router.get(
    "/positions",
    response_model=PositionsOut,
    summary="Latest positions of the inspectors you may see who are on shift today, as GeoJSON points",
    description="An inspector's position is the newest point of their open shift, if recorded today (local "
    "date). A city-wide scope sees every inspector, a grid scope those assigned to grids in its subtrees, a "
    "department none. The event stream's `position` events move them on.",
)
def positions(scope: ScopeDep, db: DB):
    return visibility.positions(db=db, scope=scope)


@router.get(
    "/tracks/today",
    response_model=DayTracksOut,
    summary="Today's tracks of the inspectors you may see, crossing a bounding box, as GeoJSON lines",
    responses={422: {"description": "A malformed bounding box, or more tracks in it than the limit"}},
)
def day_tracks(scope: ScopeDep, db: DB, bbox: BBox):
    west, south, east, north = bbox
    return visibility.day_tracks(
        db=db,
        scope=scope,
        west=west,
        south=south,
        east=east,
        north=north,
        limit=get_settings().bbox_max_features,
    )


Assigner = Annotated[Principal, require_roles(*tasks.ASSIGNER_ROLES)]
TaskId = Annotated[int, Path(gt=0, le=2**63 - 1, description="The task's number")]


@router.post(
    "/tasks",
    response_model=PatrolTaskOut,
    status_code=201,
    summary="Assign an inspector a proactive patrol task (主动巡查任务) on a grid for some days",
    responses={
        403: {"description": "Not an assigning role, or a grid outside your scope"},
        404: {"description": "No such grid"},
        422: {"description": "Dates out of order, past or too long; an inspector not assigned there"},
    },
)
def assign_task(data: PatrolTaskIn, principal: Assigner, db: DB):
    task = tasks.assign(
        db,
        grid=data.grid,
        category=data.category,
        assignee=data.assignee_id,
        by=principal,
        source="manual",
        reason=data.reason,
        starts_on=data.starts_on,
        ends_on=data.ends_on,
    )
    return tasks.describe(db, [task])[0]


@router.get(
    "/tasks",
    response_model=list[PatrolTaskOut],
    summary="Proactive patrol tasks in your scope not ended before a day, with their coverage",
)
def list_tasks(
    principal: Assigner,
    db: DB,
    grid: Annotated[
        str | None, Query(pattern=r"^[0-9]{1,15}$", description="Only tasks in this grid's subtree")
    ] = None,
    on: Annotated[
        date | None, Query(description="Tasks ending on this local date or later (default today)")
    ] = None,
):
    return tasks.describe(db, tasks.listing(db, by=principal, grid=grid, on=on))


@router.get(
    "/tasks/mine",
    response_model=list[PatrolTaskOut],
    summary="My proactive patrol tasks of today and the coming days, with their coverage (the phone's list)",
)
def my_tasks(principal: CurrentUser, db: DB):
    return tasks.describe(db, tasks.mine(db, user=_user(principal)))


@router.post(
    "/tasks/{task_id}/cancel",
    response_model=PatrolTaskOut,
    summary="Cancel a proactive patrol task (a done one stays done)",
    responses={404: {"description": "No such task in your scope"}, 422: {"description": "Already done"}},
)
def cancel_task(task_id: TaskId, principal: Assigner, db: DB):
    return tasks.describe(db, [tasks.cancel(db, task_id=task_id, by=principal)])[0]
