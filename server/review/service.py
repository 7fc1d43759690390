"""The grid heads' review: who looks after which grid, how much of each grid was patrolled, each inspector's
work, open and overdue cases, and moving an inspector from one grid to another.

A review shows one grid and its children: what a reviewer may review is ``server.review.access``, who looks
after a grid ``server.review.staffing``, how much of it was patrolled ``server.review.coverage``.

Moving an inspector (``reassign``) ends the assignment in force on the move's day on the day before and
starts the new one on the move's day, in one transaction (``server.grid.people.end_before``). An assignment
that started on the move's day ends the day before it started: it was never in force, so only the new grid
has the inspector that day, and both histories keep the move. Moves take effect today or on a past day,
never a future one (an end scheduled ahead is set with the assignments' own end date).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from server.auth import service as user_service
from server.auth.models import User
from server.case.clock import overdue
from server.case.models import Case, CaseEvent
from server.case.scope import Scope, visible
from server.case.states import OPEN_STATES
from server.config import get_settings
from server.errors import Conflict, Invalid
from server.grid import people as grid_people
from server.grid import service as grid_service
from server.grid.layers import get_layer
from server.grid.models import CURRENT, Grid, GridAssignment, in_force, not_ended_before
from server.grid.subtree import within
from server.patrol import service as patrol_service
from server.patrol.models import PatrolShift
from server.review.access import review_grid, reviewable
from server.review.coverage import Period, coverage_of, epsg_of
from server.review.schemas import Effort, GridRef, GridRow, InspectorRow, ReviewOut
from server.review.staffing import Staffing, inspected_levels, related_paths, roster_of, unstaffed_under

REPLIES = {"reply_verification": "verifications", "reply_check": "checks"}


def _now() -> datetime:
    return datetime.now(UTC)


def _cases(db: Session, scope: Scope, rows: list[Grid], now: datetime) -> dict[str, tuple[int, int]]:
    """Open and overdue cases in each row's subtree that ``scope`` sees."""
    query = (
        select(Grid.code, func.count(Case.id), func.count(Case.id).filter(overdue(now)))
        .join(Case, within(Case.grid_path, [Grid.path]))
        .where(CURRENT, Grid.code.in_([g.code for g in rows]), Case.state.in_(OPEN_STATES), visible(scope))
        .group_by(Grid.code)
    )
    return {code: (total, late) for code, total, late in db.execute(query)}


def _efforts(db: Session, user_ids: list[int], period: Period, at: datetime) -> dict[int, dict[str, dict]]:
    """Per inspector, for ``today`` and ``week``: shifts, distance and time on shift (the patrol service's
    rules), reports, verifications and checks."""
    figures = {
        uid: {span: dict.fromkeys(Effort.model_fields, 0) for span in ("today", "week")} for uid in user_ids
    }

    def add(uid: int, today: bool, name: str, value: float) -> None:
        for span in ("today", "week") if today else ("week",):
            figures[uid][span][name] += value

    shifts = list(
        db.scalars(
            select(PatrolShift)
            .where(
                PatrolShift.user_id.in_(user_ids),
                PatrolShift.started_at >= period.week_start,
                PatrolShift.started_at < period.end,
            )
            .order_by(PatrolShift.started_at, PatrolShift.id)
        )
    )
    for shift in patrol_service.describe(db=db, shifts=shifts, at=at):
        today = shift.started_at >= period.day_start
        add(shift.user_id, today, "shifts", 1)
        add(shift.user_id, today, "distance_m", shift.distance_m)
        add(shift.user_id, today, "duration_s", shift.duration_s)
    reported_today = (Case.received_at >= period.day_start).label("today")
    reports = db.execute(
        select(Case.reporter_id, reported_today, func.count())
        .where(
            Case.reporter_id.in_(user_ids),
            Case.received_at >= period.week_start,
            Case.received_at < period.end,
        )
        .group_by(Case.reporter_id, reported_today)
    )
    for uid, today, count in reports:
        add(uid, today, "reports", count)
    replied_today = (CaseEvent.at >= period.day_start).label("today")
    replies = db.execute(
        select(CaseEvent.actor_id, CaseEvent.action, replied_today, func.count())
        .where(
            CaseEvent.actor_id.in_(user_ids),
            CaseEvent.action.in_(REPLIES),
            CaseEvent.at >= period.week_start,
            CaseEvent.at < period.end,
        )
        .group_by(CaseEvent.actor_id, CaseEvent.action, replied_today)
    )
    for uid, action, today, count in replies:
        add(uid, today, REPLIES[action], count)
    return figures


def _heads(db: Session, codes: list[str], day: date, layer: str) -> dict[str, str]:
    """The name of each grid's head in grid layer ``layer`` in force on ``day``."""
    query = (
        select(GridAssignment.grid_code, User.name)
        .join(User, User.id == GridAssignment.user_id)
        .where(
            GridAssignment.role == "head",
            GridAssignment.layer == layer,
            in_force(day),
            GridAssignment.grid_code.in_(codes),
        )
    )
    return dict(db.execute(query).all())


