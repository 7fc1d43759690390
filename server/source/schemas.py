"""What the pollution-source routes answer."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class SourceOut(BaseModel):
    code: str = Field(description="The register's own id", examples=["LX-WR-0001"])
    name: str = Field(examples=["某某食品有限公司"])
    kind: str = Field(description="air, water, dust, fume, noise or solid", examples=["fume"])
    kind_label: str = Field(examples=["餐饮油烟"])
    address: str = Field(examples=["济南市历下区文化西路10号"])
    lon: float
    lat: float
    responsible: str = Field(description="The name of the grid member responsible for it")
    notes: str | None
    active: bool
    updated_at: datetime


class SourceList(BaseModel):
    total: int
    items: list[SourceOut]


class NearCase(BaseModel):
    code: str
    state: str
    state_label: str
    open: bool = Field(description="Not closed, voided or merged")
    category: str = Field(description="The category's name")
    received_at: datetime
    distance_m: float


class SourceDetail(SourceOut):
    near_radius_m: float = Field(description="What near means here, in metres")
    near_days: int = Field(description="The cases received in these last days are listed")
    nearby_cases: list[NearCase] = Field(description="Cases you may see near it: open first, then the newest")


class SourceImportOut(BaseModel):
    written: bool = Field(description="False on a dry run (only checked)")
    checked: int = Field(description="Sources in the file")
    added: int
    changed: int
    unchanged: int
    ignored_columns: list[str] = Field(description="Columns (or properties) of the file nobody reads")
