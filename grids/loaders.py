"""A GeoJSON file of grids -> validated records and the per-feature report (the set is checked by
``grids.topology.check_topology``)."""

from __future__ import annotations

from gis.crs import CRS, geometry_to_wgs84
from gis.geojson import GeoJSONError, feature, feature_collection, parse_feature_collection
from gis.geometry import repair_polygonal
from grids.codes import GridCode, GridCodeError
from grids.levels import DEFAULT_SCHEME, LevelScheme
from grids.records import GridRecord
from grids.topology import TopologyReport, impossible_parent

REPAIR_KINDS = {"no_geometry": "no_geometry", "out_of_range": "coordinates_out_of_range"}


def _text(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _storable(text: str) -> bool:
    """Whether PostgreSQL can store ``text``: no NUL character, no lone surrogate."""
    try:
        text.encode("utf-8")  # a lone surrogate cannot be encoded
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _population(value) -> int | None:
    """A resident population: a whole number of at least 0 (a number or its digits); None when absent;
    ValueError otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(value)
    number = int(value) if isinstance(value, int | float) else int(str(value).strip())
    if number < 0:
        raise ValueError(value)
    return number


def load_features(
    data: str | bytes | dict, *, crs: CRS = CRS.WGS84, scheme: LevelScheme = DEFAULT_SCHEME
) -> tuple[list[GridRecord], TopologyReport]:
    """Read features with ``code``, ``name`` and optionally ``level`` and ``parent_code`` (both derived
    from the code when missing) and ``population`` (the resident population, kept in the record's
    properties as a whole number), convert them from ``crs`` to WGS 84 and repair their geometry."""
    report = TopologyReport()
    try:
        features = parse_feature_collection(data)
    except GeoJSONError as exc:
        report.error("file", None, str(exc))
        return [], report
    report.checked = len(features)
    records = []
    for i, feat in enumerate(features):
        props = feat.properties
        code = _text(props.get("code"))
        if code is None:
            report.error("missing_property", None, f"第 {i + 1} 个要素没有编号（code）属性，请补上")
            continue
        try:
            grid_code = GridCode.parse(code, scheme)
        except GridCodeError as exc:
            report.error("malformed_code", code, f"第 {i + 1} 个要素：{exc}")
            continue
        try:
            parent = grid_code.parent
        except GridCodeError as exc:
            report.error("malformed_code", code, impossible_parent(code, exc))
            continue
        name = _text(props.get("name"))
        if name is None:
            report.error("missing_property", code, f"网格 {code} 没有名称（name）属性，请补上")
            continue
        if not _storable(name):
            report.error(
                "invalid_property", code, f"网格 {code} 的名称含有空字符或无效的字符编码，请修正后再导入"
            )
            continue
        try:
            population = _population(props.get("population"))
        except ValueError:
            report.error(
                "invalid_property", code, f"网格 {code} 的常住人口（population）应为不小于 0 的整数，请修正"
            )
            continue
        level = _text(props.get("level")) or grid_code.level
        parent_code = _text(props.get("parent_code")) or (parent.value if parent else None)
        geometry = geometry_to_wgs84(feat.geometry, crs) if feat.geometry is not None else None
        repair = repair_polygonal(geometry)
        if not repair.ok:
            kind = REPAIR_KINDS.get(repair.error_kind, "invalid_geometry")
            report.error(kind, code, f"网格 {code}：{repair.error}")
            continue
        if repair.changes:
            report.warning("repaired_geometry", code, f"网格 {code}：" + "；".join(repair.changes))
        extra = {k: v for k, v in props.items() if k not in ("code", "name", "level", "parent_code")}
        if population is not None:
            extra["population"] = population
        records.append(GridRecord(code, name, level, parent_code, repair.geometry, extra))
    return records, report


def records_to_feature_collection(records: list[GridRecord]) -> dict:
    return feature_collection(
        feature(
            r.geometry,
            {"code": r.code, "name": r.name, "level": r.level, "parent_code": r.parent_code},
            id=r.code,
        )
        for r in records
    )
