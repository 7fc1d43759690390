"""Proactive patrol tasks (主动巡查任务): 未诉先办, finding problems before anyone calls.

A grid head (for the grids they head), a shift lead, a leader or an administrator, or the system by a rule
on forecasts and warnings (``by=None``), sends an inspector to patrol a village or unit grid for a few
days, perhaps looking for one kind of problem, with a reason the inspector reads on the phone. The
inspector must be assigned (``server.grid.models.GridAssignment``, inspector) to that grid or to an area
above it on every day of the task.

**Coverage.** The inspector's track counts against a task when it runs inside the task's grid on its days:
each step between two consecutive points of a shift, both inside the grid (``ST_Covers``), adds its time,
at most ``MAX_GAP`` (the phone keeps a point at least every minute: a longer gap is a lost fix or the app
stopped, not a patrol). Fixes less accurate than ``service.MAX_ACCURACY_M`` are left out. When the minutes
reach ``settings.patrol_task_minutes`` the task is done, ``covered_at`` the instant they were reached (a
late upload gives the true instant). Coverage is computed when track points arrive
(``service.add_points``) and when a task is assigned, in one statement for the inspector's open tasks.

**主动发现.** A case an inspector reports inside the grid of one of their tasks (open or done, not
cancelled), on one of its days, names the task (``Case.patrol_task_id``, set by the intake's write:
``server.case.intake.TASK_OF_REPORT``)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import ColumnElement, func, select, text, true
from sqlalchemy.orm import Session

from server.auth.models import User
from server.auth.principal import Principal
from server.case.models import Case
from server.case.schemas import Ref
from server.case.scope import scope_of
from server.category.models import Category
from server.config import get_settings
from server.errors import Forbidden, Invalid, NotFound
from server.grid.models import CURRENT, Grid, GridAssignment, today
from server.grid.subtree import path_within, within
from server.patrol import service
from server.patrol.models import PatrolTask
from server.patrol.schemas import PatrolTaskOut

ASSIGNER_ROLES = ("grid_head", "shift_lead", "leader", "admin")
MAX_GAP = timedelta(minutes=5)  # the longest step between two points that counts whole
MAX_LISTED = 500
SOURCE_LABELS = {"manual": "人工布置", "forecast": "预测提示", "warning": "预警提示"}
STATE_LABELS = {"open": "进行中", "done": "已完成", "cancelled": "已取消"}

COVERAGE = text(
    """
    WITH task AS (
        SELECT t.id, g.geom,
            CAST(t.starts_on AS timestamp) AT TIME ZONE :tz AS from_at,
            CAST(t.ends_on + 1 AS timestamp) AT TIME ZONE :tz AS until_at
        FROM patrol_task t JOIN grid g ON g.code = t.grid_code AND g.valid_to IS NULL
        WHERE t.assignee_id = :user_id AND t.state = 'open'
          AND t.starts_on <= :last_day AND t.ends_on >= :first_day
    ), step AS (
        SELECT task.id AS task_id, p.recorded_at,
            ST_Covers(task.geom, p.location) AS inside,
            lead(p.recorded_at) OVER w AS next_at,
            lead(ST_Covers(task.geom, p.location)) OVER w AS next_inside
        FROM task
        JOIN patrol_shift s ON s.user_id = :user_id AND s.started_at < task.until_at
        JOIN track_point p ON p.shift_id = s.id
            AND p.recorded_at >= task.from_at AND p.recorded_at < task.until_at
            AND (p.accuracy_m IS NULL OR p.accuracy_m <= :max_accuracy)
        WINDOW w AS (PARTITION BY task.id, p.shift_id ORDER BY p.recorded_at)
    ), counted AS (
        SELECT task_id, next_at,
            sum(least(extract(epoch FROM next_at - recorded_at), :max_gap_s)) OVER (
                PARTITION BY task_id ORDER BY next_at, recorded_at ROWS UNBOUNDED PRECEDING
            ) / 60 AS minutes
        FROM step WHERE inside AND next_inside
    ), total AS (
        SELECT task.id, COALESCE(max(c.minutes), 0) AS minutes,
            min(c.next_at) FILTER (WHERE c.minutes >= :need) AS reached_at
        FROM task LEFT JOIN counted c ON c.task_id = task.id GROUP BY task.id
    )
    UPDATE patrol_task t SET covered_minutes = total.minutes, covered_at = total.reached_at,
        state = CASE WHEN total.reached_at IS NULL THEN t.state ELSE 'done' END
    FROM total WHERE total.id = t.id
    RETURNING t.id
    """
)


def refresh_coverage(db: Session, *, user_id: int, first_day: date, last_day: date) -> None:
    """Recount the track inside the grids of ``user_id``'s open tasks on any day from ``first_day`` to
    ``last_day``, marking done those that reached the minutes needed (one statement, not committed)."""
    settings = get_settings()
    counted = db.scalars(
        COVERAGE,
        {
            "user_id": user_id,
            "first_day": first_day,
            "last_day": last_day,
            "tz": settings.timezone,
            "max_accuracy": service.MAX_ACCURACY_M,
            "max_gap_s": MAX_GAP.total_seconds(),
            "need": settings.patrol_task_minutes,
        },
    )
    for task_id in counted:  # the session's copies are stale now
        loaded = db.identity_map.get(db.identity_key(PatrolTask, task_id))
        if loaded is not None:
            db.expire(loaded)


def _grid(db: Session, code: str) -> Grid:
    grid = db.scalar(select(Grid).where(Grid.code == code, CURRENT))
    if grid is None:
        raise NotFound("patrol.task_no_grid", grid=code)
    return grid


def _check_dates(starts_on: date, ends_on: date, on: date) -> None:
    max_days = get_settings().patrol_task_max_days
    if ends_on < starts_on:
        raise Invalid("patrol.task_dates_order", starts_on=starts_on, ends_on=ends_on)
    if starts_on < on:
        raise Invalid("patrol.task_in_past", starts_on=starts_on, today=on)
    if (ends_on - starts_on).days + 1 > max_days:
        raise Invalid("patrol.task_too_long", days=(ends_on - starts_on).days + 1, max_days=max_days)
    if (starts_on - on).days >= max_days:
        raise Invalid("patrol.task_too_far", starts_on=starts_on, max_days=max_days)


def _check_assigner(db: Session, by: Principal, grid: Grid) -> None:
    """``by`` may assign tasks in ``grid``: an assigning role, and the grid inside their scope."""
    if not by.has(*ASSIGNER_ROLES):
        raise Forbidden("patrol.task_not_assigner")
    scope = scope_of(db=db, principal=by)
    if not (scope.everything or path_within(grid.path, scope.grid_paths)):
        raise Forbidden("patrol.task_not_your_grid", grid=f"{grid.name}（{grid.code}）")


def _check_assignee(db: Session, user_id: int, grid: Grid, starts_on: date, ends_on: date) -> User:
    """The inspector, assigned to ``grid`` or an area above it on every day from ``starts_on`` to
    ``ends_on``."""
    user = db.get(User, user_id)
    if user is None or not user.active or "inspector" not in user.roles:
        raise Invalid("patrol.task_not_inspector", user_id=user_id)
    above = select(Grid.code).where(CURRENT, Grid.path.op("@>")(grid.path))
    assigned = db.scalar(
        select(GridAssignment.id).where(
            GridAssignment.user_id == user_id,
            GridAssignment.role == "inspector",
            GridAssignment.grid_code.in_(above),
            GridAssignment.starts_on <= starts_on,
            (GridAssignment.ends_on.is_(None)) | (GridAssignment.ends_on >= ends_on),
        )
    )
    if assigned is None:
        raise Invalid(
            "patrol.task_not_assigned",
            name=user.name,
            grid=f"{grid.name}（{grid.code}）",
            starts_on=starts_on,
            ends_on=ends_on,
        )
    return user


def assign(
    db: Session,
    *,
    grid: str,
    category: str | None,
    assignee: int,
    by: Principal | None,
    source: str,
    reason: str,
    starts_on: date,
    ends_on: date,
) -> PatrolTask:
    """Send inspector ``assignee`` (a user id) to patrol ``grid`` (a code) from ``starts_on`` to
    ``ends_on``; ``by`` None is the system's rule (no scope to check). Counts the track already there,
    and commits."""
    if source not in SOURCE_LABELS:
        raise Invalid("patrol.task_source", source=source)
    reason = reason.strip()
    if not reason:
        raise Invalid("patrol.task_no_reason")
    place = _grid(db, grid)
    if place.level not in get_settings().review_levels.split(","):
        raise Invalid("patrol.task_grid_level", grid=f"{place.name}（{place.code}）")
    _check_dates(starts_on, ends_on, today())
    if by is not None:
        _check_assigner(db, by, place)
    _check_assignee(db, assignee, place, starts_on, ends_on)
    category_id = None
    if category:
        category_id = db.scalar(select(Category.id).where(Category.code == category, Category.active))
        if category_id is None:
            raise Invalid("patrol.task_no_category", category=category)
    task = PatrolTask(
        grid_code=place.code,
        category_id=category_id,
        assignee_id=assignee,
        assigned_by=by.user_id if by is not None else None,
        source=source,
        reason=reason,
        starts_on=starts_on,
        ends_on=ends_on,
        state="open",
        covered_minutes=0.0,
    )
    db.add(task)
    db.flush()
    refresh_coverage(db, user_id=assignee, first_day=starts_on, last_day=ends_on)
    db.commit()
    db.refresh(task)
    return task


def _in_scope(db: Session, by: Principal) -> ColumnElement[bool]:
    """The SQL condition on ``PatrolTask`` for the tasks on grids in ``by``'s scope."""
    scope = scope_of(db=db, principal=by)
    if scope.everything:
        return true()
    paths = select(Grid.code).where(CURRENT, within(Grid.path, scope.grid_paths))
    return PatrolTask.grid_code.in_(paths)


