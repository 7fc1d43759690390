"""The dashboard's answer (the contract with the dashboard page; the measures: docs/DOMAIN.md section 8)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

Rate = Field(default=None, description="A share from 0 to 1; null when its denominator is zero")


class Period(BaseModel):
    from_: date = Field(alias="from", serialization_alias="from", description="First local day")
    to: date = Field(description="Last local day (inclusive)")

    model_config = {"populate_by_name": True}


class GridRef(BaseModel):
    code: str
    name: str
    level: str


class DepartmentRef(BaseModel):
    code: str
    name: str


class Counts(BaseModel):
    """The cohort (cases received in the period and area, merged ones left out) and its rates."""

    received: int = Field(description="Cases received (voided included)")
    due: int = Field(description="Of them filed (应结案数)")
    closed: int = Field(description="Of them closed")
    closed_on_time: int = Field(description="Of them closed as 'normal' (handled in time)")
    handled_on_time: int = Field(description="Of them handled by their handling deadline")
    reworked: int = Field(description="Of them sent back for rework at least once")
    closure_rate: float | None = Rate
    on_time_closure_rate: float | None = Rate
    on_time_handling_rate: float | None = Rate
    rework_rate: float | None = Rate
    score: float | None = Field(default=None, description="0-100, weighted (settings); null without rates")
    grade: str | None = Field(default=None, description="A to E by score")


class AreaRow(Counts):
    code: str
    name: str
    level: str
    rank: int = Field(description="By score (nulls last), then due, then code")


class DepartmentRow(Counts):
    code: str
    name: str
    volume_band: float | None = Field(description="This department's due over the largest due in the view")
    rank: int


class InspectorRow(BaseModel):
    user_id: int
    name: str
    grid_codes: list[str] = Field(description="The grids of the area assigned to them in the period")
    reported: int = Field(description="Own reports received in the period (merged ones left out)")
    valid: int = Field(description="Of them filed")
    valid_rate: float | None = Rate
    verifications: int = Field(description="Verification replies in the period")
    verifications_on_time: int = Field(description="Of them given before the light turned red")
    verification_rate: float | None = Rate
    checks: int = Field(description="Check replies in the period")
    checks_on_time: int
    check_rate: float | None = Rate
    grid_due: int = Field(description="Filed cases of the cohort in their grids")
    found_by_others: int = Field(description="Of them reported through another channel than an inspector")
    miss_rate: float | None = Rate
    score: float | None = None
    grade: str | None = None
    rank: int


class DayRow(BaseModel):
    date: date
    received: int
    due: int
    closed: int


class WeekRow(BaseModel):
    week: str = Field(description="ISO week, e.g. 2026-W45 (Monday to Sunday; cut to the period)")
    received: int
    due: int
    closed: int


class CategoryRow(BaseModel):
    code: str
    name: str
    received: int


class HotGridRow(BaseModel):
    code: str
    name: str
    level: str
    received: int
    lon: float = Field(description="The grid's centroid, WGS 84")
    lat: float


class HourRow(BaseModel):
    hour: int = Field(description="Local hour of the day, 0-23")
    received: int


class WarningRow(BaseModel):
    kind: Literal["category", "grid"]
    code: str
    name: str
    recent: int = Field(description="Received in the last days of the period (settings: 7)")
    baseline: float = Field(description="Mean weekly count over the days before them (settings: 28)")
    ratio: float = Field(description="recent / max(baseline, 1)")
    message: str


class ThreeRatesRow(BaseModel):
    """Beijing's three rates for an area, from the latest call-back of each cohort case called back."""

    code: str
    name: str
    level: str
    called_back: int = Field(description="Cohort cases called back after closing")
    contacted: int = Field(description="Of them, the caller reached (the latest call-back)")
    solved: int = Field(description="Of those reached, solved in the caller's words")
    satisfied: int
    basically_satisfied: int
    not_satisfied: int
    response_rate: float | None = Field(description="contacted / called_back")
    resolution_rate: float | None = Field(description="solved / contacted")
    satisfaction_rate: float | None = Field(
        description="(satisfied + stats_basically_satisfied x basically_satisfied) / contacted"
    )
    score: float | None = Field(description="0-100 by stats_three_rate_weights")
    grade: str | None
    rank: int


class Dashboard(BaseModel):
    period: Period
    grid: GridRef
    department: DepartmentRef | None
    source: Literal["summary", "cases"] = Field(
        description="summary: read from the summary tables; cases: computed from the cases themselves"
    )
    totals: Counts
    districts: list[AreaRow]
    streets: list[AreaRow]
    departments: list[DepartmentRow]
    inspectors: list[InspectorRow]
    trend_day: list[DayRow]
    trend_week: list[WeekRow]
    categories: list[CategoryRow] = Field(description="Top 10 categories by received")
    grids: list[HotGridRow] = Field(description="Top 10 grids one level below the area by received")
    hours: list[HourRow]
    warnings: list[WarningRow]
    three_rates_districts: list[ThreeRatesRow] = Field(description="三率 by district (the month's ranking)")
    three_rates_streets: list[ThreeRatesRow] = Field(description="三率 by street (the month's ranking)")


TABLES = (
    "districts", "streets", "departments", "inspectors", "trend_day", "trend_week", "categories", "grids",
    "hours", "warnings", "three_rates_districts", "three_rates_streets",
)  # fmt: skip
