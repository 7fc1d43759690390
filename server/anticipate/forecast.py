"""The forecasts: next week's and next month's reports per area x category at the
village, street and district levels, with an interval, from the model of ``server.anticipate.model``; each
run replaces the previous run of its horizon (table ``forecast``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
from sqlalchemy import Row, delete, func, select
from sqlalchemy.orm import Session

from server.anticipate import series as series_mod
from server.anticipate.model import YEAR, Model, Params, day_kinds
from server.anticipate.models import HORIZONS, LEVELS, Forecast
from server.case.clock import calendar
from server.category.models import Category, CategoryDistrictDepartment
from server.config import get_settings
from server.errors import Invalid
from server.grid.models import CURRENT, Grid, today
from server.grid.subtree import within
from server.stats.request import Request

# Days of history a forecast reads before its cutoff: the recent weeks a year back, the seasonal padding and
# the past forecasts its spread is measured on.
HISTORY_DAYS = YEAR + 7 * 12 + 62


def period(horizon: str, cutoff: date) -> tuple[date, date]:
    """The horizon's period after ``cutoff`` (local dates, inclusive): the first Monday to Sunday, or the
    first calendar month, starting after it."""
    start = cutoff + timedelta(days=1)
    if horizon == "week":
        start += timedelta(days=(7 - start.weekday()) % 7)
        return start, start + timedelta(days=6)
    if start.day != 1:
        start = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return start, following - timedelta(days=1)


@dataclass(frozen=True)
class Run:
    horizon: str
    cutoff: date
    period_start: date
    period_end: date
    rows: int


def model_for(db: Session, level: str, first: date, last: date, until: date, params: Params | None = None):
    """The model over the counts from ``first`` to ``last`` at ``level``, its calendar reaching ``until``."""
    s = series_mod.load(db, level, first, last)
    kinds = day_kinds(calendar(), first, (until - first).days + 1)
    return Model(s, kinds, params)


def compute(db: Session, horizon: str, cutoff: date) -> tuple[date, date, list[dict]]:
    """The rows of one run of ``horizon`` from the days up to ``cutoff``."""
    start, end = period(horizon, cutoff)
    first = cutoff - timedelta(days=HISTORY_DAYS - 1)
    level_interval = get_settings().forecast_interval
    rows = []
    for level in LEVELS:
        m = model_for(db, level, first, cutoff, end)
        s, t = m.s, m.s.days
        a, b = s.index(start), s.index(end) + 1
        exp = m.expect(t, a, b)
        low, high = exp.interval(level_interval)
        last = m.observed(max(0, t - (b - a)), t)
        rows += [
            {
                "level": level,
                "area_code": s.area_code[i],
                "area_path": s.area_path[i],
                "category_id": s.category_id[i],
                "expected": round(float(exp.mu[i]), 3),
                "low": int(low[i]),
                "high": int(high[i]),
                "last_observed": int(last[i]),
            }
            for i in np.flatnonzero((exp.mu > 0) | (last > 0))
        ]
    return start, end, rows


def refresh(db: Session, *, cutoff: date | None = None, horizons=HORIZONS) -> list[Run]:
    """Forecast each horizon from the days up to ``cutoff`` (default yesterday) and replace its previous
    run, all in one transaction (committed)."""
    cutoff = cutoff or today() - timedelta(days=1)
    made_at: datetime = db.scalar(select(func.now()))
    runs = []
    for horizon in horizons:
        start, end, rows = compute(db, horizon, cutoff)
        db.execute(delete(Forecast).where(Forecast.horizon == horizon))
        if rows:
            db.execute(
                Forecast.__table__.insert(),
                [
                    {
                        **r,
                        "horizon": horizon,
                        "made_at": made_at,
                        "cutoff": cutoff,
                        "period_start": start,
                        "period_end": end,
                    }
                    for r in rows
                ],
            )
        runs.append(Run(horizon, cutoff, start, end, len(rows)))
    db.commit()
    return runs


def latest(
    db: Session, request: Request, *, horizon: str, level: str, category: str | None, limit: int
) -> tuple[Row | None, list[Row]]:
    """The latest run of ``horizon`` (when made, its cutoff and period; None before any) and its rows at
    ``level`` within the request's grid, most expected first: (forecast, category code, category name,
    area name). A request for a department keeps the categories it handles there: the district's department
    for the category, else the category's own."""
    query = (
        select(Forecast, Category.code, Category.name, Grid.name)
        .join(Category, Category.id == Forecast.category_id)
        .outerjoin(Grid, (Grid.code == Forecast.area_code) & CURRENT)
        .where(
            Forecast.horizon == horizon,
            Forecast.level == level,
            within(Forecast.area_path, [request.grid.path]),
        )
        .order_by(Forecast.expected.desc(), Forecast.area_code, Category.code)
        .limit(limit)
    )
    if category is not None:
        category_id = db.scalar(select(Category.id).where(Category.code == category))
        if category_id is None:
            raise Invalid("forecast.unknown_category", category=category)
        query = query.where(Forecast.category_id == category_id)
    if request.department is not None:
        district = get_settings().scheme.get("district").code_length
        override = (
            select(CategoryDistrictDepartment.department_id)
            .where(
                CategoryDistrictDepartment.category_id == Forecast.category_id,
                CategoryDistrictDepartment.district_code == func.substr(Forecast.area_code, 1, district),
            )
            .scalar_subquery()
        )
        query = query.where(func.coalesce(override, Category.department_id) == request.department.id)
    run = db.execute(
        select(Forecast.made_at, Forecast.cutoff, Forecast.period_start, Forecast.period_end)
        .where(Forecast.horizon == horizon)
        .limit(1)
    ).first()
    return run, list(db.execute(query).all())
