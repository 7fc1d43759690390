"""GeoJSON (RFC 7946) read and write: features and collections, shapely geometries."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

GEOMETRY_TYPES = {
    "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "GeometryCollection",
}  # fmt: skip


class GeoJSONError(ValueError):
    """The input is not the GeoJSON expected; the message says what is wrong and where."""


@dataclass
class Feature:
    geometry: BaseGeometry | None
    properties: dict = field(default_factory=dict)
    id: str | int | None = None


def geometry_from_geojson(obj: dict) -> BaseGeometry:
    if not isinstance(obj, dict) or obj.get("type") not in GEOMETRY_TYPES:
        kind = obj.get("type") if isinstance(obj, dict) else type(obj).__name__
        raise GeoJSONError(f"not a GeoJSON geometry (type {kind!r})")
    try:
        return shape(obj)
    except (ValueError, TypeError, IndexError, KeyError, AttributeError, shapely.errors.ShapelyError) as exc:
        raise GeoJSONError(f"unreadable {obj['type']} coordinates ({exc})") from exc


def geometry_to_geojson(geom: BaseGeometry, precision: int = 7) -> dict:
    return mapping(shapely.set_precision(geom, 10**-precision) if precision is not None else geom)


MAX_DEPTH = 32  # arrays and objects inside each other; a MultiPolygon's coordinates in a collection take 8
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_OPEN_CLOSE = np.zeros(256, dtype=np.int8)
_OPEN_CLOSE[[ord("["), ord("{")]] = 1
_OPEN_CLOSE[[ord("]"), ord("}")]] = -1


def _depth(text: bytes) -> int:
    """How deeply arrays and objects nest in JSON ``text`` (brackets inside strings do not count): measured
    before parsing, since the parser and the geometry readers recurse once per level."""
    steps = _OPEN_CLOSE[np.frombuffer(_STRING.sub(b"", text), dtype=np.uint8)]
    return int(np.cumsum(steps, dtype=np.int64).max(initial=0))


def _load(data: str | bytes | dict):
    if isinstance(data, dict):
        return data
    text = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if _depth(text) > MAX_DEPTH:
        raise GeoJSONError(f"文件中的数组和对象嵌套超过 {MAX_DEPTH} 层，不是网格的 GeoJSON，请检查文件")
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GeoJSONError(f"the file is not JSON: {exc}") from None


def parse_feature_collection(data: str | bytes | dict) -> list[Feature]:
    """The features of a FeatureCollection (a single Feature counts as a collection of one).

    A feature may have a null geometry (``Feature.geometry`` is None); an unreadable one raises
    GeoJSONError naming the feature."""
    obj = _load(data)
    kind = obj.get("type") if isinstance(obj, dict) else type(obj).__name__
    if kind == "Feature":
        obj = {"type": "FeatureCollection", "features": [obj]}
    elif kind != "FeatureCollection":
        raise GeoJSONError(f"expected a GeoJSON FeatureCollection, got {kind!r}")
    raw = obj.get("features")
    if not isinstance(raw, list):
        raise GeoJSONError("the FeatureCollection has no 'features' list")
    features = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or item.get("type") != "Feature":
            raise GeoJSONError(f"feature {index} is not a GeoJSON Feature")
        properties = item.get("properties") or {}
        if not isinstance(properties, dict):
            raise GeoJSONError(f"feature {index}: 'properties' must be an object")
        geometry = None
        if item.get("geometry") is not None:
            try:
                geometry = geometry_from_geojson(item["geometry"])
            except GeoJSONError as exc:
                raise GeoJSONError(f"feature {index}: {exc}") from None
        features.append(Feature(geometry, properties, item.get("id")))
    return features


def feature(
    geom: BaseGeometry | None, properties: dict, id: str | int | None = None, precision: int = 7
) -> dict:
    out = {
        "type": "Feature",
        "geometry": geometry_to_geojson(geom, precision) if geom is not None else None,
        "properties": properties,
    }
    if id is not None:
        out["id"] = id
    return out


def feature_collection(features: Iterable[dict]) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


def dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
