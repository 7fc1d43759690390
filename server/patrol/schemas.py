"""Patrol shapes on the wire."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from gis.crs import CRS
from server.case.schemas import Ref
from server.deps import Instant

MAX_POINTS_PER_BATCH = 1000


class ShiftIn(BaseModel):
    """A clock-in. The phone makes ``client_uuid`` once per shift, possibly offline, and sends it again on
    every retry: the same UUID answers the stored shift, never a second one."""

    client_uuid: UUID = Field(description="Made by the phone once per shift (UUID 4), kept across retries")
    started_at: Instant = Field(description="When the shift started on the phone (may be in the past)")
    device_id: str | None = Field(default=None, max_length=100, description="The phone's device id")


class ShiftEnd(BaseModel):
    ended_at: Instant = Field(description="When the shift ended on the phone")


class PointIn(BaseModel):
    recorded_at: Instant = Field(description="When the phone recorded the position")
    lon: float = Field(ge=-180, le=180, examples=[117.0231])
    lat: float = Field(ge=-90, le=90, examples=[36.6612])
    accuracy_m: float | None = Field(default=None, ge=0, le=100_000, description="GNSS accuracy radius")
    speed_mps: float | None = Field(default=None, ge=0, le=1000, description="Speed the phone measured")
    crs: CRS = Field(default=CRS.WGS84, description="Coordinate system of lon/lat: converted to WGS 84 here")


class PointsIn(BaseModel):
    points: list[PointIn] = Field(
        max_length=MAX_POINTS_PER_BATCH,
        description=f"At most {MAX_POINTS_PER_BATCH} points, in any order; points already stored (same "
        "shift and recorded_at) are skipped, so a batch may be sent again",
    )


class ShiftOut(BaseModel):
    client_uuid: UUID
    user_id: int
    user_name: str
    started_at: datetime
    ended_at: datetime | None
    on_shift: bool = Field(description="Not ended yet")
    points: int = Field(description="Track points stored")
    distance_m: float = Field(
        description="Length of the track in metres, leaving out fixes less accurate than 50 m and jumps "
        "faster than 12 m/s"
    )
    duration_s: float = Field(
        description="From the start to the end (while on shift: to now or the last point)"
    )


class PointsOut(BaseModel):
    received: int = Field(description="Points in the batch")
    stored: int = Field(description="Points new to the server (the others were stored before)")
    shift: ShiftOut


class TrackProperties(ShiftOut):
    times: list[datetime] = Field(description="When each position of the line was recorded")
    skipped: list[int] = Field(description="Positions (0-based) the distance leaves out")


class LineString(BaseModel):
    type: Literal["LineString"] = "LineString"
    coordinates: list[tuple[float, float]] = Field(description="lon, lat in WGS 84, in time order")


class TrackOut(BaseModel):
    """A shift's track as a GeoJSON Feature (RFC 7946); no geometry with fewer than two points."""

    type: Literal["Feature"] = "Feature"
    id: str
    geometry: LineString | None
    properties: TrackProperties


class TodayOut(BaseModel):
    day: date = Field(description="The local date")
    shifts: list[ShiftOut] = Field(description="My shifts started today")
    distance_m: float = Field(description="Their distance together")
    duration_s: float = Field(description="Their time on shift together")


class PositionProperties(BaseModel):
    user_id: int = Field(description="The inspector")
    user_name: str
    client_uuid: UUID = Field(description="The shift")
    recorded_at: datetime = Field(description="When the phone recorded the position")
    accuracy_m: float | None = Field(description="GNSS accuracy radius")


class Point(BaseModel):
    type: Literal["Point"] = "Point"
    coordinates: tuple[float, float] = Field(description="lon, lat in WGS 84")


class PositionFeature(BaseModel):
    type: Literal["Feature"] = "Feature"
    id: int = Field(description="The inspector's user id")
    geometry: Point
    properties: PositionProperties


class PositionsOut(BaseModel):
    """The inspectors' latest positions as a GeoJSON FeatureCollection (RFC 7946)."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[PositionFeature]


class DayTrackProperties(BaseModel):
    client_uuid: UUID = Field(description="The shift")
    user_id: int
    user_name: str
    on_shift: bool = Field(description="Not ended yet")
    points: int = Field(description="Points recorded today on this shift")


class DayTrackFeature(BaseModel):
    type: Literal["Feature"] = "Feature"
    id: str = Field(description="The shift's client_uuid")
    geometry: LineString
    properties: DayTrackProperties


class DayTracksOut(BaseModel):
    """Today's tracks as a GeoJSON FeatureCollection (RFC 7946): one line per shift, its points of today."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[DayTrackFeature]


# -- proactive patrol tasks (主动巡查任务, server/patrol/tasks.py) ------------------------------------

MAX_TASK_REASON = 500


class PatrolTaskIn(BaseModel):
    grid: str = Field(pattern=r"^[0-9]{1,15}$", description="The grid to patrol (a village or unit grid)")
    category: str | None = Field(
        default=None, max_length=20, description="The kind of problem to look for (a category code), if any"
    )
    assignee_id: int = Field(gt=0, description="The inspector sent: assigned to the grid or an area above it")
    reason: str = Field(
        min_length=1, max_length=MAX_TASK_REASON, description="Why, for the inspector to read (Chinese)"
    )
    starts_on: date = Field(description="The first day (local date), today or later")
    ends_on: date = Field(description="The last day (local date, included)")


class PatrolTaskOut(BaseModel):
    id: int
    grid_code: str
    grid_name: str
    category: Ref | None = Field(description="The kind of problem to look for, if named")
    assignee_id: int
    assignee: str = Field(description="The inspector's name")
    assigned_by: str | None = Field(description="Who assigned it; null: the system's rule")
    source: Literal["manual", "forecast", "warning"] = Field(
        description="manual: a person's order; forecast or warning: the system's rule"
    )
    source_label: str
    reason: str
    starts_on: date
    ends_on: date
    state: Literal["open", "done", "cancelled"]
    state_label: str
    covered_minutes: float = Field(description="Minutes of the inspector's track inside the grid on its days")
    needed_minutes: float = Field(description="The minutes that make the task done")
    covered_at: datetime | None = Field(
        description="When the track inside the grid reached the minutes needed"
    )
    created_at: datetime
    found: int = Field(description="Cases the inspector reported on this task (主动发现)")