def cancel(db: Session, *, task_id: int, by: Principal) -> PatrolTask:
    """Cancel an open task (a cancelled one is answered as it is); a done one stays done."""
    if not by.has(*ASSIGNER_ROLES):
        raise Forbidden("patrol.task_not_assigner")
    task = db.scalar(select(PatrolTask).where(PatrolTask.id == task_id, _in_scope(db, by)).with_for_update())
    if task is None:
        raise NotFound("patrol.no_task", task=task_id)
    if task.state == "done":
        raise Invalid("patrol.task_done", task=task_id)
    task.state = "cancelled"
    db.commit()
    return task


def listing(db: Session, *, by: Principal, grid: str | None, on: date | None) -> list[PatrolTask]:
    """The tasks ``by`` may see (in their scope), not ended before ``on`` (default today), in ``grid``'s
    subtree when given; the latest first, at most ``MAX_LISTED``."""
    if not by.has(*ASSIGNER_ROLES):
        raise Forbidden("patrol.task_not_assigner")
    query = select(PatrolTask).where(_in_scope(db, by), PatrolTask.ends_on >= (on or today()))
    if grid:
        area = _grid(db, grid)
        query = query.where(
            PatrolTask.grid_code.in_(select(Grid.code).where(CURRENT, within(Grid.path, [area.path])))
        )
    return list(
        db.scalars(query.order_by(PatrolTask.starts_on.desc(), PatrolTask.id.desc()).limit(MAX_LISTED))
    )


