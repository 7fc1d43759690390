"""Repair that says what it changed; orientation; simplification in metres."""

from __future__ import annotations

import pytest
import shapely
from shapely.geometry import LineString, MultiPolygon, Polygon, box

from gis.crs import area_m2
from gis.geometry import as_multipolygon, coverage_simplify_m, orient, repair_polygonal, simplify_m


def test_valid_polygon_becomes_a_ccw_multipolygon_without_changes():
    clockwise = Polygon([(117.0, 36.6), (117.0, 36.61), (117.01, 36.61), (117.01, 36.6)])
    repair = repair_polygonal(clockwise)
    assert repair.ok and repair.changes == []
    assert isinstance(repair.geometry, MultiPolygon)
    assert repair.geometry.geoms[0].exterior.is_ccw


def test_bow_tie_is_split_and_the_change_is_named():
    bow_tie = Polygon([(117.0, 36.6), (117.01, 36.61), (117.01, 36.6), (117.0, 36.61)])
    repair = repair_polygonal(bow_tie)
    assert repair.ok and len(repair.geometry.geoms) == 2
    assert repair.changes == ["边界自相交（位置约在 117.005000 36.605000），已自动修复（现为 2 个多边形）"]
    assert repair.geometry.area == pytest.approx(box(117.0, 36.6, 117.01, 36.61).area / 2)


def test_spike_is_removed():
    spiky = Polygon([(0, 0), (2, 0), (2, 2), (1, 2), (1, 3), (1, 2), (0, 2)])
    repair = repair_polygonal(spiky)
    assert repair.ok and repair.changes and repair.geometry.is_valid
    assert repair.geometry.area == 4


def test_what_cannot_be_a_grid_is_refused_with_a_reason():
    assert repair_polygonal(None).error_kind == "no_geometry"
    assert repair_polygonal(Polygon()).error == "没有边界，请补上边界"
    line = repair_polygonal(LineString([(0, 0), (1, 1)]))
    assert line.error == "边界是线，应为多边形（Polygon 或 MultiPolygon）"
    far = repair_polygonal(box(117.0, 36.6, 217.0, 36.7))
    assert far.error_kind == "out_of_range" and "217" in far.error
    flat = repair_polygonal(Polygon([(0, 0), (1, 1), (2, 2), (0, 0)]))
    assert flat.error_kind == "no_area"


def test_orient_and_as_multipolygon():
    with_hole = Polygon(box(0, 0, 10, 10).exterior.coords, [box(4, 4, 6, 6).exterior.coords])
    oriented = orient(with_hole)
    assert oriented.exterior.is_ccw and not oriented.interiors[0].is_ccw
    mixed = shapely.GeometryCollection([box(0, 0, 1, 1), LineString([(0, 0), (5, 5)])])
    assert as_multipolygon(mixed).equals(MultiPolygon([box(0, 0, 1, 1)]))


def test_simplify_in_metres():
    # A 1 km square with a 3 m bump on one side: 10 m of tolerance removes it, 1 m keeps it.
    ring = [(117.0, 36.6), (117.0056, 36.6), (117.0056, 36.60003), (117.0057, 36.60003), (117.0057, 36.6),
            (117.0112, 36.6), (117.0112, 36.609), (117.0, 36.609)]  # fmt: skip
    bumpy = Polygon(ring)
    assert len(simplify_m(bumpy, 10).exterior.coords) == 5
    assert len(simplify_m(bumpy, 1).exterior.coords) == len(ring) + 1


def test_coverage_simplification_keeps_a_tiling():
    # Two neighbours sharing a wiggly border: simplified together they still tile their union.
    wiggle = [(117.005, 36.6 + i * 0.0005 + (0.00002 if i % 2 else 0)) for i in range(21)]
    west = Polygon([(117.0, 36.6), *wiggle, (117.0, 36.61)])
    east = Polygon([(117.01, 36.6), (117.01, 36.61), *reversed(wiggle)])
    simple = coverage_simplify_m([west, east], 10)
    assert shapely.coverage_is_valid(simple)
    assert sum(len(g.exterior.coords) for g in simple) < len(west.exterior.coords) + len(east.exterior.coords)
    union = shapely.union_all([west, east])
    assert abs(area_m2(shapely.union_all(simple)) - area_m2(union)) < 1.0
