"""What the browser is told of the base layers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class BasemapOut(BaseModel):
    """A layer as MapLibre draws it: raster tiles from a URL template, or a MapLibre style to merge in."""

    id: str = Field(examples=["tdt-vec"])
    name: str = Field(description="Its name in the layer switcher", examples=["天地图矢量"])
    group: Literal["base", "overlay"] = Field(
        description="base: one shown at a time (the first at start); overlay: annotation drawn over it"
    )
    kind: Literal["raster", "style"] = Field(
        description="raster: the tiles of ``tiles``; style: the MapLibre style at ``style``"
    )
    tiles: list[str] | None = Field(
        default=None,
        description="Raster tile URL templates with {z}/{x}/{y} (GridOps' own tile route for a package, a "
        "path on this server)",
        examples=[["/basemaps/imagery/{z}/{x}/{y}"]],
    )
    style: str | None = Field(
        default=None,
        description="The style's URL (GridOps' own for a vector package, a path on this server)",
        examples=["/basemaps/streets/style.json"],
    )
    tile_size: int = Field(default=256, examples=[256])
    minzoom: int | None = None
    maxzoom: int | None = None
    bounds: list[float] | None = Field(
        default=None,
        description="west, south, east, north of a package's tiles",
        examples=[[117.0, 36.6, 117.1, 36.7]],
    )
    attribution: str | None = Field(default=None, examples=["天地图"])
