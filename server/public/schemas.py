"""The public pages' shapes on the wire: nothing here names staff or the reporter."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

# The longest comment a rating may carry.
COMMENT_MAX = 500


class CategoryOut(BaseModel):
    label: str
    code: str = Field(description="The taxonomy code it is filed under")


class LimitsOut(BaseModel):
    """What the public forms' free text may hold: the forms show it, the server refuses more."""

    description_max_length: int = Field(description="A report's description, in characters")
    comment_max_length: int = Field(description="A rating's comment, in characters")
    max_photos: int = Field(description="Photos a report may carry")


class ReportOut(BaseModel):
    code: str = Field(description="The case code: track it at /track/{code}")
    reporter_token: str = Field(
        description="Proves the reporter when rating the closed case: kept by the browser, shown once"
    )
    track_url: str


class StageOut(BaseModel):
    label: str
    done: bool
    current: bool


class PublicEvent(BaseModel):
    at: datetime
    label: str = Field(description="What happened, e.g. 立案")
    state_label: str
    note: str | None = Field(description="The note the staff marked public, if any")


class PublicPhoto(BaseModel):
    role: str = Field(description="before or after")
    url: str


class CaseLink(BaseModel):
    code: str
    track_url: str


class PublicCase(BaseModel):
    code: str
    category: str
    description: str
    state_label: str
    stages: list[StageOut]
    received_at: datetime
    deadline: datetime | None = Field(description="When the current step is due (none once closed)")
    closed_at: datetime | None
    merged_into: CaseLink | None = Field(
        description="A merged case: the case it joined, whose progress is the one to follow (it has no "
        "stages of its own)"
    )
    timeline: list[PublicEvent]
    before: list[PublicPhoto]
    after: list[PublicPhoto]
    rated: bool


class RatingIn(BaseModel):
    reporter_token: str = Field(min_length=10, max_length=100)
    speed: int = Field(ge=1, le=5, description="处置速度")
    result: int = Field(ge=1, le=5, description="处置结果")
    attitude: int = Field(ge=1, le=5, description="服务态度")
    system: int = Field(ge=1, le=5, description="平台使用")
    comment: str = Field(default="", max_length=COMMENT_MAX)


class RatingOut(BaseModel):
    speed: int
    result: int
    attitude: int
    system: int
    comment: str
    rated_at: datetime


class SpamIn(BaseModel):
    version: int = Field(ge=1, description="The case version you saw")
    reason: str = Field(min_length=1, max_length=500, description="Why it is spam")


class PublicReportIn(BaseModel):
    """A citizen's report, sent as form fields beside the photos. ``client_uuid`` is made by the page once
    per report and sent again on a retry: the retry answers with the same case."""

    client_uuid: UUID = Field(description="Made by the page once per report, kept across retries")
    category: str = Field(description="A taxonomy code from GET /api/public/categories", examples=["E06010"])
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    crs: Literal["wgs84", "gcj02"] = Field(
        default="wgs84",
        description="wgs84 (phone location, map tap) or gcj02 (pasted from a Chinese map app)",
    )
    description: str = Field(
        default="", description="At most as many characters as GET /api/public/limits says (a setting)"
    )
    request_type: str | None = Field(
        default=None,
        max_length=12,
        pattern=r"^[a-z_]+$",
        description="What the citizen asks: a code from GET /api/request-types (default complaint 投诉)",
    )
    address: str | None = Field(
        default=None,
        max_length=200,
        description="The address in words: as typed, or chosen from GET /api/addresses/search",
    )
    phone: str | None = Field(
        default=None,
        max_length=21,
        description="5 to 20 digits, an optional + first; for call-backs only: never shown publicly",
    )
