"""Case shapes on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, Field

from gis.crs import CRS

Urgency = Literal["urgent", "important", "normal"]
Channel = Literal["inspector", "citizen", "hotline", "system", "open311"]


class ReportIn(BaseModel):
    """A report from any channel. ``client_uuid`` is made by the client once per report and sent again on
    every retry: the same UUID with the same content returns the same case, never a second one."""

    client_uuid: UUID = Field(description="Made by the client once per report (UUID 4), kept across retries")
    category: str = Field(description="Category code, e.g. E06010 (exposed garbage)", examples=["E06010"])
    lon: float = Field(ge=-180, le=180, examples=[117.0231])
    lat: float = Field(ge=-90, le=90, examples=[36.6753])
    crs: CRS = Field(default=CRS.WGS84, description="Coordinate system of lon/lat: converted to WGS 84 here")
    accuracy_m: float | None = Field(default=None, ge=0, le=100_000, description="GNSS accuracy radius")
    description: str = Field(default="", max_length=2000)
    urgency: Urgency | None = Field(default=None, description="Default: the category's")
    address: str | None = Field(default=None, max_length=200)
    device_time: AwareDatetime | None = Field(default=None, description="When the device made the report")
    channel: Channel | None = Field(
        default=None,
        description="inspector for an inspector's own report; hotline, citizen or system for "
        "reports registered by an acceptor",
    )
    reporter_name: str | None = Field(default=None, max_length=100, description="A citizen caller's name")
    reporter_phone: str | None = Field(default=None, pattern=r"^\+?[0-9]{5,20}$")


class ActionIn(BaseModel):
    """An action on a case. ``version`` is the case version the user saw: a stale one is refused (409).
    The other fields are read by the actions that need them."""

    version: int = Field(ge=1)
    note: str | None = Field(default=None, max_length=2000)
    public_note: str | None = Field(
        default=None,
        max_length=500,
        description="A note the citizens' tracking page shows (the note does not)",
    )
    lon: float | None = Field(default=None, ge=-180, le=180, description="Where the action was taken")
    lat: float | None = Field(default=None, ge=-90, le=90)
    crs: CRS = CRS.WGS84
    photo_ids: list[int] = Field(
        default_factory=list,
        description="Photos this action reports (default: "
        "those of the action's kind uploaded during the step)",
    )
    result: Literal["confirmed", "not_found", "pass", "rework"] | None = Field(
        default=None, description="reply_verification: confirmed | not_found; reply_check: pass | rework"
    )
    reason: str | None = Field(default=None, max_length=1000, description="void, return, suspend, extensions")
    lead_department: str | None = Field(default=None, description="dispatch: default the category's")
    parallel_departments: list[str] = Field(default_factory=list, description="dispatch: 并联 departments")
    inspector_id: int | None = Field(default=None, description="request_verification / request_check")
    extension: str | None = Field(default=None, description="request_extension: working time, e.g. 2d, 4h")
    close_kind: Literal["normal", "overdue", "erroneous", "special"] | None = None
    master: str | None = Field(default=None, description="merge: the master case's code")
    tag: str | None = Field(default=None, description="tag / untag: the tag's code")
    urgency: Urgency | None = Field(default=None, description="file: change the urgency")
    contacted: bool | None = Field(default=None, description="callback: the caller was reached")
    solved: bool | None = Field(default=None, description="callback: the caller says the problem is solved")
    satisfaction: Literal["satisfied", "basically_satisfied", "not_satisfied"] | None = Field(
        default=None, description="callback: 满意 / 基本满意 / 不满意"
    )


class Ref(BaseModel):
    code: str
    name: str


class PhotoOut(BaseModel):
    id: int
    role: str
    mime: str
    width: int
    height: int
    size: int
    uploaded_at: datetime
    exif_lon: float | None
    exif_lat: float | None
    exif_taken_at: datetime | None
    distance_m: float | None
    far_from_report: bool
    url: str
    public_url: str
    thumbnail_url: str


class EventOut(BaseModel):
    id: int
    at: datetime
    actor: str
    role: str | None
    action: str
    state_before: str | None
    state_after: str
    note: str | None
    lon: float | None
    lat: float | None
    photo_ids: list[int]
    due_at: datetime | None
    data: dict


class DispatchOut(BaseModel):
    department: Ref
    lead: bool
    dispatched_at: datetime
    ended_at: datetime | None


class CaseOut(BaseModel):
    code: str
    client_uuid: UUID = Field(
        description="The reporting client's UUID: a client counts a report delivered "
        "only when an answer carries its case code with this UUID"
    )
    version: int
    state: str
    state_label: str
    channel: str
    category: Ref
    urgency: str
    description: str
    address: str | None
    lon: float
    lat: float
    accuracy_m: float | None
    grid_code: str
    district_code: str
    department: Ref | None
    reporter_name: str | None
    received_at: datetime
    device_time: datetime | None
    due_at: datetime | None = Field(description="The current step's due time (working time)")
    light: Literal["green", "yellow", "red"] | None
    remaining_minutes: float | None
    handle_due_at: datetime | None
    supervised: bool
    tags: list[str]
    duplicate_of: str | None
    merged_into: str | None
    task_assignee: str | None
    extension_request: dict | None
    rework_count: int
    handled_at: datetime | None
    closed_at: datetime | None
    close_kind: str | None


class CaseDetail(CaseOut):
    timeline: list[EventOut]
    photos: list[PhotoOut]
    dispatches: list[DispatchOut]
    actions: dict[str, str | None] = Field(
        description="Every action: null when you may take it now, else why not"
    )


class CaseList(BaseModel):
    total: int
    items: list[CaseOut]


class StateOut(BaseModel):
    name: str
    label: str
    terminal: bool


class ActionOut(BaseModel):
    name: str
    label: str
    sources: list[str] = Field(description="The states it may start from")
    roles: list[str] = Field(description="The roles that may take it")


class WorkflowOut(BaseModel):
    states: list[StateOut]
    actions: list[ActionOut]


class QueueOut(BaseModel):
    name: str = Field(description="List it with GET /api/cases?queue=<name>")
    label: str
    count: int = Field(description="Cases in the queue that you may see")
    overdue: int = Field(description="Of them, past their step's deadline")


class DuplicateOut(CaseOut):
    distance_m: float = Field(description="From the case asked about")


class SweepOut(BaseModel):
    flagged: list[str]


class TaskOut(CaseOut):
    kind: Literal["verification", "check"] | None = Field(description="What the inspector is asked to do")
    active: bool = Field(description="Still waiting for my reply (false: done, or taken from me)")
    photos: list[PhotoOut]


class SyncCases(BaseModel):
    cursor: int = Field(description="Send it back as since= to get what changed after this answer")
    more: bool = Field(description="More changes wait: ask again with the new cursor")
    items: list[TaskOut]


class SyncGrids(BaseModel):
    cursor: datetime | None = Field(description="Send it back as since= next time")
    codes: list[str] = Field(description="Every current grid of mine: drop cached grids not listed")
    features: list[dict] = Field(description="GeoJSON features of the grids changed since the cursor")
