"""Coordinate systems against published reference values.

Reference values: the unit tests of dromara/hutool's CoordinateUtil (which cite wandergis/coordtransform,
the common implementation of the published GCJ-02 / BD-09 formulas) and tool.lu/coordinate for the
second BD-09 point. Their inverses are the one-step approximations; ours iterate to 1e-7 degrees, so
they agree to about 1e-6 degrees and our round trips are exact to 1e-7.
"""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import Polygon, box

from gis import crs
from gis.crs import CRS


@pytest.mark.parametrize(
    ("func", "point", "expected", "tolerance"),
    [
        (crs.wgs84_to_gcj02, (116.404, 39.915), (116.41024449916938, 39.91640428150164), 1e-12),
        (crs.gcj02_to_bd09, (116.404, 39.915), (116.41036949371029, 39.92133699351021), 1e-12),
        (crs.wgs84_to_bd09, (116.404, 39.915), (116.41662724378733, 39.922699552216216), 1e-12),
        (crs.wgs84_to_bd09, (122.99395597, 44.99804071), (123.00636516028885, 45.0063690918959), 1e-12),
        (crs.gcj02_to_wgs84, (116.404, 39.915), (116.39775550083061, 39.91359571849836), 1e-5),
        (crs.bd09_to_gcj02, (116.404, 39.915), (116.39762729119315, 39.90865673957631), 1e-5),
    ],
)
def test_published_reference_points(func, point, expected, tolerance):
    assert func(*point) == pytest.approx(expected, abs=tolerance)


def test_inverses_are_iterated_to_1e7_degrees():
    gcj = (116.404, 39.915)
    assert crs.wgs84_to_gcj02(*crs.gcj02_to_wgs84(*gcj)) == pytest.approx(gcj, abs=1e-7)
    bd = (116.404, 39.915)
    assert crs.gcj02_to_bd09(*crs.bd09_to_gcj02(*bd)) == pytest.approx(bd, abs=1e-7)


def test_round_trips_across_china():
    lon, lat = np.meshgrid(np.linspace(74, 134, 25), np.linspace(18, 53, 25))
    lon, lat = lon.ravel(), lat.ravel()
    for system in (CRS.GCJ02, CRS.BD09):
        x, y = crs.to_wgs84_arrays(*crs.from_wgs84_arrays(lon, lat, system), system)
        assert np.abs(x - lon).max() < 1e-6 and np.abs(y - lat).max() < 1e-6


def test_a_point_converts_the_same_whatever_else_is_in_the_batch():
    alone = crs.to_wgs84_arrays([117.1], [36.6], CRS.GCJ02)
    batch = crs.to_wgs84_arrays([117.1, 100.0, 80.0], [36.6, 20.0, 50.0], CRS.GCJ02)
    assert alone[0][0] == batch[0][0] and alone[1][0] == batch[1][0]


def test_outside_china_is_unchanged_and_wgs84_cgcs2000_are_equal():
    assert crs.wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)  # Paris
    assert crs.to_wgs84(117.0, 36.6, CRS.CGCS2000) == (117.0, 36.6)
    square = box(117.0, 36.6, 117.01, 36.61)
    assert crs.geometry_to_wgs84(square, CRS.CGCS2000) is square


def test_gcj02_offset_in_jinan_is_a_few_hundred_metres():
    lon, lat = 117.0, 36.65
    shifted = crs.wgs84_to_gcj02(lon, lat)
    assert 100 < crs.distance_m(lon, lat, *shifted) < 700


def test_geometry_conversion_moves_every_vertex():
    square = Polygon([(117.0, 36.6), (117.01, 36.6), (117.01, 36.61), (117.0, 36.61)])
    moved = crs.geometry_from_wgs84(square, CRS.GCJ02)
    back = crs.geometry_to_wgs84(moved, CRS.GCJ02)
    assert np.allclose(np.asarray(back.exterior.coords), np.asarray(square.exterior.coords), atol=1e-7)
    assert moved.centroid.distance(square.centroid) > 0.001


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("WGS84", CRS.WGS84),
        ("EPSG:4326", CRS.WGS84),
        ("4490", CRS.CGCS2000),
        ("gcj-02", CRS.GCJ02),
        ("bd09", CRS.BD09),
    ],
)
def test_parse_crs(name, expected):
    assert crs.parse_crs(name) is expected


def test_parse_crs_names_the_choices():
    with pytest.raises(ValueError, match="use wgs84"):
        crs.parse_crs("mars")


def test_gauss_kruger_zones():
    assert (crs.gk_epsg(75.0), crs.gk_epsg(117.0), crs.gk_epsg(118.4), crs.gk_epsg(135.0)) == (
        4534,
        4548,
        4548,
        4554,
    )
    assert crs.gk_epsg(118.6) == 4549
    with pytest.raises(ValueError, match="outside"):
        crs.gk_epsg(10.0)


def test_metric_area_and_length():
    # A 0.01 x 0.01 degree cell at 36.6 N: 893.7 m x 1109.9 m on the WGS 84 ellipsoid.
    cell = box(117.0, 36.6, 117.01, 36.61)
    assert crs.area_m2(cell) == pytest.approx(893.7 * 1109.9, rel=0.002)
    metric, epsg = crs.to_metric(cell)
    assert epsg == 4548 and metric.area == pytest.approx(crs.area_m2(cell), rel=0.001)
    assert crs.length_m(cell) == pytest.approx(2 * (893.7 + 1109.9), rel=0.002)
    back = crs.from_metric(metric, epsg)
    assert np.allclose(np.asarray(back.exterior.coords), np.asarray(cell.exterior.coords), atol=1e-9)


def test_check_lonlat():
    crs.check_lonlat(117.0, 36.6)
    with pytest.raises(ValueError, match="longitude 200"):
        crs.check_lonlat(200.0, 36.6)
    with pytest.raises(ValueError, match="latitude -91"):
        crs.check_lonlat(117.0, -91.0)
