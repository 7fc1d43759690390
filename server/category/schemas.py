"""Taxonomy shapes on the wire, and the enumerations the taxonomy file uses."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

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
    active: bool


class DistrictDepartmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    district_code: str = Field(examples=["370102"])
    department: DepartmentRef


class CategoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str = Field(examples=["E06010"], description="C (component) or E (event), major class, subclass")
    kind: Kind
    major_code: str = Field(examples=["06"])
    major_name: str = Field(examples=["市容环境"])
    name: str = Field(examples=["暴露垃圾"])
    urgency: Urgency = Field(description="The default urgency of a case of this category")
    handling_limit: str = Field(examples=["4h"], description="Working time: minutes (m), hours (h), days (d)")
    department: DepartmentRef | None = Field(description="None: the dispatcher picks the department by hand")
    district_overrides: list[DistrictDepartmentOut] = Field(
        description="Districts where another department handles this category"
    )
    legal_basis: str | None
    aliases: list[str] = Field(description="Other words people use for it, for searching (乱停车, 违停)")
    phrases: list[str] = Field(description="Sentences a reporter may start the description with (常用语)")
    active: bool
    updated_at: datetime

    @computed_field(description="Pinyin initials of the name and the aliases, for searching (乱停车: ltc)")
    @property
    def initials(self) -> list[str]:
        return list(initials(self.name, *self.aliases))


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
