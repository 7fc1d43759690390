"""RFC 7946 reading and writing."""

from __future__ import annotations

import json

import pytest
from shapely.geometry import Point, box

from gis.geojson import (
    GeoJSONError,
    dumps,
    feature,
    feature_collection,
    geometry_to_geojson,
    parse_feature_collection,
)


def test_round_trip():
    features = [feature(box(117.0, 36.6, 117.01, 36.61), {"code": "370102", "name": "历下区"}, id="370102")]
    text = dumps(feature_collection(features))
    assert "历下区" in text  # not escaped
    (read,) = parse_feature_collection(text)
    assert read.id == "370102" and read.properties["name"] == "历下区"
    assert read.geometry.equals(box(117.0, 36.6, 117.01, 36.61))


def test_a_single_feature_and_null_geometry_are_accepted():
    (one,) = parse_feature_collection({"type": "Feature", "properties": {"code": "1"}, "geometry": None})
    assert one.geometry is None and one.properties == {"code": "1"}


def test_precision_rounds_coordinates():
    assert geometry_to_geojson(Point(117.123456789, 36.1), precision=6)["coordinates"] == (117.123457, 36.1)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"code,name\n1,x", "文件不是有效的 JSON：第 1 行第 1 列附近有误"),
        (b"\xff\xfe", "文件不是有效的 JSON"),
        (b'{"type": "\x80"}', "文件不是 UTF-8 编码的文字"),
        ("[1, 2]", "应为 GeoJSON 要素集合（FeatureCollection），而它不是带类型（type）的 JSON 对象"),
        (
            '{"type": "Point", "coordinates": [1, 2]}',
            "应为 GeoJSON 要素集合（FeatureCollection），而它的类型是 Point",
        ),
        ('{"type": "FeatureCollection"}', "没有要素列表（features）"),
        (
            '{"type": "FeatureCollection", "features": [{"type": "Point"}]}',
            "第 1 个要素不是 GeoJSON 要素（Feature）",
        ),
    ],
)
def test_bad_input_is_explained(data, message):
    with pytest.raises(GeoJSONError, match=message):
        parse_feature_collection(data)


def test_an_unreadable_geometry_names_its_feature():
    good = {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [1, 2]}}
    bad = {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [[1, 2]]}}
    with pytest.raises(GeoJSONError, match="第 2 个要素：Polygon 的坐标无法读取"):
        parse_feature_collection(json.dumps({"type": "FeatureCollection", "features": [good, bad]}))
    weird = {"type": "Feature", "properties": {}, "geometry": {"type": "Circle", "radius": 3}}
    with pytest.raises(GeoJSONError, match=r"第 1 个要素：几何对象（geometry）不是 GeoJSON 的几何类型"):
        parse_feature_collection({"type": "FeatureCollection", "features": [weird]})
