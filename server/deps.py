"""Typed dependency aliases shared by every router."""

from typing import Annotated

from fastapi import Depends, Query
from sqlalchemy.orm import Session

from server.database import get_db
from server.errors import Invalid

DB = Annotated[Session, Depends(get_db)]
GEOJSON = "application/geo+json"


def bounding_box(
    bbox: Annotated[
        str, Query(description="west,south,east,north in WGS 84", examples=["117.0,36.6,117.1,36.7"])
    ],
) -> tuple[float, float, float, float]:
    """The ``bbox`` query parameter as four numbers (422 otherwise)."""
    try:
        west, south, east, north = (float(v) for v in bbox.split(","))
    except ValueError:
        raise Invalid(f"bbox must be four numbers: west,south,east,north (got {bbox!r})") from None
    return west, south, east, north


BBox = Annotated[tuple[float, float, float, float], Depends(bounding_box)]
