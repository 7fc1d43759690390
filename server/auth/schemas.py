"""User and login shapes on the wire."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from server.auth.passwords import MAX_LENGTH, MIN_LENGTH

PASSWORD_HELP = f"At least {MIN_LENGTH} characters."


class Role(StrEnum):
    """The roles of docs/DOMAIN.md section 1; a user may hold several."""

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
    # Starts with a letter, so that a login is never both a phone and a username.
    username: str | None = Field(default=None, pattern=r"^[A-Za-z][A-Za-z0-9_.-]{2,49}$")
    roles: list[Role] = Field(default_factory=list)
    department_code: str | None = Field(
        default=None, min_length=1, max_length=20, description="The department a department user works for"
    )
    grid_code: str | None = Field(
        default=None,
        pattern=r"^[0-9]{6,15}$",
        description="The grid whose subtree a command-center user works on (none: the whole city)",
    )
    password: str | None = Field(
        default=None, description=f"{PASSWORD_HELP} Without one the user cannot log in."
    )


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    phone: str
    username: str | None
    roles: list[str]
    department_code: str | None
    grid_code: str | None
    active: bool
    has_password: bool
    created_at: datetime


class LoginIn(BaseModel):
    login: str = Field(
        min_length=1, max_length=100, description="Phone or username", examples=["13800000010"]
    )
    password: str = Field(min_length=1, max_length=MAX_LENGTH)
    device_id: str = Field(
        min_length=1,
        max_length=100,
        description="Made by the client once and kept (for example a UUID): one session per device",
        examples=["5f0c7d1e-8a44-4c5e-9d2b-3f1a6e0b9c21"],
    )
    device_name: str = Field(default="", max_length=100, examples=["Redmi Note 12"])


class RefreshIn(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=200)


class SessionOut(BaseModel):
    """A device session (login) as its owner or an administrator sees it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    device_id: str
    device_name: str
    created_at: datetime
    last_seen_at: datetime
    last_ip: str | None
    expires_at: datetime
    revoked_at: datetime | None
    current: bool = Field(default=False, description="The session of the token making this request")


class TokenOut(BaseModel):
    access_token: str = Field(description="Send as 'Authorization: Bearer <access_token>'")
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds the access token lasts: refresh it before then")
    refresh_token: str = Field(
        description="Keep it on the device: it renews the login (POST /api/auth/refresh)"
    )
    refresh_expires_at: datetime = Field(
        description="Unless refreshed before then, the device must log in again"
    )
    user: UserOut


class MeOut(BaseModel):
    user: UserOut | None = Field(description="None for the admin token from the settings")
    name: str
    roles: list[str]
    session: SessionOut | None


class PasswordChange(BaseModel):
    old_password: str = Field(min_length=1, max_length=MAX_LENGTH)
    new_password: str = Field(description=PASSWORD_HELP)


class PasswordSet(BaseModel):
    password: str = Field(description=PASSWORD_HELP)


class PasswordChanged(BaseModel):
    revoked_sessions: int = Field(description="How many of the user's other sessions were ended")
