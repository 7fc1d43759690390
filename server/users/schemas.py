"""The administrator's shapes of users on the wire: an edit, the list with devices, the roles in words."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from server.auth.schemas import Role, UserOut


class UserEdit(BaseModel):
    """What an administrator changes of a user: only the fields sent. ``grid_code`` or ``department_code``
    sent as null clears it; ``active`` false disables the user and ends every session of theirs."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100, examples=["张伟"])
    roles: list[Role] | None = Field(default=None, max_length=len(Role), description="The whole new set")
    grid_code: str | None = Field(
        default=None,
        pattern=r"^[0-9]{6,15}$",
        description="The grid whose subtree a command-center user works on (null: the whole city)",
    )
    department_code: str | None = Field(
        default=None, min_length=1, max_length=40, description="The department of a department user"
    )
    active: bool | None = Field(default=None, description="False: the user can no longer log in")


class UserListed(UserOut):
    devices: int = Field(description="The user's live sessions (devices logged in)")


class RoleOut(BaseModel):
    role: Role
    name: str = Field(description="The role in words", examples=["网格员"])


class RevokedOut(BaseModel):
    revoked_sessions: int = Field(description="How many of the user's sessions were ended")
