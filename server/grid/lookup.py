"""Point lookup: the deepest current grid holding a point, and the chain of grids above it, through the
lookup index (``grid_part``, which ``server.grid.importer.refresh_parts`` keeps)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, defer

from gis.crs import CRS, check_lonlat, to_wgs84, to_wgs84_arrays
from server.errors import Invalid
from server.grid.models import CURRENT, Grid, GridPart

LOOKUP_CELL_DEG = 0.002  # the lookup index's cells: about 180 m x 220 m in Jinan


def deepest_code_sql(lon: str, lat: str) -> str:
    """A SELECT of the code of the deepest current grid covering the point (``lon``, ``lat``: SQL expressions
    in WGS 84 degrees); on a shared boundary, the lowest code. Every point lookup uses this one rule."""
    cell = LOOKUP_CELL_DEG
    return f"""
        SELECT p.code FROM grid_part p
        WHERE p.cell_i = floor({lon} / {cell})::int AND p.cell_j = floor({lat} / {cell})::int
          AND ST_Covers(p.geom, ST_Point({lon}, {lat}, 4326))
        ORDER BY p.depth DESC, p.code LIMIT 1
    """


def locate(*, db: Session, lon: float, lat: float, crs: CRS = CRS.WGS84) -> tuple[float, float, list[Grid]]:
    """The point in WGS 84, and the chain of current grids from the root down to the deepest one
    holding it, found in one query (empty when the point lies outside every grid)."""
    try:
        check_lonlat(lon, lat)
    except ValueError:
        raise Invalid("grid.point_out_of_range") from None
    x, y = to_wgs84(lon, lat, crs)
    deepest = text(deepest_code_sql(":lon", ":lat")).bindparams(lon=x, lat=y).columns(GridPart.code)
    deepest = deepest.scalar_subquery()
    leaf_path = select(Grid.path).where(CURRENT, Grid.code == deepest).scalar_subquery()
    query = (
        select(Grid)
        .options(defer(Grid.geom))
        .where(CURRENT, Grid.path.op("@>")(leaf_path))
        .order_by(func.nlevel(Grid.path))
    )
    return x, y, list(db.scalars(query))


def _array(values) -> str:
    """A float8[] literal: parsed by array_in, far cheaper than an ARRAY[...] of 10,000 expressions."""
    return "{" + ",".join(map(repr, map(float, values))) + "}"


def locate_batch(
    *, db: Session, points: Sequence[tuple[float, float]], crs: CRS = CRS.WGS84
) -> list[str | None]:
    """The deepest grid code for each point (None outside every grid), in one SQL query."""
    if not points:
        return []
    lons, lats = np.asarray(points, dtype=float).T
    bad = ~(np.isfinite(lons) & np.isfinite(lats) & (np.abs(lons) <= 180) & (np.abs(lats) <= 90))
    if bad.any():
        raise Invalid("grid.batch_point_out_of_range", n=int(bad.argmax()) + 1)
    lons, lats = to_wgs84_arrays(lons, lats, crs)
    rows = db.execute(
        text(
            f"""
            SELECT t.i, ({deepest_code_sql("t.lon", "t.lat")}) AS code
            FROM unnest(CAST(:lons AS float8[]), CAST(:lats AS float8[])) WITH ORDINALITY AS t(lon, lat, i)
            ORDER BY t.i
            """
        ),
        {"lons": _array(lons), "lats": _array(lats)},
    ).all()
    return [row.code for row in rows]
