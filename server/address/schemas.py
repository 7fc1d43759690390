"""What the address routes answer."""

from __future__ import annotations

from pydantic import BaseModel, Field


class GridRef(BaseModel):
    code: str = Field(examples=["370102003004"])
    name: str = Field(examples=["山大路社区"])
    level: str = Field(examples=["village"])


class AddressOut(BaseModel):
    id: int
    register_id: str = Field(description="The register's own id", examples=["LX-000123"])
    label: str = Field(description="How a person names it: a place by its name, else its address")
    name: str | None = Field(description="A building's or a place's name", examples=["恒隆广场"])
    text: str = Field(description="The full address", examples=["济南市历下区泉城路188号"])
    kind: str = Field(description="house (门牌), building (楼栋) or poi (兴趣点)", examples=["poi"])
    kind_label: str = Field(examples=["兴趣点"])
    lon: float
    lat: float
    approximate: bool = Field(description="The position is approximate (not surveyed)")
    grid_code: str | None = Field(description="The deepest grid holding it; none outside every grid")
    grids: list[GridRef] = Field(description="The grids holding it, from the root down")
    distance_m: float | None = Field(default=None, description="From the point asked about (nearest only)")


class AddressSyncItem(BaseModel):
    id: int
    label: str
    text: str
    kind: str
    aliases: list[str]
    lon: float
    lat: float
    grid_code: str | None


class SyncAddresses(BaseModel):
    cursor: int = Field(description="Give it as since next time")
    more: bool = Field(description="More changes wait: ask again with the cursor")
    items: list[AddressSyncItem]


class OutsideAddress(BaseModel):
    register_id: str
    text: str = Field(description="The full address")


class AddressImportOut(BaseModel):
    written: bool = Field(description="False on a dry run (only checked)")
    checked: int = Field(description="Addresses in the file")
    added: int
    changed: int
    unchanged: int
    outside_count: int = Field(description="Addresses outside every grid (linked to none)")
    outside: list[OutsideAddress] = Field(description="The first of them (at most 1,000)")
    ignored_columns: list[str] = Field(description="Columns (or properties) of the file nobody reads")
    cases_linked: int = Field(
        default=0, description="Cases received with no register address near them that are near one now"
    )
