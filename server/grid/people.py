"""Who is responsible for a grid: its head and its inspectors, each assigned for a period of days in a grid
layer (a layer's own grid in its layer; a shared grid in the layer named, so one village has a head in
城市管理网格 and another in 生态环境网格)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.auth.models import User
from server.errors import Conflict, Invalid, NotFound
from server.grid.layers import get_layer
from server.grid.models import GridAssignment, in_force, not_ended_before, today
from server.grid.service import get_grid


def end_before(assignment: GridAssignment, day: date) -> None:
    """End ``assignment`` on the day before ``day``, when another takes over from ``day``; one that started
    on ``day`` thus ends the day before it starts: it was never in force (a move or a new head on the day
    an assignment was made replaces it that very day)."""
    assignment.ends_on = day - timedelta(days=1)


def assign(
    *,
    db: Session,
    grid_code: str,
    user: User,
    role: str,
    starts_on: date | None = None,
    layer: str | None = None,
) -> GridAssignment:
    """Assign ``user`` to a grid from ``starts_on`` (default today) as its head or as one of its inspectors,
    in ``layer``: a layer's own grid is in its layer (naming another is refused); a shared grid in the
    layer named, by default the default layer.

    A new head takes over on its first day: the head whose period reaches that day (no end, or an end on
    or after it) ends the day before (``end_before``). A head already scheduled to start after that day is
    not replaced: that is refused. An inspector is refused when already assigned to the grid from that day
    on (a period that does not end before it)."""
    if role not in ("head", "inspector"):
        raise Invalid("grid.assignment_role")
    grid = get_grid(db=db, code=grid_code)
    if grid.layer is not None and layer not in (None, grid.layer):
        raise Invalid("grid.assignment_layer", grid=grid_code, layer=get_layer(db=db, code=grid.layer).name)
    layer = grid.layer or get_layer(db=db, code=layer).code
    starts_on = starts_on or today()
    overlapping = list(
        db.scalars(
            select(GridAssignment)
            .where(
                GridAssignment.grid_code == grid_code,
                GridAssignment.layer == layer,
                GridAssignment.role == role,
                not_ended_before(starts_on),
            )
            .with_for_update()
        )
    )
    if any(a.user_id == user.id for a in overlapping):
        if role == "head":
            raise Conflict("grid.already_head", name=user.name, grid=grid_code)
        raise Conflict("grid.already_inspector", name=user.name, grid=grid_code)
    if role == "head":
        for previous in overlapping:
            if previous.starts_on > starts_on:
                raise Conflict("grid.head_scheduled", grid=grid_code, starts_on=previous.starts_on)
        for previous in overlapping:
            end_before(previous, starts_on)
    assignment = GridAssignment(
        grid_code=grid_code, layer=layer, user_id=user.id, role=role, starts_on=starts_on
    )
    db.add(assignment)
    db.commit()
    return assignment


def end_assignment(*, db: Session, assignment_id: int, ends_on: date | None = None) -> GridAssignment:
    """Set the last day of an assignment (default today; it is in force through that day, a future day
    included). An end already set can only be brought forward, and only while it has not passed."""
    assignment = db.get(GridAssignment, assignment_id)
    if assignment is None:
        raise NotFound("grid.no_assignment", assignment_id=assignment_id)
    ends_on = ends_on or today()
    if assignment.ends_on is not None and (assignment.ends_on < today() or ends_on > assignment.ends_on):
        raise Conflict("grid.assignment_end_fixed", ends_on=assignment.ends_on)
    if ends_on < assignment.starts_on:
        raise Invalid("grid.assignment_ends_before_start", ends_on=ends_on, starts_on=assignment.starts_on)
    assignment.ends_on = ends_on
    db.commit()
    return assignment


def assignments(
    *,
    db: Session,
    grid_code: str | None = None,
    user_id: int | None = None,
    include_ended: bool = False,
    layer: str | None = None,
) -> list[tuple[GridAssignment, User]]:
    """The assignments in force today, or with ``include_ended`` all of them (past, current, scheduled);
    of every layer, or of ``layer`` only."""
    query = (
        select(GridAssignment, User)
        .join(User, User.id == GridAssignment.user_id)
        .order_by(
            GridAssignment.grid_code,
            GridAssignment.layer,
            GridAssignment.role,
            GridAssignment.starts_on,
            GridAssignment.id,
        )
    )
    if layer is not None:
        query = query.where(GridAssignment.layer == get_layer(db=db, code=layer).code)
    if grid_code is not None:
        query = query.where(GridAssignment.grid_code == grid_code)
    if user_id is not None:
        query = query.where(GridAssignment.user_id == user_id)
    if not include_ended:
        query = query.where(in_force(today()))
    return [tuple(row) for row in db.execute(query)]
