"""What the web app is told before it draws its map."""

from __future__ import annotations

from pydantic import BaseModel, Field


class LevelOut(BaseModel):
    name: str = Field(examples=["district"])
    label: str = Field(examples=["区县"])


class WebConfig(BaseModel):
    basemap_url: str | None = Field(
        description="The city's own base map: a raster tile URL with {z}/{x}/{y}, or a MapLibre style URL; "
        "none for a plain background",
        examples=["https://tiles.example.gov.cn/{z}/{x}/{y}.png"],
    )
    levels: list[LevelOut] = Field(description="The grid levels, from the root down")
    bounds: list[float] | None = Field(
        description="The start view: west, south, east, north of the root grids (none before an import)",
        examples=[[116.2, 36.0, 117.7, 37.5]],
    )
