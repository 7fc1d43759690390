"""What the web app is told before it draws its map."""

from __future__ import annotations

from pydantic import BaseModel, Field

from server.basemaps.schemas import BasemapOut


class LevelOut(BaseModel):
    name: str = Field(examples=["district"])
    label: str = Field(examples=["区县"])


class WebConfig(BaseModel):
    basemaps: list[BasemapOut] = Field(
        description="The base layers, in the configuration's order (the first base layer is shown at start); "
        "none: the grids on a plain background"
    )
    levels: list[LevelOut] = Field(description="The grid levels, from the root down")
    bounds: list[float] | None = Field(
        description="The start view: west, south, east, north of the root grids (none before an import)",
        examples=[[116.2, 36.0, 117.7, 37.5]],
    )
