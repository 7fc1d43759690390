"""Reading a grid file: properties, derived levels and parents, CRS at the edge, per-feature errors."""

from __future__ import annotations

import json

import pytest

from gis.crs import CRS, from_wgs84_arrays
from grids.loaders import load_features, records_to_feature_collection


def collection(*features) -> str:
    return json.dumps({"type": "FeatureCollection", "features": list(features)})


def square(west=117.0, south=36.6, size=0.01) -> dict:
    ring = [
        [west, south],
        [west + size, south],
        [west + size, south + size],
        [west, south + size],
        [west, south],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def feat(properties: dict, geometry=None) -> dict:
    return {
        "type": "Feature",
        "properties": properties,
        "geometry": geometry if geometry is not None else square(),
    }


def test_level_and_parent_are_derived_from_the_code():
    (record,), report = load_features(collection(feat({"code": 370102001, "name": " 解放路街道 "})))
    assert report.ok and report.checked == 1
    assert (record.code, record.name, record.level, record.parent_code) == (
        "370102001",
        "解放路街道",
        "street",
        "370102",
    )
    assert record.geometry.geom_type == "MultiPolygon"


def test_extra_properties_are_kept_and_written_back():
    records, _ = load_features(collection(feat({"code": "370102", "name": "历下区", "source": "survey"})))
    assert records[0].properties == {"source": "survey"}
    out = records_to_feature_collection(records)
    assert out["features"][0]["properties"] == {
        "code": "370102",
        "name": "历下区",
        "level": "district",
        "parent_code": "370100",
    }


@pytest.mark.parametrize("crs", [CRS.GCJ02, CRS.BD09])
def test_coordinates_are_converted_to_wgs84(crs):
    ring = square()["coordinates"][0]
    lon, lat = from_wgs84_arrays([p[0] for p in ring], [p[1] for p in ring], crs)
    shifted = {
        "type": "Polygon",
        "coordinates": [[[float(x), float(y)] for x, y in zip(lon, lat, strict=True)]],
    }
    (record,), _ = load_features(collection(feat({"code": "370102", "name": "x"}, shifted)), crs=crs)
    west, south, east, north = record.geometry.bounds
    assert (west, south, east, north) == pytest.approx((117.0, 36.6, 117.01, 36.61), abs=1e-7)


def test_repairs_are_warnings_and_rejections_are_errors():
    bow_tie = {
        "type": "Polygon",
        "coordinates": [[[117.0, 36.6], [117.01, 36.61], [117.01, 36.6], [117.0, 36.61], [117.0, 36.6]]],
    }
    line = {"type": "LineString", "coordinates": [[117.0, 36.6], [117.01, 36.61]]}
    records, report = load_features(
        collection(
            feat({"code": "370102001", "name": "a"}, bow_tie),
            feat({"code": "370102002", "name": "b"}, line),
            {"type": "Feature", "properties": {"code": "370102003", "name": "c"}, "geometry": None},
            feat({"code": "370102004", "name": "d"}, square(west=190.0)),
            feat({"name": "no code"}),
            feat({"code": "3701020", "name": "bad"}),
            feat({"code": "370102005"}),
        )
    )
    assert [r.code for r in records] == ["370102001"]
    kinds = {(i.severity, i.kind, i.code) for i in report.issues}
    assert kinds == {
        ("warning", "repaired_geometry", "370102001"),
        ("error", "invalid_geometry", "370102002"),
        ("error", "no_geometry", "370102003"),
        ("error", "coordinates_out_of_range", "370102004"),
        ("error", "missing_property", None),
        ("error", "malformed_code", "3701020"),
        ("error", "missing_property", "370102005"),
    }
    assert report.checked == 7


def test_a_file_that_is_not_geojson():
    records, report = load_features(b"code;name\n370102;x")
    assert records == [] and not report.ok
    assert report.issues[0].kind == "file" and "不是有效的 JSON" in report.issues[0].message
