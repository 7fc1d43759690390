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
    rank: int | None = Field(
        description="By score (nulls last), then due, then code; null: no case received (无案件), listed last"
    )


class DepartmentRow(Counts):
    code: str
    name: str
    volume_band: float | None = Field(description="This department's due over the largest due in the view")
    rank: int | None


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


class ThreeRatesRow(BaseModel):
    """The three rates of an area or a department over the cohort, in both forms (docs/DOMAIN.md section 8):
    Beijing's from the latest call-back of each case called back, Pingshan's from the cases themselves."""

    code: str
    name: str
    level: str | None = Field(description="The grid level; null for a department")
    received: int = Field(description="Cohort cases (受理数)")
    complaints: int = Field(description="Of them of the request type complaint (投诉)")
    population: int | None = Field(description="Resident population (常住人口); null when not known")
    complaint_rate: float | None = Field(
        description="complaints per 10,000 residents; null without population"
    )
    complaint_rate_note: str | None = Field(description="Why there is no complaint rate, in words")
    closed: int = Field(description="Of them closed (办结)")
    completion_rate: float | None = Field(description="closed / received (办结率)")
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
    form: Literal["beijing", "pingshan"] = Field(description="The form the score and rank follow")
    score: float | None = Field(
        description="0-100: beijing by stats_three_rate_weights, pingshan by stats_pingshan_weights"
    )
    grade: str | None
    rank: int | None = Field(description="null: no case received (无案件), listed last")


class RatingRow(BaseModel):
    """The citizens' five-star ratings of the cohort's cases (a rating's stars: the mean of its aspects)."""

    code: str
    name: str
    ratings: int = Field(description="Rated cases")
    mean_stars: float = Field(description="Mean stars, 1 to 5")
    low: int = Field(description="Ratings of 2 stars or fewer")
    low_share: float = Field(description="low / ratings")


class WorkingDaysRow(BaseModel):
    """The cohort's closed cases of a street or department and their working time received to closed."""

    code: str
    name: str
    closed: int
    mean_working_days: float = Field(description="Mean working days (the city's calendar)")
    fastest_code: str = Field(description="The closed case with the least working time")
    fastest_category: str
    fastest_working_days: float


class ReturnsRow(BaseModel):
    """A department's returns (回退) of cases of the area in the period."""

    code: str
    name: str
    dispatched: int = Field(description="Cases dispatched to it as the lead department in the period")
    returned: int = Field(description="Cases it returned in the period")
    return_rate: float | None = Field(description="returned / dispatched (null when nothing was dispatched)")


class ProactiveRow(BaseModel):
    code: str
    name: str
    found: int = Field(description="Cases inspectors found (channel inspector)")
    proactive: int = Field(description="Of those, found on a proactive patrol task (主动发现)")
    citizens: int = Field(description="Cases citizens reported: the hotline, the citizens' pages, Open311")
    found_share: float | None = Field(
        description="found / (found + citizens): the share found before anyone called (未诉先办)"
    )


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
    three_rates_districts: list[ThreeRatesRow] = Field(description="三率 by district (the month's ranking)")
    three_rates_streets: list[ThreeRatesRow] = Field(description="三率 by street (the month's ranking)")
    rates_form: Literal["beijing", "pingshan"] = Field(
        description="The three rates the rankings use (settings)"
    )
    rates_streets: list[ThreeRatesRow] = Field(description="Streets ranked by the three rates of rates_form")
    rates_departments: list[ThreeRatesRow] = Field(
        description="Departments with cohort cases ranked by the three rates of rates_form"
    )
    ratings_departments: list[RatingRow]
    ratings_categories: list[RatingRow]
    ratings_streets: list[RatingRow]
    working_days_streets: list[WorkingDaysRow] = Field(description="Quickest mean first")
    working_days_departments: list[WorkingDaysRow] = Field(description="Quickest mean first")
    returns: list[ReturnsRow] = Field(description="Most returns first")
    proactive_streets: list[ProactiveRow] = Field(
        description="Per street: found by inspectors (proactively) against reported by citizens"
    )


TABLES = (
    "districts", "streets", "departments", "inspectors", "trend_day", "trend_week", "categories", "grids",
    "hours", "three_rates_districts", "three_rates_streets", "rates_streets", "rates_departments",
    "ratings_departments", "ratings_categories", "ratings_streets", "working_days_streets",
    "working_days_departments", "returns", "proactive_streets",
)  # fmt: skip
