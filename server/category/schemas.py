"""Taxonomy shapes on the wire, and the enumerations the taxonomy file uses."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from server.category.pinyin import initials


class Kind(StrEnum):
    """Component (部件): a physical asset; event (事件): a situation."""

    COMPONENT = "component"
    EVENT = "event"


class Urgency(StrEnum):
    URGENT = "urgent"
    IMPORTANT = "important"
    NORMAL = "normal"


URGENCY_LABELS = {"urgent": "紧急", "important": "重要", "normal": "一般"}  # as people read them


class TaxonomyFormat(StrEnum):
    YAML = "yaml"
    CSV = "csv"


class DepartmentRef(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str = Field(examples=["sanitation"])
    name: str = Field(examples=["济南市城市管理局环境卫生管理处"])


class DepartmentOut(DepartmentRef):
    phone: str | None
    grid_code: str | None = Field(description="A street's own team (街道队伍): the street grid it works in")
    active: bool


# An administrator's departments and dispatch centers: codes as a taxonomy file writes them.
DEPARTMENT_CODE = r"^[a-z][a-z0-9_]{1,39}$"
DEPARTMENT_PHONE = r"^\+?[0-9][0-9-]{2,18}$"
GRID_CODE = r"^[0-9]{6,15}$"
TEAM_GRID = "A street team (街道队伍): the street grid it works in; null: a city or district department"


class DepartmentIn(BaseModel):
    code: str = Field(
        pattern=DEPARTMENT_CODE, examples=["team_jiefang"], description="A lower-case letter first"
    )
    name: str = Field(min_length=1, max_length=100, examples=["解放路街道综合执法队"])
    phone: str | None = Field(default=None, pattern=DEPARTMENT_PHONE, examples=["0531-86080000"])
    grid_code: str | None = Field(default=None, pattern=GRID_CODE, description=TEAM_GRID)
    active: bool = True


class DepartmentEdit(BaseModel):
    """Only the fields sent change; ``phone`` or ``grid_code`` sent as null clears it."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    phone: str | None = Field(default=None, pattern=DEPARTMENT_PHONE)
    grid_code: str | None = Field(default=None, pattern=GRID_CODE, description=TEAM_GRID)
    active: bool | None = Field(default=None, description="False: no longer dispatched to")


class DispatchCenterOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    grid_code: str = Field(examples=["370102001"], description="It dispatches the cases of this subtree")
    name: str = Field(examples=["解放路街道分中心"])
    active: bool


class DispatchCenterIn(BaseModel):
    grid_code: str = Field(pattern=GRID_CODE, description="A street's grid for a street sub-center")
    name: str = Field(min_length=1, max_length=100, examples=["解放路街道分中心"])
    active: bool = True


class DispatchCenterEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    active: bool | None = Field(default=None, description="False: it no longer dispatches")


class DistrictDepartmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    district_code: str = Field(examples=["370102"])
    department: DepartmentRef


class CategoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str = Field(
        examples=["E06010"],
        description="C (component) or E (event) first; a child's code starts with its parent's code",
    )
    kind: Kind
    parent_code: str | None = Field(examples=["E06"], description="The category above it; null at the top")
    depth: int = Field(examples=[2], description="Its level in the tree: 1 at the top (major class)")
    leaf: bool = Field(description="Nothing under it: cases are filed under leaves only")
    trail: list[str] = Field(
        examples=[["市容环境"]], description="The names of its ancestors from the top down; [] at the top"
    )
    major_code: str = Field(examples=["E06"], description="Its top ancestor's code (its own at the top)")
    major_name: str = Field(examples=["市容环境"], description="Its top ancestor's name")
    name: str = Field(examples=["暴露垃圾"])
    urgency: Urgency | None = Field(
        description="The default urgency of a case of this category (own or inherited; a leaf has one)"
    )
    handling_limit: str | None = Field(
        examples=["4h"],
        description="Working time: minutes (m), hours (h), days (d); own or inherited (a leaf has one)",
    )
    department: DepartmentRef | None = Field(description="None: the dispatcher picks the department by hand")
    district_overrides: list[DistrictDepartmentOut] = Field(
        description="Districts where another department handles this category"
    )
    legal_basis: str | None
    aliases: list[str] = Field(description="Other words people use for it, for searching (乱停车, 违停)")
    phrases: list[str] = Field(description="Sentences a reporter may start the description with (常用语)")
    clock: Literal["work", "natural"] | None = Field(
        description="The clock its cases' limits run on; null: as the urgency says (natural when urgent)"
    )
    simple_flow: bool = Field(description="An inspector may fix it on the spot and report it (即报即处)")
    request_limits: list[RequestLimitOut] = Field(description="Its own handling limits by request type")
    active: bool
    updated_at: datetime

    @computed_field(description="Pinyin initials of the name and the aliases, for searching (乱停车: ltc)")
    @property
    def initials(self) -> list[str]:
        return list(initials(self.name, *self.aliases))


class RequestTypeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str = Field(examples=["consult"])
    name: str = Field(examples=["咨询"])
    response_limit: str | None = Field(
        description="The lead department acknowledges (签收) within this; null: the server's receipt limit"
    )
    handling_limit: str | None = Field(
        description="Handled within the earlier of this and the category's limit; null: the category's"
    )


class RequestLimitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    request_type: str
    handling_limit: str


class TagOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str = Field(examples=["repeat_complaint"])
    name: str = Field(examples=["重复投诉"])
    description: str | None
    active: bool


class CountsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    created: int
    updated: int
    deactivated: int
    unchanged: int


class LoadOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    written: bool = Field(description="False for a dry run")
    departments: CountsOut
    categories: CountsOut
    tags: CountsOut
    request_types: CountsOut
