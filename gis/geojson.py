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
    """The input is not the GeoJSON expected; the message says what is wrong and where, in Chinese (it
    reaches the person importing grids); features are counted from 1."""


@dataclass
class Feature:
    geometry: BaseGeometry | None
    properties: dict = field(default_factory=dict)
    id: str | int | None = None


def geometry_from_geojson(obj: dict) -> BaseGeometry:
    if not isinstance(obj, dict) or obj.get("type") not in GEOMETRY_TYPES:
        raise GeoJSONError("几何对象（geometry）不是 GeoJSON 的几何类型（如 Polygon），请检查文件")
    try:
        return shape(obj)
    except (ValueError, TypeError, IndexError, KeyError, AttributeError, shapely.errors.ShapelyError) as exc:
        raise GeoJSONError(f"{obj['type']} 的坐标无法读取，请检查坐标数组") from exc


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
    except UnicodeDecodeError:
        raise GeoJSONError("文件不是 UTF-8 编码的文字，请另存为 UTF-8 编码后重新导入") from None
    except json.JSONDecodeError as exc:
        raise GeoJSONError(
            f"文件不是有效的 JSON：第 {exc.lineno} 行第 {exc.colno} 列附近有误，请检查文件"
        ) from None


def parse_feature_collection(data: str | bytes | dict) -> list[Feature]:
    """The features of a FeatureCollection (a single Feature counts as a collection of one).

    A feature may have a null geometry (``Feature.geometry`` is None); an unreadable one raises
    GeoJSONError naming the feature."""
    obj = _load(data)
    kind = obj.get("type") if isinstance(obj, dict) else None
    if kind == "Feature":
        obj = {"type": "FeatureCollection", "features": [obj]}
    elif kind != "FeatureCollection":
        what = f"它的类型是 {kind}" if kind else "它不是带类型（type）的 JSON 对象"
        raise GeoJSONError(f"文件应为 GeoJSON 要素集合（FeatureCollection），而{what}")
    raw = obj.get("features")
    if not isinstance(raw, list):
        raise GeoJSONError("要素集合中没有要素列表（features），请检查文件")
    features = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or item.get("type") != "Feature":
            raise GeoJSONError(f"第 {index + 1} 个要素不是 GeoJSON 要素（Feature），请检查文件")
        properties = item.get("properties") or {}
        if not isinstance(properties, dict):
            raise GeoJSONError(f"第 {index + 1} 个要素的属性（properties）应为对象，请检查文件")
        geometry = None
        if item.get("geometry") is not None:
            try:
                geometry = geometry_from_geojson(item["geometry"])
            except GeoJSONError as exc:
                raise GeoJSONError(f"第 {index + 1} 个要素：{exc}") from None
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
