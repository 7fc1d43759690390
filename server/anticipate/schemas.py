"""The forecasts' answer (``GET /api/forecasts``)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field


class ForecastRow(BaseModel):
    area_code: str = Field(description="The area's grid code at the level asked")
    area_name: str = Field(description="The area's name (its code when the grid is gone)")
    category_code: str = Field(description="The category's code (e.g. E06010)")
    category_name: str = Field(description="The category's name")
    expected: float = Field(description="Expected reports over the period")
    low: int = Field(description="Lower end of the interval (level: 'interval')")
    high: int = Field(description="Upper end of the interval")
    last_observed: int = Field(description="Reports over the same number of days up to the cutoff")


class ForecastList(BaseModel):
    horizon: str = Field(description="week: next Monday to Sunday; month: next calendar month")
    level: str = Field(description="village (社区), street (街道) or district (区县)")
    made_at: datetime | None = Field(description="When the horizon's latest run was made; null: none yet")
    cutoff: date | None = Field(description="Last local day of the data the run read")
    period_start: date | None = Field(description="First local day forecast")
    period_end: date | None = Field(description="Last local day forecast (inclusive)")
    interval: float = Field(description="The intervals' level, e.g. 0.8: 80% of counts fall within low..high")
    items: list[ForecastRow] = Field(description="The areas within your scope, most expected reports first")
