"""Forecast routes: the latest forecasts of next week's or next month's reports per area x category.

Who sees what: the dashboard's users and scope (``server.stats.request.resolve``): the areas within the grid
asked (default the user's top grid, or the city), which must be within their scope. A department user sees
the whole city's areas, but only the categories its department handles there (the district's department
for the category, else the category's own): what it would be asked to handle."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from server.anticipate import forecast
from server.anticipate.models import HORIZONS, LEVELS
from server.anticipate.schemas import ForecastList, ForecastRow
from server.auth.dependencies import CurrentUser
from server.config import get_settings
from server.deps import ReadDB
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
    run, rows = forecast.latest(db, request, horizon=horizon, level=level, category=category, limit=limit)
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
            for f, code, name, area_name in rows
        ],
    )
