"""Reading a pollution-source register file (污染源台账) into records, without the database: CSV (UTF-8 with
or without a byte order mark, or GB18030) with the header 编号,名称,类型,地址,经度,纬度,责任人手机号,备注
(and an optional 在用 column: 是 or 否), or GeoJSON (a FeatureCollection of Point features with those
properties), the point converted to WGS 84 from the file's coordinate system.

As the address register (``grids.addresses``, whose checks of text, numbers and points this reuses;
``grids.registers`` reads the rows of both): the whole file is checked first, every problem a Chinese
sentence saying where it is ("第 3 行：..." as in a spreadsheet, the header being row 1; "第 2 个要素：..."
in GeoJSON), and a file with any problem gives no records. Whether each responsible member's phone belongs
to a user is checked by the importer (``server.source.service``), with the same places."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from gis.crs import CRS, to_wgs84_arrays
from grids.addresses import NO, YES, _number, _point_problems, _text
from grids.loaders import _storable
from grids.registers import Layout, Register, Row, read

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000

# The kinds of source, in the order the register lists them: code -> Chinese name.
KINDS = {
    "air": "工业废气",
    "water": "废水排放",
    "dust": "建筑工地扬尘",
    "fume": "餐饮油烟",
    "noise": "噪声",
    "solid": "固体废物",
}
KIND_OF = {**{name: code for code, name in KINDS.items()}, **{code: code for code in KINDS}}
# What each field is called in the header (or a feature's properties), and the longest text it holds
# (migration 0027).
COLUMNS = {
    "code": "编号",
    "name": "名称",
    "kind": "类型",
    "address": "地址",
    "lon": "经度",
    "lat": "纬度",
    "phone": "责任人手机号",
    "notes": "备注",
    "active": "在用",
}
HEADER = {word: key for key, word in COLUMNS.items()} | {key: key for key in COLUMNS}
REQUIRED = ("code", "name", "kind", "address", "lon", "lat", "phone")
LENGTHS = {"code": 64, "name": 100, "address": 200, "phone": 20, "notes": 1000}


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One source of the register, its point in WGS 84; ``where`` names its row for later sentences."""

    where: str
    code: str
    name: str
    kind: str
    address: str
    lon: float
    lat: float
    phone: str
    notes: str | None = None
    active: bool = True


LAYOUT = Layout(
    name="污染源台账",
    field_of=HEADER.get,
    words=COLUMNS,
    required=REQUIRED,
    empty=f"文件是空的：第 1 行应为列名 {'、'.join(COLUMNS[k] for k in (*REQUIRED, 'notes'))}",
    missing_hint="",
    feature="污染源",
    properties="编号、名称、类型",
    too_many_features="文件超过 {:,} 个污染源",
    too_many_rows="文件超过 {:,} 个污染源",
)


def read_sources(data: bytes, *, crs: CRS = CRS.WGS84) -> Register:
    """The records of a register file (GeoJSON when it starts with ``{``, else CSV), checked whole."""
    check = partial(_records, crs=crs)
    return read(data, LAYOUT, check, max_bytes=MAX_BYTES, max_rows=MAX_ROWS)


def _records(rows: list[Row], register: Register, crs: CRS) -> list[SourceRecord]:
    """Check every row and make its record; the points are converted all at once."""
    seen: dict[str, str] = {}
    checked: list[dict] = []
    for where, values in rows:
        problems = []
        out: dict = {"where": where}
        for key, limit in LENGTHS.items():
            text = _text(values.get(key))
            if text is not None and not _storable(text):
                problems.append(f"{COLUMNS[key]}含有空字符或无效的字符编码")
            elif text is not None and len(text) > limit:
                problems.append(f"{COLUMNS[key]}太长（{len(text)} 个字，最多 {limit} 个字）")
            out[key] = text
        for key in ("code", "name", "address", "phone"):
            if out[key] is None:
                problems.append(f"没有{COLUMNS[key]}，请补上")
        if out["code"] is not None and (first := seen.setdefault(out["code"], where)) != where:
            problems.append(f"编号 {out['code']} 与{first}重复，每个污染源的编号应唯一")
        kind = _text(values.get("kind"))
        out["kind"] = KIND_OF.get(kind or "")
        if out["kind"] is None:
            problems.append(f"类型“{(kind or '')[:20]}”不认识：应为 {'、'.join(KINDS.values())} 之一")
        active = values.get("active")
        word = (_text(active) or "").lower()
        if isinstance(active, bool) or word in YES | NO:
            out["active"] = active if isinstance(active, bool) else word in YES | {""}
        else:
            problems.append(f"在用应填 是 或 否，而不是“{word[:20]}”")
        lon, lat = _number(values.get("lon")), _number(values.get("lat"))
        problems += _point_problems(lon, lat, crs)
        for problem in problems:
            register.error(f"{where}：{problem}")
        if not problems:
            checked.append({**out, "lon": lon, "lat": lat})
    if not register.ok or not checked:
        return []
    lons, lats = to_wgs84_arrays([o["lon"] for o in checked], [o["lat"] for o in checked], crs)
    return [
        SourceRecord(**{**o, "lon": float(x), "lat": float(y)})
        for o, x, y in zip(checked, lons, lats, strict=True)
    ]
