"""Grid shapes on the wire."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gis.crs import CRS


class GridOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str = Field(examples=["370102001001"])
    name: str = Field(examples=["燕子山社区居委会"])
    level: str = Field(examples=["village"])
    parent_code: str | None
    layer: str | None = Field(
        description="The grid layer whose own grid this is; null: shared by every layer"
    )
    area_m2: float
    version: int
    valid_from: datetime
    valid_to: datetime | None


class FoundGrid(GridOut):
    lon: float = Field(description="A point inside the grid (WGS 84)")
    lat: float


class PersonOut(BaseModel):
    assignment_id: int
    user_id: int
    name: str
    role: Literal["head", "inspector"]
    layer: str = Field(description="The grid layer the person works in")
    starts_on: date
    ends_on: date | None


class GridDetail(GridOut):
    path: str
    geometry: dict[str, Any] = Field(description="GeoJSON MultiPolygon, WGS 84")
    children: int
    people: list[PersonOut] | None = Field(
        description="The grid's head and inspectors; null without login (staff names are for logged-in users)"
    )


class LocateOut(BaseModel):
    lon: float = Field(description="The point in WGS 84")
    lat: float
    chain: list[GridOut] = Field(description="From the root down to the deepest grid holding the point")


LAYER_CODE = r"^[a-z][a-z0-9_]*$"


class LocateBatchIn(BaseModel):
    points: list[tuple[float, float]] = Field(description="[lon, lat] pairs", min_length=1)
    crs: CRS = CRS.WGS84
    layer: str | None = Field(
        default=None,
        max_length=20,
        pattern=LAYER_CODE,
        description="Grid layer code; default: the default layer",
    )


class LayerIn(BaseModel):
    code: str = Field(max_length=20, pattern=LAYER_CODE, examples=["duty"])
    name: str = Field(min_length=1, max_length=50, examples=["责任网格"])
    levels: str = Field(
        default="",
        max_length=200,
        description="The layer's own levels below the shared ones, name:code_length[=label], comma "
        "separated; empty: none (its people work on the shared grids)",
        examples=["duty:14=责任网格"],
    )
    description: str = Field(default="", max_length=200)


class LayerLevel(BaseModel):
    name: str = Field(examples=["duty"])
    label: str = Field(examples=["责任网格"])


class LayerOut(BaseModel):
    code: str
    name: str
    description: str
    levels: str = Field(description="Its own levels, as a level spec (empty: none)")
    position: int
    is_default: bool
    scheme: list[LayerLevel] = Field(
        description="Every level of the layer from the root down: shared, then own"
    )


class LocateBatchOut(BaseModel):
    codes: list[str | None] = Field(description="The deepest grid per point, null outside every grid")


class IssueOut(BaseModel):
    severity: Literal["error", "warning"]
    kind: str
    code: str | None
    message: str
    area_m2: float | None = None
    other_code: str | None = None


class ReportOut(BaseModel):
    ok: bool
    checked: int
    errors: int
    warnings: int
    issues: list[IssueOut]


class ImportOut(BaseModel):
    written: bool
    created: int
    new_versions: int
    renamed: int
    unchanged: int
    report: ReportOut


class AssignmentIn(BaseModel):
    user: str = Field(description="The user's id, phone or username", examples=["13800000001"])
    role: Literal["head", "inspector"]
    layer: str | None = Field(
        default=None,
        max_length=20,
        pattern=LAYER_CODE,
        description="The grid layer to work in (a shared grid; a layer's own grid is in its layer). "
        "Default: the grid's own layer, else the default layer",
    )
    starts_on: date | None = Field(
        default=None, description="The first day in force (local date). Default: today"
    )


class AssignmentEnd(BaseModel):
    ends_on: date | None = Field(
        default=None,
        description="The last day in force, included (local date; a future day keeps the assignment until "
        "then). Default: today; yesterday ends it at once. An end already set can only be brought forward",
    )


class AssignmentOut(PersonOut):
    grid_code: str

    @classmethod
    def of(cls, assignment, user) -> AssignmentOut:
        return cls(
            assignment_id=assignment.id,
            user_id=user.id,
            name=user.name,
            role=assignment.role,
            starts_on=assignment.starts_on,
            ends_on=assignment.ends_on,
            grid_code=assignment.grid_code,
            layer=assignment.layer,
        )
