"""The grid heads' review routes: a grid's staffing, coverage, inspectors' work and cases; moving an
inspector; a grid's assignment history."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from server.auth import service as user_service
from server.auth.dependencies import require_roles
from server.auth.principal import Principal
from server.case.scope import Scope, scope_of
from server.deps import DB
from server.grid.schemas import LAYER_CODE, AssignmentOut
from server.review import access, service
from server.review.schemas import GridRef, ReassignIn, ReassignOut, ReviewOut

router = APIRouter(prefix="/review", tags=["review"])
Reviewer = Annotated[Principal, require_roles("grid_head", "leader", "shift_lead", "admin")]


def reviewer_scope(principal: Reviewer, db: DB) -> Scope:
    """What the caller may review (403 without a reviewer's role)."""
    return scope_of(db=db, principal=principal)


ReviewScope = Annotated[Scope, Depends(reviewer_scope)]
CODE = r"^[0-9]{1,15}$"
GridCode = Annotated[str, Query(pattern=CODE, description="Grid code", examples=["370102001"])]
REFUSALS = {
    403: {"description": "The grid is outside the grids you review, or you lack the role"},
    404: {"description": "No such grid"},
}


@router.get(
    "",
    response_model=ReviewOut,
    summary="Review a grid and its children: who looks after them, patrol coverage, inspectors, cases",
    description="Coverage is the share of a grid's area within `review_coverage_m` of its inspectors' "
    "tracks, on the day and from its Monday (local dates). Inspectors: distance and time on shift, reports, "
    "verifications and checks. Open and overdue cases within your scope.",
    responses={**REFUSALS, 422: {"description": "A day after today"}},
)
def review(
    scope: ReviewScope,
    db: DB,
    grid: Annotated[str | None, Query(pattern=CODE, description="Default: your first grid")] = None,
    day: Annotated[date | None, Query(description="The day reviewed (local date, default today)")] = None,
    layer: Annotated[
        str | None,
        Query(max_length=20, pattern=LAYER_CODE, description="Grid layer code; default: the default layer"),
    ] = None,
):
    return service.review(db=db, scope=scope, code=grid, day=day, layer=layer)


@router.get("/grids", response_model=list[GridRef], summary="The grids you review, to start from")
def grids(scope: ReviewScope, db: DB):
    return access.top_grids(db=db, scope=scope)


@router.get(
    "/assignments",
    response_model=list[AssignmentOut],
    summary="A grid's assignment history: heads and inspectors with their first and last days",
    responses=REFUSALS,
)
def assignments(scope: ReviewScope, db: DB, grid: GridCode):
    return [AssignmentOut.of(a, u) for a, u in service.history(db=db, scope=scope, code=grid)]


@router.post(
    "/reassign",
    response_model=ReassignOut,
    summary="Move an inspector to another grid: the current assignment ends, a new one starts on the day",
    description="The current assignment ends the day before `on` (on `on` itself if it started that day); "
    "the new one starts on `on`, today by default, never in the future.",
    responses={
        **REFUSALS,
        404: {"description": "No such grid or user"},
        409: {"description": "The user is not an inspector of from_grid now, or already one of to_grid"},
        422: {"description": "The user is no inspector, the grids are the same, or the day is out of range"},
    },
)
def reassign(body: ReassignIn, scope: ReviewScope, db: DB):
    ended, started = service.reassign(
        db=db,
        scope=scope,
        user_id=body.user_id,
        from_grid=body.from_grid,
        to_grid=body.to_grid,
        on=body.on,
    )
    user = user_service.get_user(db=db, user_id=body.user_id)
    return ReassignOut(ended=AssignmentOut.of(ended, user), started=AssignmentOut.of(started, user))
