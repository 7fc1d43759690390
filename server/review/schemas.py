"""The grid heads' review on the wire."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from server.grid.schemas import AssignmentOut


class GridRef(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str = Field(examples=["370102001001"])
    name: str
    level: str


class GridRow(GridRef):
    parent_code: str | None
    head: str | None = Field(description="The grid's head now")
    inspectors: list[str] = Field(
        description="Inspectors assigned now to the grid, to a grid above it or to a grid in its subtree"
    )
    nobody: bool = Field(description="A grid of an inspected level that no inspector looks after")
    coverage_today: float = Field(
        ge=0, le=1, description="Share of the area within coverage_m of its inspectors' tracks on the day"
    )
    coverage_week: float = Field(ge=0, le=1, description="The same from Monday to the day")
    open: int = Field(description="Open cases in the grid's subtree that you may see")
    overdue: int = Field(description="Of those, the ones whose step is past its deadline")


class Effort(BaseModel):
    shifts: int = Field(description="Patrol shifts started in the period")
    distance_m: float = Field(description="Their distance, by the patrol rules (no poor fixes, no jumps)")
    duration_s: float = Field(description="Their time on shift")
    reports: int = Field(description="Cases the inspector reported")
    verifications: int = Field(description="Verification replies (reply_verification)")
    checks: int = Field(description="Check replies (reply_check)")


class InspectorRow(BaseModel):
    user_id: int
    name: str
    grids: list[GridRef] = Field(description="The grids the inspector is assigned to now, within the review")
    today: Effort
    week: Effort


class ReviewOut(BaseModel):
    layer: str = Field(description="The grid layer reviewed: its grids, heads and inspectors")
    grid: GridRef = Field(description="The grid reviewed")
    trail: list[GridRef] = Field(description="Its grids above, from the highest you may review, for going up")
    day: date = Field(description="The day reviewed (local date)")
    week_from: date = Field(description="The Monday of its week")
    coverage_m: float = Field(description="The distance around a track that counts as patrolled")
    epsg: int = Field(description="The metric projection coverage is measured in (CGCS2000 3-degree zone)")
    levels: list[str] = Field(description="The inspected levels")
    grids: list[GridRow] = Field(description="The grid reviewed, then its children")
    inspectors: list[InspectorRow]
    unstaffed: list[GridRef] = Field(
        description="Grids of the inspected levels in the subtree that nobody looks after (the highest of "
        "each such branch), in code order, up to a limit"
    )
    unstaffed_total: int


class ReassignIn(BaseModel):
    user_id: int
    from_grid: str = Field(pattern=r"^[0-9]{1,15}$")
    to_grid: str = Field(pattern=r"^[0-9]{1,15}$")
    on: date | None = Field(default=None, description="The first day on the new grid (default today)")


class ReassignOut(BaseModel):
    ended: AssignmentOut
    started: AssignmentOut
