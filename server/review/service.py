"""The grid heads' review: who looks after which grid, how much of each grid was patrolled, each inspector's
work, open and overdue cases, and moving an inspector from one grid to another.

What a reviewer may review: a grid head its subtrees (the grids of ``server.case.scope``), a city-wide scope
(leaders, shift leads, administrators) any grid. A review shows one grid and its children.

Who looks after a grid: the inspectors assigned now to it, to a grid above it (a village's inspector
patrols its units) or to a grid in its subtree (a street is looked after through its villages). The
inspected levels are ``review_levels`` (default village and unit: the demo's inspectors are assigned to
villages, a city may assign them to units); a grid of those levels that nobody looks after is listed, the
highest of its branch only (a village with nobody stands for its units).

Coverage of a grid over a period (the day, or Monday to the day, local dates in ``settings.timezone``): the
share of its area within ``review_coverage_m`` of its inspectors' tracks. A track is the line through the
points of one shift in time order, leaving out fixes less accurate than the patrol service's
``MAX_ACCURACY_M``; a point counts for a grid when its inspector was assigned (as above) on the point's
local date, so tracks walked before a move count for the old grid and after it for the new one. PostGIS
buffers the lines and measures the areas in the CGCS2000 3-degree Gauss-Kruger zone holding the reviewed
grid's centre (EPSG:4534-4554, ``gis.crs.gk_epsg``).

Moving an inspector (``reassign``) ends the assignment in force on the move's day on the day before and
starts the new one on the move's day, in one transaction (``grid.service.end_before``). An assignment that
started on the move's day ends the day before it started: it was never in force, so only the new grid has
the inspector that day, and both histories keep the move. Moves take effect today or on a past day,
never a future one (an end scheduled ahead is set with the assignments' own end date).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session, defer

from gis.crs import gk_epsg
from server.auth import service as user_service
from server.auth.models import User
from server.case.flows import OPEN_STATES
from server.case.models import Case, CaseEvent
from server.case.scope import Scope, visible
from server.config import get_settings
from server.errors import Conflict, Forbidden, Invalid
from server.grid import service as grid_service
from server.grid.models import CURRENT, Grid, GridAssignment, in_force, not_ended_before
from server.patrol import service as patrol_service
from server.patrol.models import PatrolShift
from server.review.schemas import Effort, GridRef, GridRow, InspectorRow, ReviewOut

REPLIES = {"reply_verification": "verifications", "reply_check": "checks"}

COVERAGE = text(
    """
    WITH duty AS (
        SELECT a.id, a.user_id, a.starts_on, a.ends_on, g.path
        FROM grid_assignment a
        JOIN grid g ON g.code = a.grid_code AND g.valid_to IS NULL
        WHERE a.role = 'inspector' AND a.starts_on <= :day AND (a.ends_on IS NULL OR a.ends_on >= :week_from)
          AND (g.path <@ CAST(:root AS ltree) OR g.path @> CAST(:root AS ltree))
    ),
    track AS (
        SELECT d.path,
               ST_MakeLine(p.location ORDER BY p.recorded_at) AS week,
               ST_MakeLine(p.location ORDER BY p.recorded_at)
                   FILTER (WHERE p.recorded_at >= :day_start) AS today
        FROM duty d
        JOIN patrol_shift s ON s.user_id = d.user_id AND s.started_at < :end
             AND (s.ended_at IS NULL OR s.ended_at >= :week_start)
        JOIN track_point p ON p.shift_id = s.id
        WHERE p.recorded_at >= :week_start AND p.recorded_at < :end
          AND (p.accuracy_m IS NULL OR p.accuracy_m <= :accuracy)
          AND (p.recorded_at AT TIME ZONE :tz)::date BETWEEN d.starts_on AND COALESCE(d.ends_on, :day)
        GROUP BY d.id, d.path, s.id
    ),
    band AS (
        SELECT path,
               ST_Buffer(ST_Transform(week, :epsg), :metres) AS week,
               ST_Buffer(ST_Transform(today, :epsg), :metres) AS today
        FROM track
    ),
    area AS (
        SELECT code, path, ST_Transform(geom, :epsg) AS geom
        FROM grid WHERE valid_to IS NULL AND code = ANY(:codes)
    )
    SELECT a.code,
           COALESCE(ST_Area(ST_Intersection(a.geom, ST_Union(b.today))) / NULLIF(ST_Area(a.geom), 0), 0)
               AS today,
           COALESCE(ST_Area(ST_Intersection(a.geom, ST_Union(b.week))) / NULLIF(ST_Area(a.geom), 0), 0)
               AS week
    FROM area a
    LEFT JOIN band b ON (b.path <@ a.path OR b.path @> a.path) AND ST_Intersects(b.week, a.geom)
    GROUP BY a.code, a.geom
    """
)


def _now() -> datetime:
    return datetime.now(UTC)


def inspected_levels() -> list[str]:
    return [level.strip() for level in get_settings().review_levels.split(",") if level.strip()]


def _within(path: str, top: str) -> bool:
    return path == top or path.startswith(top + ".")


def _related_paths(a: str, b: str) -> bool:
    """Whether one of two grid paths lies in the other's subtree (or they are the same)."""
    return _within(a, b) or _within(b, a)


