"""Triage shapes on the wire: what the desk, the public form, the phone app and the dispatcher are told."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from gis.crs import CRS
from server.case.schemas import DESCRIPTION_MAX, Channel, Ref

SUGGEST_MAX = 10


class SuggestIn(BaseModel):
    """A report as it is being written: its words, and where and how it comes in when known."""

    text: str = Field(min_length=1, max_length=DESCRIPTION_MAX, description="The description as typed so far")
    lon: float | None = Field(default=None, ge=-180, le=180, description="The place, when chosen")
    lat: float | None = Field(default=None, ge=-90, le=90)
    crs: CRS = Field(default=CRS.WGS84, description="Coordinate system of lon/lat")
    channel: Channel | None = Field(default=None, description="How the report comes in")
    k: int = Field(default=5, ge=1, le=SUGGEST_MAX, description="How many categories to suggest")


class PublicSuggestIn(BaseModel):
    text: str = Field(min_length=1, max_length=DESCRIPTION_MAX, description="The description as typed so far")
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)


class DepartmentRef(BaseModel):
    code: str
    name: str


class CategorySuggestion(BaseModel):
    code: str
    name: str
    trail: list[str] = Field(description="The names of the classes above it, from the top")
    score: float = Field(description="The model's probability for it, 0 to 1")
    urgency: str
    urgency_label: str
    department: DepartmentRef | None = Field(
        description="The department its cases go to here (the district's own first); none: the dispatcher "
        "chooses"
    )
    words: list[str] = Field(description="The words of the text that weighed most for it")


class DepartmentSuggestion(BaseModel):
    code: str
    name: str
    score: float = Field(description="How likely this department finally handles it, 0 to 1")


class UrgencySuggestion(BaseModel):
    code: str
    label: str


class DuplicateSuggestion(BaseModel):
    code: str
    state: str
    state_label: str
    category_name: str
    distance_m: float | None
    similarity: float = Field(description="How alike the two descriptions are, 0 to 1")
    received_at: datetime
    description: str = Field(description="The earlier case's description, shortened")


class AnswerSuggestion(BaseModel):
    id: int
    title: str
    category_code: str | None
    use_count: int


class SuggestOut(BaseModel):
    model_version: int | None = Field(
        description="The model's version; none: the city has no trained model yet (the taxonomy's words only)"
    )
    categories: list[CategorySuggestion]
    urgency: UrgencySuggestion | None
    departments: list[DepartmentSuggestion] = Field(description="The departments likeliest to handle it")
    duplicates: list[DuplicateSuggestion] = Field(description="Recent cases nearby that say much the same")
    answers: list[AnswerSuggestion] = Field(description="The knowledge base's answers that may fit")


class PublicCategory(BaseModel):
    code: str
    label: str = Field(description="The public form's name for it")
    name: str
    score: float


class PublicSuggestOut(BaseModel):
    categories: list[PublicCategory]


class ModelOut(BaseModel):
    version: int
    trained_at: datetime
    trained_by: str
    cases: int
    categories: int
    features: int
    active: bool
    metrics: dict
    note: str | None


class TrainIn(BaseModel):
    note: str | None = Field(default=None, max_length=200, description="Why it was trained")


class SuggestedDepartment(Ref):
    configured: bool = Field(
        description="The taxonomy's department for the category here (district override)"
    )
    share: float | None = Field(
        description="The share of this category's closed cases in the district it finally handled (the "
        "triage model; null before any training)"
    )


class DepartmentRecord(Ref):
    dispatched: int = Field(description="Cases of the category in the district dispatched to it as lead")
    returned: int = Field(description="Of those, how often it returned one (回退)")
    return_rate: float = Field(description="returned / dispatched")
    warn: bool = Field(description="It returns such cases often: at least 3 returns and the warning rate")


class DispatchAdvice(BaseModel):
    """What helps the dispatcher pick the lead department for a case: its category in its district."""

    days: int = Field(description="The records cover the last this many days (dispatch_advice_days)")
    suggested: list[SuggestedDepartment] = Field(
        description="The configured department first, then the others that handled such cases, by share"
    )
    records: list[DepartmentRecord] = Field(
        description="Each department sent such cases in the period, most returns first"
    )