def mine(db: Session, *, user: User) -> list[PatrolTask]:
    """An inspector's tasks of today and the coming days, open or done, the soonest first."""
    return list(
        db.scalars(
            select(PatrolTask)
            .where(
                PatrolTask.assignee_id == user.id,
                PatrolTask.state != "cancelled",
                PatrolTask.ends_on >= today(),
            )
            .order_by(PatrolTask.starts_on, PatrolTask.id)
        )
    )


def describe(db: Session, tasks: list[PatrolTask]) -> list[PatrolTaskOut]:
    """Tasks as the API shows them, with names and the cases found on them, in four queries."""
    if not tasks:
        return []
    grids = dict(
        db.execute(
            select(Grid.code, Grid.name).where(CURRENT, Grid.code.in_({t.grid_code for t in tasks}))
        ).all()
    )
    categories = {
        row.id: Ref(code=row.code, name=row.name)
        for row in db.execute(
            select(Category.id, Category.code, Category.name).where(
                Category.id.in_({t.category_id for t in tasks} - {None})
            )
        )
    }
    people = {t.assignee_id for t in tasks} | {t.assigned_by for t in tasks} - {None}
    names = dict(db.execute(select(User.id, User.name).where(User.id.in_(people))).all())
    found = dict(
        db.execute(
            select(Case.patrol_task_id, func.count())
            .where(Case.patrol_task_id.in_([t.id for t in tasks]))
            .group_by(Case.patrol_task_id)
        ).all()
    )
    need = get_settings().patrol_task_minutes
    return [
        PatrolTaskOut(
            id=t.id,
            grid_code=t.grid_code,
            grid_name=grids.get(t.grid_code, t.grid_code),
            category=categories.get(t.category_id),
            assignee_id=t.assignee_id,
            assignee=names[t.assignee_id],
            assigned_by=names.get(t.assigned_by),
            source=t.source,
            source_label=SOURCE_LABELS[t.source],
            reason=t.reason,
            starts_on=t.starts_on,
            ends_on=t.ends_on,
            state=t.state,
            state_label=STATE_LABELS[t.state],
            covered_minutes=round(t.covered_minutes, 1),
            needed_minutes=need,
            covered_at=t.covered_at,
            created_at=t.created_at,
            found=found.get(t.id, 0),
        )
        for t in tasks
    ]