def _prefixes(path: str) -> list[str]:
    """``a``, ``a.b``, ``a.b.c`` for ``a.b.c``: the paths of a grid and the grids above it."""
    labels = path.split(".")
    return [".".join(labels[: i + 1]) for i in range(len(labels))]


def _reviewable(scope: Scope, grid: Grid) -> bool:
    return scope.everything or any(_within(grid.path, top) for top in scope.grid_paths)


# -- what may be reviewed -----------------------------------------------------------------------------


def top_grids(*, db: Session, scope: Scope) -> list[Grid]:
    """The grids a reviewer starts from: the roots for a city-wide scope, else the highest of its grids."""
    if scope.everything:
        return grid_service.list_grids(db=db)
    grids = list(
        db.scalars(
            select(Grid)
            .options(defer(Grid.geom))
            .where(CURRENT, Grid.path.in_(scope.grid_paths))
            .order_by(Grid.path)
        )
    )
    return [g for g in grids if not any(g.path.startswith(other.path + ".") for other in grids)]


def review_grid(*, db: Session, scope: Scope, code: str | None = None) -> Grid:
    """The grid ``code`` (404 when there is none, 403 outside the scope), or the reviewer's first grid."""
    if code is None:
        tops = top_grids(db=db, scope=scope)
        if not tops:
            raise Forbidden("you look after no grid: a grid head reviews the grids it heads")
        return tops[0]
    grid = grid_service.get_grid(db=db, code=code)
    if not _reviewable(scope, grid):
        raise Forbidden(f"grid {code} ({grid.name}) is outside the grids you review")
    return grid


# -- the review -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """The day reviewed and its week (Monday to the day), as local dates and UTC instants."""

    day: date
    week_from: date
    day_start: datetime
    week_start: datetime
    end: datetime  # the next midnight

    @classmethod
    def of(cls, day: date) -> Period:
        tz = ZoneInfo(get_settings().timezone)
        week_from = day - timedelta(days=day.weekday())
        midnight = lambda d: datetime.combine(d, time(), tz)  # noqa: E731
        return cls(day, week_from, midnight(day), midnight(week_from), midnight(day + timedelta(days=1)))


def _related(root: Grid):
    """The SQL condition on ``Grid`` for the grids in ``root``'s subtree or above it."""
    return or_(Grid.path.op("<@")(root.path), Grid.path.op("@>")(root.path))


def _roster(db: Session, root: Grid, day: date) -> list[tuple[GridAssignment, User, Grid]]:
    """The inspectors' assignments in force on ``day`` to grids in ``root``'s subtree or above it."""
    query = (
        select(GridAssignment, User, Grid)
        .join(User, User.id == GridAssignment.user_id)
        .join(Grid, (Grid.code == GridAssignment.grid_code) & CURRENT)
        .options(defer(Grid.geom))
        .where(
            GridAssignment.role == "inspector",
            in_force(day),
            _related(root),
        )
        .order_by(User.name, User.id, Grid.path)
    )
    return [tuple(row) for row in db.execute(query)]


def _coverage(db: Session, root: Grid, rows: list[Grid], period: Period, epsg: int) -> dict[str, tuple]:
    settings = get_settings()
    found = db.execute(
        COVERAGE,
        {
            "root": root.path,
            "codes": [g.code for g in rows],
            "day": period.day,
            "week_from": period.week_from,
            "day_start": period.day_start,
            "week_start": period.week_start,
            "end": period.end,
            "accuracy": patrol_service.MAX_ACCURACY_M,
            "tz": settings.timezone,
            "epsg": epsg,
            "metres": settings.review_coverage_m,
        },
    )
    return {row.code: (round(row.today, 4), round(row.week, 4)) for row in found}


def _epsg(db: Session, grid: Grid) -> int:
    centre = func.ST_Centroid(func.ST_Envelope(Grid.geom))
    lon = db.scalar(select(func.ST_X(centre)).where(Grid.id == grid.id))
    try:
        return gk_epsg(lon)
    except ValueError as exc:
        raise Invalid(f"grid {grid.code}: {exc}") from None


