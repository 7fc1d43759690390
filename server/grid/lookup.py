"""Point lookup in a grid layer: the deepest current grid of the layer's hierarchy holding a point, and the
chain of grids above it, through the layer's lookup index (``grid_part``, which
``server.grid.importer.refresh_parts`` keeps)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, defer

from gis.crs import CRS, check_lonlat, to_wgs84, to_wgs84_arrays
from server.errors import Invalid
from server.grid.layers import DEFAULT_LAYER_SQL, get_layer
from server.grid.models import CURRENT, Grid, GridPart

LOOKUP_CELL_DEG = 0.002  # the lookup index's cells: about 180 m x 220 m in Jinan


def deepest_code_sql(lon: str, lat: str, layer: str = DEFAULT_LAYER_SQL) -> str:
    """A SELECT of the code of the deepest current grid of a layer covering the point (``lon``, ``lat``:
    SQL expressions in WGS 84 degrees; ``layer``: an SQL expression of the layer's code, default the
    default layer); on a shared boundary, the lowest code. Every point lookup uses this one rule."""
    cell = LOOKUP_CELL_DEG
    return f"""
        SELECT p.code FROM grid_part p
        WHERE (p.layer = {layer} OR p.layer IS NULL)
          AND p.cell_i = floor({lon} / {cell})::int AND p.cell_j = floor({lat} / {cell})::int
          AND ST_Covers(p.geom, ST_Point({lon}, {lat}, 4326))
        ORDER BY p.depth DESC, p.code LIMIT 1
    """


def locate(
    *, db: Session, lon: float, lat: float, crs: CRS = CRS.WGS84, layer: str | None = None
) -> tuple[float, float, list[Grid]]:
    """The point in WGS 84, and the chain of current grids of ``layer`` (default: the default layer) from
    the root down to the deepest one holding it, found in one query (empty when the point lies outside
    every grid). A layer named is checked first (a second query)."""
    try:
        check_lonlat(lon, lat)
    except ValueError:
        raise Invalid("grid.point_out_of_range") from None
    x, y = to_wgs84(lon, lat, crs)
    sql, params = deepest_code_sql(":lon", ":lat"), {"lon": x, "lat": y}
    if layer is not None:
        sql, params["layer"] = deepest_code_sql(":lon", ":lat", ":layer"), get_layer(db=db, code=layer).code
    deepest = text(sql).bindparams(**params).columns(GridPart.code)
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
    *, db: Session, points: Sequence[tuple[float, float]], crs: CRS = CRS.WGS84, layer: str | None = None
) -> list[str | None]:
    """The deepest grid code of ``layer`` (default: the default layer) for each point (None outside every
    grid), in one SQL query (and one more to check a layer named)."""
    if not points:
        return []
    code = get_layer(db=db, code=layer).code if layer is not None else None
    deepest = deepest_code_sql("t.lon", "t.lat", ":layer" if code else DEFAULT_LAYER_SQL)
    lons, lats = np.asarray(points, dtype=float).T
    bad = ~(np.isfinite(lons) & np.isfinite(lats) & (np.abs(lons) <= 180) & (np.abs(lats) <= 90))
    if bad.any():
        raise Invalid("grid.batch_point_out_of_range", n=int(bad.argmax()) + 1)
    lons, lats = to_wgs84_arrays(lons, lats, crs)
    rows = db.execute(
        text(
            f"""
            SELECT t.i, ({deepest}) AS code
            FROM unnest(CAST(:lons AS float8[]), CAST(:lats AS float8[])) WITH ORDINALITY AS t(lon, lat, i)
            ORDER BY t.i
            """
        ),
        {"lons": _array(lons), "lats": _array(lats), **({"layer": code} if code else {})},
    ).all()
    return [row.code for row in rows]