def review(
    *,
    db: Session,
    scope: Scope,
    code: str | None = None,
    day: date | None = None,
    at: datetime | None = None,
    layer: str | None = None,
) -> ReviewOut:
    """The review of grid ``code`` (default the reviewer's first grid) and its children in grid layer
    ``layer`` (default the default layer: its grids, heads and inspectors) on ``day`` (default today, local
    date) and its week; open and overdue cases as of ``at`` (default now)."""
    layer = get_layer(db=db, code=layer).code
    now = at or _now()
    today = patrol_service.local_day(now)
    day = day or today
    if day > today:
        raise Invalid("review.day_in_future", day=day, today=today)
    root = review_grid(db=db, scope=scope, code=code)
    period = Period.of(day)
    levels = inspected_levels()
    epsg = epsg_of(db, root)
    rows = [root, *grid_service.list_grids(db=db, parent=root.code, layer=layer)]
    trail = [
        g
        for g in db.scalars(
            select(Grid)
            .options(defer(Grid.geom))
            .where(CURRENT, Grid.path.op("@>")(root.path), Grid.id != root.id)
            .order_by(func.nlevel(Grid.path))
        )
        if reviewable(scope, g)
    ]

    roster = roster_of(db, root, today, layer)
    staffing = Staffing({grid.path for _, _, grid in roster})
    coverage = coverage_of(db, root, rows, period, epsg)
    cases = _cases(db, scope, rows, now)
    heads = _heads(db, [g.code for g in rows], today, layer)
    grid_rows = []
    for grid in rows:
        names = dict.fromkeys(user.name for _, user, at in roster if related_paths(grid.path, at.path))
        grid_rows.append(
            GridRow(
                code=grid.code,
                name=grid.name,
                level=grid.level,
                parent_code=grid.parent_code,
                head=heads.get(grid.code),
                inspectors=list(names),
                nobody=grid.level in levels and not staffing.staffed(grid.path),
                coverage_today=coverage[grid.code][0],
                coverage_week=coverage[grid.code][1],
                open=cases.get(grid.code, (0, 0))[0],
                overdue=cases.get(grid.code, (0, 0))[1],
            )
        )

    assigned: dict[int, tuple[User, list[Grid]]] = {}
    for _, user, grid in roster:
        assigned.setdefault(user.id, (user, []))[1].append(grid)
    figures = _efforts(db, list(assigned), period, now)
    inspectors = [
        InspectorRow(
            user_id=uid,
            name=user.name,
            grids=[GridRef.model_validate(g) for g in grids],
            today=Effort(**figures[uid]["today"]),
            week=Effort(**figures[uid]["week"]),
        )
        for uid, (user, grids) in assigned.items()
    ]
    unstaffed = unstaffed_under(db, root, staffing, levels, layer)
    return ReviewOut(
        layer=layer,
        grid=GridRef.model_validate(root),
        trail=[GridRef.model_validate(g) for g in trail],
        day=day,
        week_from=period.week_from,
        coverage_m=get_settings().review_coverage_m,
        epsg=epsg,
        levels=levels,
        grids=grid_rows,
        inspectors=inspectors,
        unstaffed=unstaffed[: get_settings().review_unstaffed_max],
        unstaffed_total=len(unstaffed),
    )


# -- assignments ------------------------------------------------------------------------------------------


def history(*, db: Session, scope: Scope, code: str) -> list[tuple[GridAssignment, User]]:
    """Every assignment of a grid the reviewer may review, heads and inspectors, ended ones too."""
    grid = review_grid(db=db, scope=scope, code=code)
    return grid_people.assignments(db=db, grid_code=grid.code, include_ended=True)


def reassign(
    *,
    db: Session,
    scope: Scope,
    user_id: int,
    from_grid: str,
    to_grid: str,
    on: date | None = None,
    at: datetime | None = None,
) -> tuple[GridAssignment, GridAssignment]:
    """Move an inspector from one grid to another on day ``on`` (default today): the current assignment
    ends the day before (on ``on`` if it started that day) and a new one starts on ``on``, in one
    transaction. Both grids must be reviewable by ``scope``. Returns the ended and the new assignment."""
    user = user_service.get_user(db=db, user_id=user_id)
    source = review_grid(db=db, scope=scope, code=from_grid)
    target = review_grid(db=db, scope=scope, code=to_grid)
    if "inspector" not in user.roles:
        raise Invalid("review.not_an_inspector", name=user.name)
    if source.code == target.code:
        raise Invalid("review.same_grid", name=user.name, grid=source.code)
    today = patrol_service.local_day(at or _now())
    on = on or today
    if on > today:
        raise Invalid("review.move_in_future", on=on, today=today)
    inspecting = select(GridAssignment).where(
        GridAssignment.user_id == user.id, GridAssignment.role == "inspector"
    )
    current = db.scalar(
        inspecting.where(GridAssignment.grid_code == source.code, not_ended_before(on))
        .order_by(GridAssignment.starts_on)
        .limit(1)
        .with_for_update()
    )
    if current is None:
        raise Conflict("review.not_inspecting", name=user.name, grid=source.code, grid_name=source.name)
    if on < current.starts_on:
        raise Invalid(
            "review.move_before_start", name=user.name, grid=source.code, starts_on=current.starts_on, on=on
        )
    if db.scalar(inspecting.where(GridAssignment.grid_code == target.code, not_ended_before(on))) is not None:
        raise Conflict("review.already_inspecting", name=user.name, grid=target.code, grid_name=target.name)
    grid_people.end_before(current, on)
    started = GridAssignment(
        grid_code=target.code, layer=current.layer, user_id=user.id, role="inspector", starts_on=on
    )
    db.add(started)
    db.commit()
    return current, started
