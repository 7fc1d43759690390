"""Polygon validation and repair that says what it changed; orientation; simplification in metres."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from gis.crs import from_metric, to_metric

_POLYGONAL = ("Polygon", "MultiPolygon")


@dataclass
class Repair:
    """The outcome of ``repair_polygonal``: a valid MultiPolygon, or an error saying why there is none."""

    geometry: MultiPolygon | None
    changes: list[str] = field(default_factory=list)
    error: str | None = None
    error_kind: str | None = None  # "no_geometry", "out_of_range", "not_polygonal", "no_area"

    @property
    def ok(self) -> bool:
        return self.error is None


def as_multipolygon(geom: BaseGeometry) -> MultiPolygon:
    """The polygonal parts of ``geom`` as one MultiPolygon (lines and points are dropped)."""
    if isinstance(geom, MultiPolygon):
        return geom
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in _POLYGONAL]
    return MultiPolygon([q for p in parts for q in shapely.get_parts(p)])


def orient(geom: BaseGeometry) -> BaseGeometry:
    """RFC 7946 orientation: exterior rings counter-clockwise, holes clockwise."""
    return shapely.orient_polygons(geom, exterior_cw=False)


def _out_of_range(geom: BaseGeometry) -> str | None:
    coords = shapely.get_coordinates(geom)
    if not len(coords):
        return None
    if not np.isfinite(coords).all():
        return "coordinates are not finite numbers"
    bad_lon = coords[np.abs(coords[:, 0]) > 180.0]
    if len(bad_lon):
        return f"longitude {bad_lon[0, 0]:g} is out of range -180..180"
    bad_lat = coords[np.abs(coords[:, 1]) > 90.0]
    if len(bad_lat):
        return f"latitude {bad_lat[0, 1]:g} is out of range -90..90"
    return None


def _describe(reason: str) -> str:
    """Turn GEOS's 'Self-intersection[117.1 36.6]' into words."""
    match = re.match(r"(.*?)\[([-\d.e]+) ([-\d.e]+)\]", reason)
    if match:
        what, x, y = match.groups()
        return f"{what.strip()} at or near point {float(x):.6f} {float(y):.6f}"
    return reason


def repair_polygonal(geom: BaseGeometry | None) -> Repair:
    """Validate a polygon or multipolygon; repair it with ``make_valid`` and record each change."""
    if geom is None or geom.is_empty:
        return Repair(None, error="no geometry", error_kind="no_geometry")
    if geom.geom_type not in _POLYGONAL:
        return Repair(
            None,
            error=f"geometry is a {geom.geom_type}, not a Polygon or MultiPolygon",
            error_kind="not_polygonal",
        )
    out_of_range = _out_of_range(geom)
    if out_of_range:
        return Repair(None, error=out_of_range, error_kind="out_of_range")
    changes: list[str] = []
    if not geom.is_valid:
        reason = _describe(shapely.is_valid_reason(geom))
        repaired = shapely.make_valid(geom, method="structure", keep_collapsed=False)
        dropped = [p.geom_type for p in shapely.get_parts(repaired) if p.geom_type not in _POLYGONAL]
        geom = as_multipolygon(repaired)
        parts = len(geom.geoms)
        changes.append(f"{reason} repaired (now {parts} polygon{'s' if parts != 1 else ''})")
        if dropped:
            changes.append(f"dropped {len(dropped)} part(s) without area ({', '.join(sorted(set(dropped)))})")
    geom = as_multipolygon(geom)
    if geom.is_empty or geom.area == 0:
        return Repair(None, changes, error="geometry has no area after repair", error_kind="no_area")
    return Repair(orient(geom), changes)


def simplify_m(geom: BaseGeometry, tolerance_m: float) -> BaseGeometry:
    """Simplify with a tolerance in metres (topology preserved), in the data's Gauss-Kruger zone."""
    metric, epsg = to_metric(geom)
    return orient(from_metric(shapely.simplify(metric, tolerance_m, preserve_topology=True), epsg))


def coverage_simplify_m(geoms: list[BaseGeometry], tolerance_m: float) -> list[BaseGeometry]:
    """Simplify a set of polygons that tile an area together, so that they still tile it (shared edges
    are simplified once), with a tolerance in metres."""
    collection = shapely.GeometryCollection(list(geoms))
    metric, epsg = to_metric(collection)
    parts = list(shapely.get_parts(metric))
    simplified = shapely.coverage_simplify(parts, tolerance_m)
    return [orient(from_metric(g, epsg)) for g in simplified]
