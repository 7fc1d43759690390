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
    """The outcome of ``repair_polygonal``: a valid MultiPolygon, or an error saying why there is none
    (``changes`` and ``error`` in Chinese: they reach the person importing grids)."""

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
        return "坐标中有不是有限数字的值，请检查坐标"
    bad_lon = coords[np.abs(coords[:, 0]) > 180.0]
    if len(bad_lon):
        return f"经度 {bad_lon[0, 0]:g} 超出 -180 到 180 的范围，请检查坐标和坐标系"
    bad_lat = coords[np.abs(coords[:, 1]) > 90.0]
    if len(bad_lat):
        return f"纬度 {bad_lat[0, 1]:g} 超出 -90 到 90 的范围，请检查坐标和坐标系"
    return None


# GEOS's reasons for an invalid geometry, in words.
_REASONS = {
    "Self-intersection": "边界自相交",
    "Ring Self-intersection": "边界的环自相交",
    "Hole lies outside shell": "内洞在外边界之外",
    "Holes are nested": "内洞互相嵌套",
    "Interior is disconnected": "内部被分割成不相连的几块",
    "Nested shells": "外边界互相嵌套",
    "Duplicate Rings": "有重复的环",
    "Too few points in geometry component": "有的部分点数太少",
    "Invalid Coordinate": "坐标无效",
    "Ring is not closed": "边界的环没有闭合",
    "Repeated Point": "有重复的点",
}
# The kinds of geometry that are no polygon, in words.
_KINDS = {
    "Point": "点",
    "MultiPoint": "多点",
    "LineString": "线",
    "MultiLineString": "多线",
    "GeometryCollection": "几何集合",
}


def describe_invalid(reason: str) -> str:
    """Turn GEOS's 'Self-intersection[117.1 36.6]' (``shapely.is_valid_reason``) into words."""
    match = re.match(r"(.*?)\[([-\d.e]+) ([-\d.e]+)\]", reason)
    what, where = (match.group(1).strip(), match.groups()[1:]) if match else (reason.strip(), None)
    words = _REASONS.get(what, "形状无效")
    if where is None:
        return words
    x, y = map(float, where)
    return f"{words}（位置约在 {x:.6f} {y:.6f}）"


def repair_polygonal(geom: BaseGeometry | None) -> Repair:
    """Validate a polygon or multipolygon; repair it with ``make_valid`` and record each change."""
    if geom is None or geom.is_empty:
        return Repair(None, error="没有边界，请补上边界", error_kind="no_geometry")
    if geom.geom_type not in _POLYGONAL:
        kind = _KINDS.get(geom.geom_type, geom.geom_type)
        error = f"边界是{kind}，应为多边形（Polygon 或 MultiPolygon）"
        return Repair(None, error=error, error_kind="not_polygonal")
    out_of_range = _out_of_range(geom)
    if out_of_range:
        return Repair(None, error=out_of_range, error_kind="out_of_range")
    changes: list[str] = []
    if not geom.is_valid:
        reason = describe_invalid(shapely.is_valid_reason(geom))
        repaired = shapely.make_valid(geom, method="structure", keep_collapsed=False)
        dropped = [p.geom_type for p in shapely.get_parts(repaired) if p.geom_type not in _POLYGONAL]
        geom = as_multipolygon(repaired)
        parts = len(geom.geoms)
        changes.append(f"{reason}，已自动修复（现为 {parts} 个多边形）")
        if dropped:
            kinds = "、".join(sorted({_KINDS.get(kind, kind) for kind in dropped}))
            changes.append(f"去掉了 {len(dropped)} 个没有面积的部分（{kinds}）")
    geom = as_multipolygon(geom)
    if geom.is_empty or geom.area == 0:
        return Repair(None, changes, error="修复后边界没有面积，请检查边界", error_kind="no_area")
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
