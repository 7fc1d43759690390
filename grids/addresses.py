"""Reading a standard address register file (地址库: 门牌, 楼栋 and 兴趣点) into records, without the
database: CSV (UTF-8 with or without a byte order mark, or GB18030 as Chinese offices' spreadsheets save
it) or GeoJSON (a FeatureCollection of Point features), the point converted to WGS 84 from the file's
coordinate system.

The whole file is checked first: every problem is collected as a Chinese sentence saying where it is
("第 17 行：...": CSV rows numbered as in a spreadsheet, the header being row 1; "第 3 个要素：..." in
GeoJSON), and a file with any problem gives no records, so nothing of it is loaded. The size and the
number of rows are checked before anything is parsed (``grids.registers``, which reads the rows).

CSV headers and GeoJSON property names may be Chinese or English (``COLUMNS``); other columns are
ignored and named in the result."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import numpy as np

from gis.crs import CRS, _in_china, to_wgs84_arrays
from grids.loaders import _storable
from grids.registers import Layout, Register, Row, read

MAX_BYTES = 200 * 1024 * 1024
MAX_ROWS = 2_000_000
MAX_ALIASES = 10

# What each field is called in a file's header (or a feature's properties), lower case.
COLUMNS = {
    "register_id": ("编码", "地址编码", "编号", "register_id", "id"),
    "name": ("名称", "name"),
    "address_text": ("地址", "标准地址", "address", "address_text"),
    "district": ("区县", "district"),
    "street": ("街道", "乡镇街道", "street"),
    "community": ("社区", "社区村", "community"),
    "road": ("道路", "路", "road"),
    "house_number": ("门牌号", "house_number"),
    "building": ("楼栋", "楼栋号", "building"),
    "unit": ("单元", "unit"),
    "kind": ("类型", "kind"),
    "aliases": ("别名", "aliases"),
    "lon": ("经度", "lon", "lng", "longitude"),
    "lat": ("纬度", "lat", "latitude"),
    "approximate": ("位置近似", "approximate"),
}
HEADER = {name.lower(): key for key, names in COLUMNS.items() for name in names}
REQUIRED = ("register_id", "address_text", "lon", "lat")  # a CSV file's columns that must be there
# The words of each field in the sentences, and the longest text each column holds (migration 0018).
WORDS = {
    "register_id": "编码",
    "name": "名称",
    "address_text": "地址",
    "district": "区县",
    "street": "街道",
    "community": "社区",
    "road": "道路",
    "house_number": "门牌号",
    "building": "楼栋",
    "unit": "单元",
    "kind": "类型",
    "aliases": "别名",
    "lon": "经度",
    "lat": "纬度",
    "approximate": "位置近似",
}
LENGTHS = {
    "register_id": 64,
    "name": 100,
    "address_text": 200,
    "district": 50,
    "street": 50,
    "community": 50,
    "road": 50,
    "house_number": 30,
    "building": 50,
    "unit": 30,
}
ALIAS_LENGTH = 100
ALIAS_SEPARATORS = str.maketrans({"；": "|", ";": "|"})
KINDS = {
    "门牌": "house",
    "house": "house",
    "楼栋": "building",
    "building": "building",
    "兴趣点": "poi",
    "poi": "poi",
}
YES = {"是", "true", "yes", "1", "y"}
NO = {"否", "false", "no", "0", "n", ""}
CRS_WORDS = {CRS.GCJ02: "GCJ-02", CRS.BD09: "BD-09"}


@dataclass(frozen=True, slots=True)
class AddressRecord:
    """One address of the register, its point in WGS 84; ``kind`` is house, building or poi."""

    register_id: str
    address_text: str
    kind: str
    lon: float
    lat: float
    name: str | None = None
    district: str | None = None
    street: str | None = None
    community: str | None = None
    road: str | None = None
    house_number: str | None = None
    building: str | None = None
    unit: str | None = None
    aliases: tuple[str, ...] = ()
    approximate: bool = False


LAYOUT = Layout(
    name="地址库",
    field_of=lambda name: HEADER.get(name.lower()),
    words=WORDS,
    required=REQUIRED,
    empty="文件是空的：第 1 行应为列名（如 编码、地址、经度、纬度）",
    missing_hint="（列名见使用说明）",
    feature="地址",
    properties="编码、地址",
    too_many_features="文件的要素超过 {:,} 个",
    too_many_rows="文件超过 {:,} 行",
)


def read_register(data: bytes, *, crs: CRS = CRS.WGS84) -> Register:
    """The records of a register file (GeoJSON when it starts with ``{``, else CSV), checked whole."""
    check = partial(_records, crs=crs)
    return read(data, LAYOUT, check, max_bytes=MAX_BYTES, max_rows=MAX_ROWS)


# -- checking --------------------------------------------------------------------------------------------


def _text(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _number(value) -> float | None:
    """A coordinate as a number; None when it is not one (JSON true is not a number)."""
    if isinstance(value, bool):
        return None
    try:
        return float(str(value).strip()) if value is not None else None
    except ValueError:
        return None


def _aliases(value) -> list[str]:
    if isinstance(value, list):
        return [a for a in map(_text, value) if a]
    text = _text(value) or ""
    return [a.strip() for a in text.translate(ALIAS_SEPARATORS).split("|") if a.strip()]


def _records(rows: list[Row], register: Register, crs: CRS) -> list[AddressRecord]:
    """Check every row and make its record; the points are converted all at once."""
    seen: dict[str, str] = {}
    checked: list[tuple[str, dict]] = []
    for where, values in rows:
        problems = []
        out: dict = {}
        for key, limit in LENGTHS.items():
            text = _text(values.get(key))
            if text is not None and not _storable(text):
                problems.append(f"{WORDS[key]}含有空字符或无效的字符编码")
                text = None
            elif text is not None and len(text) > limit:
                problems.append(f"{WORDS[key]}太长（{len(text)} 个字，最多 {limit} 个字）")
            out[key] = text
        if out["register_id"] is None:
            problems.append("没有编码，请补上地址库的编码")
        elif (first := seen.setdefault(out["register_id"], where)) != where:
            problems.append(f"编码 {out['register_id']} 与{first}重复，每个地址的编码应唯一")
        if out["address_text"] is None:
            problems.append("没有地址，请补上完整的地址")
        kind = _text(values.get("kind"))
        out["kind"] = KINDS.get(kind.lower()) if kind else "house"
        if out["kind"] is None:
            problems.append(f"类型“{kind}”不认识：应为 门牌、楼栋 或 兴趣点")
        aliases = _aliases(values.get("aliases"))
        if len(aliases) > MAX_ALIASES:
            problems.append(f"别名太多（{len(aliases)} 个，最多 {MAX_ALIASES} 个）")
        for alias in aliases:
            if len(alias) > ALIAS_LENGTH or not _storable(alias):
                problems.append(f"别名“{alias[:20]}”太长或含有无效的字符（每个别名最多 {ALIAS_LENGTH} 个字）")
        out["aliases"] = tuple(dict.fromkeys(aliases))
        approximate = (_text(values.get("approximate")) or "").lower()
        if isinstance(values.get("approximate"), bool):
            out["approximate"] = values["approximate"]
        elif approximate in YES | NO:
            out["approximate"] = approximate in YES
        else:
            problems.append(f"位置近似应填 是 或 否，而不是“{approximate[:20]}”")
        lon, lat = _number(values.get("lon")), _number(values.get("lat"))
        problems += _point_problems(lon, lat, crs)
        if problems:
            for problem in problems:
                register.error(f"{where}：{problem}")
            continue
        out["lon"], out["lat"] = lon, lat
        checked.append((where, out))
    if not register.ok or not checked:
        return []
    lons, lats = to_wgs84_arrays([o["lon"] for _, o in checked], [o["lat"] for _, o in checked], crs)
    return [
        AddressRecord(**{**o, "lon": float(x), "lat": float(y)})
        for (_, o), x, y in zip(checked, lons, lats, strict=True)
    ]


def _point_problems(lon: float | None, lat: float | None, crs: CRS) -> list[str]:
    if lon is None or lat is None:
        return ["经度和纬度应为数字（如 117.0213 和 36.6512），请补上或改正"]
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return ["经度和纬度应为有限的数字，请改正"]
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        return [f"经纬度（{lon}, {lat}）超出范围：经度应在 -180 到 180 之间，纬度应在 -90 到 90 之间"]
    if crs in CRS_WORDS and not _in_china(np.array(lon), np.array(lat)):
        return [
            f"经纬度（{lon}, {lat}）在中国境外，而 {CRS_WORDS[crs]} 坐标只用于中国境内："
            "请核对坐标和所选的坐标系"
        ]
    return []
