"""City shapes on the wire."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CityIn(BaseModel):
    code: str = Field(min_length=6, max_length=6, description="The city's division code, such as 370100")
    name: str = Field(min_length=1, max_length=40, description="The city's name, such as 济南市")


class CityOut(BaseModel):
    code: str
    name: str
    current: bool = Field(description="Whether the request works in this city")


class CityFiguresOut(CityOut):
    open: int = Field(description="Cases not yet closed, voided or merged")
    overdue: int = Field(description="Open cases past their step's deadline")
    received_today: int
    closed_today: int
