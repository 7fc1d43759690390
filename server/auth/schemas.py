"""User shapes on the wire."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Role(StrEnum):
    """The roles of DOMAIN.md section 1; a user may hold several."""

    INSPECTOR = "inspector"
    ACCEPTOR = "acceptor"
    SHIFT_LEAD = "shift_lead"
    DISPATCHER = "dispatcher"
    DEPARTMENT = "department"
    GRID_HEAD = "grid_head"
    LEADER = "leader"
    ADMIN = "admin"


class UserCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100, examples=["张伟"])
    phone: str = Field(pattern=r"^\+?[0-9]{5,20}$", examples=["13800000001"])
    username: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{3,50}$")
    roles: list[Role] = Field(default_factory=list)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    phone: str
    username: str | None
    roles: list[str]
    active: bool
    created_at: datetime
