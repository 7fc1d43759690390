"""The system's rule for proactive patrol tasks (主动巡查任务, ``server.patrol.tasks``): each day, from the
open warnings of communities (突增高频 and 长期高频) and from next week's forecast (the communities x
categories expected to get the most reports), send an inspector there for the coming days before the
calls come.

For a target (a community x category) the task goes to the unit grid inside the community with the most
reports of that category over the last ``LOOKBACK`` (the community itself when none), to the inspector
assigned there (or to an area above it) over the task's days who has the fewest open tasks; a target
that already has a task on one of its grids for that category (from anyone: a grid head's own comes first)
gets no second one, and at most ``patrol_plan_max`` tasks are made a day. The reason says why, in words the
inspector reads on the phone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from server.anticipate.models import Forecast
from server.case.models import Case
from server.category.models import Category
from server.config import get_settings
from server.grid.models import CURRENT, Grid, GridAssignment
from server.patrol import tasks
from server.patrol.models import PatrolTask
from server.warning.models import Warning
from server.warning.service import OPEN

LOOKBACK = timedelta(days=28)


@dataclass(frozen=True)
class Target:
    area_path: str
    category_id: int
    source: str  # warning or forecast
    reason: str


def targets(db: Session) -> list[Target]:
    """The open warnings of communities first (the longest-standing first), then the forecast's largest
    expected counts of next week."""
    settings = get_settings()
    out = [
        Target(w.area_path, w.category_id, "warning", f"{w.message}。请到现场巡查，发现问题即拍照上报")
        for w in db.scalars(
            select(Warning)
            .where(Warning.level == "village", Warning.state.in_(OPEN))
            .order_by(Warning.raised_at, Warning.id)
        )
    ]
    rows = db.execute(
        select(Forecast, Grid.name, Category.name)
        .join(Grid, and_(Grid.code == Forecast.area_code, CURRENT))
        .join(Category, Category.id == Forecast.category_id)
        .where(
            Forecast.horizon == "week",
            Forecast.level == "village",
            Forecast.expected >= settings.patrol_plan_forecast_min,
        )
        .order_by(Forecast.expected.desc(), Forecast.id)
        .limit(settings.patrol_plan_max)
    ).all()
    out += [
        Target(
            f.area_path,
            f.category_id,
            "forecast",
            f"预测 {f.period_start.month}月{f.period_start.day}日起的一周 {area} {category}"
            f"约 {f.expected:.0f} 件（可能在 {f.low}–{f.high} 件之间）。请提前巡查，发现问题即拍照上报",
        )
        for f, area, category in rows
    ]
    return out


def _placement(db: Session, target: Target, starts_on: date, ends_on: date) -> tuple[Grid, int] | None:
    """The grid and the inspector for ``target``: the unit grid with the most recent reports of its
    category that has an inspector over the days, else the community; None when no inspector is there."""
    recent = (
        select(Case.grid_code, func.count().label("n"))
        .where(
            Case.grid_path.op("<@")(target.area_path),
            Case.category_id == target.category_id,
            Case.received_at >= func.now() - LOOKBACK,
        )
        .group_by(Case.grid_code)
        .subquery()
    )
    grids = db.scalars(
        select(Grid)
        .outerjoin(recent, recent.c.grid_code == Grid.code)
        .where(CURRENT, Grid.path.op("<@")(target.area_path), Grid.level.in_(("village", "unit")))
        .order_by(func.coalesce(recent.c.n, 0).desc(), func.nlevel(Grid.path).desc(), Grid.code)
    ).all()
    for grid in grids:
        open_tasks = (
            select(func.count())
            .where(PatrolTask.assignee_id == GridAssignment.user_id, PatrolTask.state == "open")
            .scalar_subquery()
        )
        inspector = db.scalar(
            select(GridAssignment.user_id)
            .join(Grid, and_(Grid.code == GridAssignment.grid_code, CURRENT))
            .where(
                GridAssignment.role == "inspector",
                Grid.path.op("@>")(grid.path),
                GridAssignment.starts_on <= starts_on,
                or_(GridAssignment.ends_on.is_(None), GridAssignment.ends_on >= ends_on),
            )
            .order_by(open_tasks, GridAssignment.user_id)
            .limit(1)
        )
        if inspector is not None:
            return grid, inspector
    return None


def plan(db: Session, *, starts_on: date) -> list[PatrolTask]:
    """The day's tasks by the rule, from ``starts_on`` for ``patrol_plan_days`` days."""
    settings = get_settings()
    ends_on = starts_on + timedelta(days=settings.patrol_plan_days - 1)
    made: list[PatrolTask] = []
    for target in targets(db):
        if len(made) >= settings.patrol_plan_max:
            break
        planned = db.scalar(
            select(PatrolTask.id)
            .join(Grid, and_(Grid.code == PatrolTask.grid_code, CURRENT))
            .where(
                Grid.path.op("<@")(target.area_path),
                PatrolTask.category_id == target.category_id,
                PatrolTask.state != "cancelled",
                PatrolTask.ends_on >= starts_on,
            )
            .limit(1)
        )
        if planned is not None:
            continue
        placed = _placement(db, target, starts_on, ends_on)
        if placed is None:
            continue
        grid, inspector = placed
        category = db.get(Category, target.category_id)
        made.append(
            tasks.assign(
                db,
                grid=grid.code,
                category=category.code if category else None,
                assignee=inspector,
                by=None,
                source=target.source,
                reason=target.reason,
                starts_on=starts_on,
                ends_on=ends_on,
            )
        )
    return made
