"""Forecast routes: the latest forecasts of next week's or next month's reports per area x category.

Who sees what: the dashboard's users and scope (``server.stats.request.resolve``): the areas within the grid
asked (default the user's top grid, or the city), which must be within their scope. A department user sees
the whole city's areas, but only the categories its department handles there (the district's department
for the category, else the category's own): what it would be asked to handle."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from server.anticipate.models import HORIZONS, LEVELS, Forecast
from server.anticipate.schemas import ForecastList, ForecastRow
from server.auth.dependencies import CurrentUser
from server.category.models import Category, CategoryDistrictDepartment
from server.config import get_settings
from server.deps import ReadDB
from server.errors import Invalid
from server.grid.models import CURRENT, Grid
from server.grid.subtree import within
from server.stats import request as stats_request

router = APIRouter(prefix="/forecasts", tags=["forecasts"])
MAX_LIMIT = 500


@router.get(
    "",
    response_model=ForecastList,
    summary="The latest forecasts of reports per area x category, most expected first, within your scope",
    responses={
        403: {"description": "Not a dashboard user, or a grid outside your scope"},
        404: {"description": "No such grid"},
        422: {"description": "An unknown category, or a limit out of range"},
    },
)
def forecasts(
    principal: CurrentUser,
    db: ReadDB,
    horizon: Annotated[
        Literal[HORIZONS],  # type: ignore[valid-type]
        Query(description="week: next Monday to Sunday; month: next calendar month"),
    ] = "week",
    level: Annotated[
        Literal[LEVELS],  # type: ignore[valid-type]
        Query(description="The areas' level: village (社区), street (街道) or district (区县)"),
    ] = "village",
    grid: Annotated[
        str | None,
        Query(
            pattern=r"^[0-9]{2,15}$",
            description="Grid code: only areas within its subtree (default: your top grid, or the city)",
        ),
    ] = None,
    category: Annotated[
        str | None, Query(pattern=r"^[CE][0-9]{5}$", description="Only this category (code, e.g. E06010)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="At most this many rows")] = 50,
) -> ForecastList:
    request = stats_request.resolve(db=db, principal=principal, grid=grid)
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
        override = (
            select(CategoryDistrictDepartment.department_id)
            .where(
                CategoryDistrictDepartment.category_id == Forecast.category_id,
                CategoryDistrictDepartment.district_code == func.substr(Forecast.area_code, 1, 6),
            )
            .scalar_subquery()
        )
        query = query.where(func.coalesce(override, Category.department_id) == request.department.id)
    run = db.execute(
        select(Forecast.made_at, Forecast.cutoff, Forecast.period_start, Forecast.period_end)
        .where(Forecast.horizon == horizon)
        .limit(1)
    ).first()
    return ForecastList(
        horizon=horizon,
        level=level,
        made_at=run.made_at if run else None,
        cutoff=run.cutoff if run else None,
        period_start=run.period_start if run else None,
        period_end=run.period_end if run else None,
        interval=get_settings().forecast_interval,
        items=[
            ForecastRow(
                area_code=f.area_code,
                area_name=area_name or f.area_code,
                category_code=code,
                category_name=name,
                expected=f.expected,
                low=f.low,
                high=f.high,
                last_observed=f.last_observed,
            )
            for f, code, name, area_name in db.execute(query).all()
        ],
    )
