"""What the web app needs from the grid store."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.grid.models import CURRENT, Grid


def start_bounds(*, db: Session) -> list[float] | None:
    """West, south, east, north of the current root grids, or None when there are none."""
    extent = func.ST_Extent(Grid.geom)
    row = db.execute(
        select(func.ST_XMin(extent), func.ST_YMin(extent), func.ST_XMax(extent), func.ST_YMax(extent)).where(
            CURRENT, Grid.parent_code.is_(None)
        )
    ).one()
    return None if row[0] is None else [float(v) for v in row]
