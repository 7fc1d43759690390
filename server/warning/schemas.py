"""What the warning routes take and answer."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field


class WarningEventOut(BaseModel):
    at: datetime
    actor_name: str
    action: str = Field(description="raise, resignal, seen, letter, acknowledge or close")
    state_before: str | None
    state_after: str
    note: str | None


class WarningOut(BaseModel):
    id: int
    kind: Literal["surge", "persistent"]
    kind_name: str = Field(description="突增高频 or 长期高频")
    level: str
    area_code: str
    area_path: str
    area_name: str
    category_code: str
    category_name: str
    period_start: date
    period_end: date
    observed: int
    expected: float
    p_value: float
    message: str
    state: Literal["raised", "seen", "letter", "acknowledged", "closed"]
    state_name: str
    raised_at: datetime
    signalled_at: datetime
    resignalled: int = Field(description="Signals received after the first while it stayed open")
    seen_at: datetime | None
    addressee_kind: Literal["street", "department"] | None
    addressee_name: str | None
    letter_number: str | None
    letter_sent_at: datetime | None
    letter_due_on: date | None
    acknowledged_at: datetime | None
    reply: str | None
    closed_at: datetime | None
    close_reason: str | None
    can_acknowledge: bool = Field(description="Whether you are the letter's addressee and it waits for you")
    trail: list[WarningEventOut] | None = Field(default=None, description="Given for one warning only")


class WarningList(BaseModel):
    items: list[WarningOut]


class WarningLetterIn(BaseModel):
    addressee: Literal["street", "department"] | None = Field(
        default=None,
        description="Whom the letter goes to; by default the category's responsible department, else the "
        "street",
    )


class WarningReplyIn(BaseModel):
    reply: str = Field(max_length=2000, description="What the addressee checked and did")


class WarningCloseIn(BaseModel):
    reason: str = Field(max_length=500, description="Why the warning is closed")
