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
        (b"code,name\n1,x", "the file is not JSON"),
        (b"\xff\xfe", "the file is not JSON"),
        ("[1, 2]", "expected a GeoJSON FeatureCollection, got 'list'"),
        ('{"type": "Point", "coordinates": [1, 2]}', "expected a GeoJSON FeatureCollection, got 'Point'"),
        ('{"type": "FeatureCollection"}', "no 'features' list"),
        (
            '{"type": "FeatureCollection", "features": [{"type": "Point"}]}',
            "feature 0 is not a GeoJSON Feature",
        ),
    ],
)
def test_bad_input_is_explained(data, message):
    with pytest.raises(GeoJSONError, match=message):
        parse_feature_collection(data)


def test_an_unreadable_geometry_names_its_feature():
    good = {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [1, 2]}}
    bad = {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [[1, 2]]}}
    with pytest.raises(GeoJSONError, match="feature 1: unreadable Polygon coordinates"):
        parse_feature_collection(json.dumps({"type": "FeatureCollection", "features": [good, bad]}))
    weird = {"type": "Feature", "properties": {}, "geometry": {"type": "Circle", "radius": 3}}
    with pytest.raises(GeoJSONError, match="feature 0: not a GeoJSON geometry"):
        parse_feature_collection({"type": "FeatureCollection", "features": [weird]})
