"""What the register files share (the address register, ``grids.addresses``, and the pollution-source
register, ``grids.sources``): the size and the number of rows, checked before anything is parsed, and
reading the file into rows of values by field: CSV (UTF-8 with or without a byte order mark, or GB18030 as
Chinese offices' spreadsheets save it) or GeoJSON (a FeatureCollection of Point features, the point's
coordinates as ``lon`` and ``lat``).

Every problem is collected in a ``Register`` as a Chinese sentence saying where it is ("第 17 行：...": CSV
rows numbered as in a spreadsheet, the header being row 1; "第 3 个要素：..." in GeoJSON). Each register
says how its files are laid out and worded (``Layout``) and checks the values of the rows itself."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from gis.geojson import GeoJSONError, _load

MAX_ERRORS = 1000  # listed; the rest are counted

Row = tuple[str, dict]  # where it is ("第 2 行"), and its values by field


@dataclass
class Register:
    """What a file holds: its records (none when it has errors), the sentences of its errors (at most
    MAX_ERRORS, ``error_count`` counts them all), the rows checked and the columns ignored."""

    records: list = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    checked: int = 0
    ignored: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def error(self, sentence: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(sentence)

    def listed(self) -> list[str]:
        """The errors to show, and how many more there are."""
        more = self.error_count - len(self.errors)
        return self.errors + ([f"还有 {more} 处错误没有列出：请先改正上面的，再检查一次"] if more else [])


@dataclass(frozen=True, slots=True)
class Layout:
    """A kind of register file: its fields and the words of its sentences."""

    name: str  # what the file is called: 地址库
    field_of: Callable[[str], str | None]  # the field a column (or property) name is for; None: ignored
    words: Mapping[str, str]  # what each field is called in the sentences
    required: tuple[str, ...]  # the fields a CSV file's header must have
    empty: str  # the sentence of an empty CSV file
    missing_hint: str  # after "请在列名中加上它们" when the header lacks a required column
    feature: str  # what one feature of a GeoJSON file is: 地址
    properties: str  # the properties a feature without any should have: 编码、地址
    too_many_features: str  # a GeoJSON file over the limit ({:,}: the limit): 文件的要素超过 {:,} 个
    too_many_rows: str  # a CSV file over the limit: 文件超过 {:,} 行


Check = Callable[[list[Row], Register], list]  # the records of the rows, errors going to the register


def read(data: bytes, layout: Layout, check: Check, *, max_bytes: int, max_rows: int) -> Register:
    """The records of a register file (GeoJSON when it starts with ``{``, else CSV), checked whole by
    ``check``: none when it has any error."""
    register = Register()
    advice = f"请把{layout.name}分成几个文件，分别导入"
    if len(data) > max_bytes:
        register.error(f"文件超过 {max_bytes // 2**20} MB 的上限：{advice}")
        return register
    geojson = data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")
    if (data.count(b'"Feature"') if geojson else data.count(b"\n") - 1) > max_rows:
        too_many = layout.too_many_features if geojson else layout.too_many_rows
        register.error(f"{too_many.format(max_rows)}：{advice}")
        return register
    rows = list(_geojson_rows(data, layout, register) if geojson else _csv_rows(data, layout, register))
    register.checked = len(rows)
    records = check(rows, register)
    register.records = records if register.ok else []
    return register


def _decode(data: bytes) -> str | None:
    """The text of a CSV file: UTF-8 (a byte order mark dropped), else GB18030 (which also reads GBK and
    GB2312); None when it is neither."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def _csv_rows(data: bytes, layout: Layout, register: Register) -> Iterator[Row]:
    text = _decode(data)
    if text is None:
        register.error("文件的文字编码无法识别：请在表格软件中另存为 UTF-8 编码的 CSV 后重新导入")
        return
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header:
        register.error(layout.empty)
        return
    keys = [layout.field_of(name.strip()) for name in header]
    register.ignored = [name.strip() for name, key in zip(header, keys, strict=True) if key is None]
    missing = [layout.words[key] for key in layout.required if key not in keys]
    if missing:
        register.error(f"第 1 行缺少 {'、'.join(missing)} 列：请在列名中加上它们{layout.missing_hint}")
        return
    try:
        for number, values in enumerate(reader, start=2):
            if not any(v.strip() for v in values):
                continue  # a blank row, as spreadsheets leave at the end
            yield f"第 {number} 行", {k: v for k, v in zip(keys, values, strict=False) if k is not None}
    except csv.Error:
        register.error(f"第 {reader.line_num} 行附近的引号没有配对：请检查这一行的引号")


def _geojson_rows(data: bytes, layout: Layout, register: Register) -> Iterator[Row]:
    try:
        obj = _load(data)
    except GeoJSONError as exc:
        register.error(str(exc))
        return
    collection = isinstance(obj, dict) and obj.get("type") == "FeatureCollection"
    features = obj.get("features") if collection else None
    if not isinstance(features, list):
        register.error(f"文件应为 GeoJSON 要素集合（FeatureCollection），每个{layout.feature}一个点要素")
        return
    for i, item in enumerate(features, start=1):
        where = f"第 {i} 个要素"
        props = item.get("properties") if isinstance(item, dict) else None
        geometry = item.get("geometry") if isinstance(item, dict) else None
        if not isinstance(props, dict):
            register.error(f"{where}：没有属性（properties），请补上{layout.properties}等属性")
            continue
        point = geometry.get("coordinates") if isinstance(geometry, dict) else None
        if not isinstance(geometry, dict) or geometry.get("type") != "Point" or not isinstance(point, list):
            register.error(f"{where}：几何应为点（Point），请检查文件")
            continue
        values = {key: v for k, v in props.items() if (key := layout.field_of(k)) is not None}
        values["lon"], values["lat"] = ([*point, None, None])[:2]
        for name in props:
            if layout.field_of(name) is None and name not in register.ignored:
                register.ignored.append(name)
        yield where, values
