"""The grid store read: grids by code, children, subtrees, history, boxes, names, GeoJSON and export.

Writing it is ``server.grid.importer``, point lookup ``server.grid.lookup``, its people
``server.grid.people``."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from server.errors import Invalid, NotFound
from server.grid.layers import get_layer, of_layer
from server.grid.models import CURRENT, Grid, GridLayer
from server.grid.subtree import within


def get_grid(*, db: Session, code: str) -> Grid:
    grid = db.scalar(select(Grid).where(CURRENT, Grid.code == code))
    if grid is None:
        raise NotFound("grid.not_found", grid=code)
    return grid


def list_grids(*, db: Session, parent: str | None = None, layer: str | None = None) -> list[Grid]:
    """The roots, or the current children of ``parent`` (of every layer, or those of ``layer``'s
    hierarchy: shared or its own), by code."""
    query = select(Grid).options(defer(Grid.geom)).where(CURRENT).order_by(Grid.code)
    if layer is not None:
        query = query.where(of_layer(layer))
    if parent is None:
        query = query.where(Grid.parent_code.is_(None))
    else:
        get_grid(db=db, code=parent)
        query = query.where(Grid.parent_code == parent)
    return list(db.scalars(query))


def subtree(*, db: Session, code: str, depth: int | None = None) -> list[Grid]:
    """``code`` and its current descendants (``depth`` levels down at most), in path order."""
    root = get_grid(db=db, code=code)
    query = (
        select(Grid)
        .options(defer(Grid.geom))
        .where(CURRENT, within(Grid.path, [root.path]))
        .order_by(Grid.path)
    )
    if depth is not None:
        query = query.where(func.nlevel(Grid.path) <= func.nlevel(root.path) + depth)
    return list(db.scalars(query))


def history(*, db: Session, code: str) -> list[Grid]:
    """Every version of a grid, oldest first."""
    versions = list(
        db.scalars(select(Grid).options(defer(Grid.geom)).where(Grid.code == code).order_by(Grid.version))
    )
    if not versions:
        raise NotFound("grid.never_existed", grid=code)
    return versions


def geojson_of(*, db: Session, grids: Sequence[Grid]) -> list[dict]:
    """GeoJSON features (RFC 7946, 7 decimals) for grids, geometry computed in the database."""
    if not grids:
        return []
    rows = db.execute(
        select(Grid.id, func.ST_AsGeoJSON(Grid.geom, 7).label("geometry")).where(
            Grid.id.in_([g.id for g in grids])
        )
    ).all()
    geometry = {row.id: row.geometry for row in rows}
    layers = dict(db.execute(select(GridLayer.code, GridLayer.name)).all())
    return [_feature(g, geometry[g.id], layers.get(g.layer)) for g in grids]


def _feature(grid: Grid, geometry_json: str, layer_name: str | None) -> dict:
    return {
        "type": "Feature",
        "id": grid.code,
        "geometry": json.loads(geometry_json),
        "properties": {
            "code": grid.code,
            "name": grid.name,
            "level": grid.level,
            "parent_code": grid.parent_code,
            "layer": grid.layer,  # (null: shared by every layer)
            "layer_name": layer_name,
            "area_m2": round(grid.area_m2, 1),
            "version": grid.version,
        },
    }


def in_bbox(
    *,
    db: Session,
    west: float,
    south: float,
    east: float,
    north: float,
    level: str | None,
    limit: int,
    layer: str | None = None,
) -> list[Grid]:
    """Current grids whose geometry intersects the box (at most ``limit``; with ``layer``, those of its
    hierarchy only); the box as ``server.deps.bounding_box`` checked it."""
    envelope = func.ST_MakeEnvelope(west, south, east, north, 4326)
    query = (
        select(Grid)
        .options(defer(Grid.geom))
        .where(CURRENT, Grid.geom.op("&&")(envelope), func.ST_Intersects(Grid.geom, envelope))
        .order_by(Grid.path)
        .limit(limit + 1)
    )
    if level:
        query = query.where(Grid.level == level)
    if layer is not None:
        query = query.where(of_layer(get_layer(db=db, code=layer).code))
    grids = list(db.scalars(query))
    if len(grids) > limit:
        raise Invalid("grid.too_many_in_box", limit=limit)
    return grids


def search(*, db: Session, text: str, limit: int = 20) -> list[tuple[Grid, float, float]]:
    """Current grids whose name contains ``text`` (or whose code starts with it), the higher levels first,
    each with a point inside it (lon, lat): where a caller's "near the 泉城路 community" is placed."""
    text = text.strip()
    if not text:
        raise Invalid("grid.search_empty")
    inside = func.ST_PointOnSurface(Grid.geom)
    rows = db.execute(
        select(Grid, func.ST_X(inside), func.ST_Y(inside))
        .options(defer(Grid.geom))
        .where(
            CURRENT,
            Grid.name.contains(text, autoescape=True) | Grid.code.startswith(text, autoescape=True),
        )
        .order_by(func.nlevel(Grid.path), func.length(Grid.name), Grid.code)
        .limit(limit)
    )
    return [(grid, lon, lat) for grid, lon, lat in rows]


def export_features(*, db: Session, code: str | None = None, layer: str | None = None) -> list[dict]:
    """The current grids of a layer's hierarchy (default: the default layer's; the shared grids and the
    layer's own) as GeoJSON features: all of them, or ``code`` and its subtree."""
    query = (
        select(Grid)
        .options(defer(Grid.geom))
        .where(CURRENT, of_layer(get_layer(db=db, code=layer).code))
        .order_by(Grid.path)
    )
    if code:
        query = query.where(within(Grid.path, [get_grid(db=db, code=code).path]))
    return geojson_of(db=db, grids=list(db.scalars(query)))