def _cases(db: Session, scope: Scope, rows: list[Grid], now: datetime) -> dict[str, tuple[int, int]]:
    """Open and overdue cases in each row's subtree that ``scope`` sees."""
    query = (
        select(Grid.code, func.count(Case.id), func.count(Case.id).filter(Case.step_due_at <= now))
        .join(Case, Case.grid_path.op("<@")(Grid.path))
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


def _heads(db: Session, codes: list[str], day: date) -> dict[str, str]:
    """The name of each grid's head in force on ``day``."""
    query = (
        select(GridAssignment.grid_code, User.name)
        .join(User, User.id == GridAssignment.user_id)
        .where(
            GridAssignment.role == "head",
            in_force(day),
            GridAssignment.grid_code.in_(codes),
        )
    )
    return dict(db.execute(query).all())


class _Staffing:
    """Whether a grid is looked after: an inspector assigned to it, above it, or in its subtree."""

    def __init__(self, paths: set[str]) -> None:
        self.at_or_above = paths
        self.at_or_below = {prefix for path in paths for prefix in _prefixes(path)}

    def staffed(self, path: str) -> bool:
        return path in self.at_or_below or any(p in self.at_or_above for p in _prefixes(path))


def _unstaffed(db: Session, root: Grid, staffing: _Staffing, levels: list[str]) -> list[GridRef]:
    """The grids of the inspected levels in ``root``'s subtree that nobody looks after, the highest of each
    branch only, in code order."""
    grids = db.execute(
        select(Grid.code, Grid.name, Grid.level, Grid.parent_code, Grid.path)
        .where(CURRENT, Grid.path.op("<@")(root.path), Grid.level.in_(levels))
        .order_by(Grid.code)
    ).all()
    path_of = {g.code: g.path for g in grids}
    return [
        GridRef(code=g.code, name=g.name, level=g.level)
        for g in grids
        if not staffing.staffed(g.path)
        and (g.parent_code not in path_of or staffing.staffed(path_of[g.parent_code]))
    ]


def review(
    *, db: Session, scope: Scope, code: str | None = None, day: date | None = None, at: datetime | None = None
) -> ReviewOut:
    """The review of grid ``code`` (default the reviewer's first grid) and its children on ``day`` (default
    today, local date) and its week; open and overdue cases as of ``at`` (default now)."""
    now = at or _now()
    today = patrol_service.local_day(now)
    day = day or today
    if day > today:
        raise Invalid(f"the day reviewed ({day}) is after today ({today})")
    root = review_grid(db=db, scope=scope, code=code)
    period = Period.of(day)
    levels = inspected_levels()
    epsg = _epsg(db, root)
    rows = [root, *grid_service.list_grids(db=db, parent=root.code)]
    trail = [
        g
        for g in db.scalars(
            select(Grid)
            .options(defer(Grid.geom))
            .where(CURRENT, Grid.path.op("@>")(root.path), Grid.id != root.id)
            .order_by(func.nlevel(Grid.path))
        )
        if _reviewable(scope, g)
    ]

    roster = _roster(db, root, today)
    staffing = _Staffing({grid.path for _, _, grid in roster})
    coverage = _coverage(db, root, rows, period, epsg)
    cases = _cases(db, scope, rows, now)
    heads = _heads(db, [g.code for g in rows], today)
    grid_rows = []
    for grid in rows:
        names = dict.fromkeys(user.name for _, user, at in roster if _related_paths(grid.path, at.path))
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
    unstaffed = _unstaffed(db, root, staffing, levels)
    return ReviewOut(
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
    return grid_service.assignments(db=db, grid_code=grid.code, include_ended=True)


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
        raise Invalid(f"{user.name} is no inspector: only inspectors are moved between grids")
    if source.code == target.code:
        raise Invalid(f"{user.name} would move from grid {source.code} to itself")
    today = patrol_service.local_day(at or _now())
    on = on or today
    if on > today:
        raise Invalid(f"a move is recorded on its day or later: {on} is after today ({today})")
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
        raise Conflict(f"{user.name} is not an inspector of grid {source.code} ({source.name}) now")
    if on < current.starts_on:
        raise Invalid(
            f"{user.name} inspects grid {source.code} since {current.starts_on}: a move cannot take effect "
            f"before ({on})"
        )
    if db.scalar(inspecting.where(GridAssignment.grid_code == target.code, not_ended_before(on))) is not None:
        raise Conflict(f"{user.name} is already an inspector of grid {target.code} ({target.name})")
    grid_service.end_before(current, on)
    started = GridAssignment(grid_code=target.code, user_id=user.id, role="inspector", starts_on=on)
    db.add(started)
    db.commit()
    return current, started
