"""The topology check: codes, levels and parents, children inside parents, siblings neither overlapping
nor leaving gaps. Areas are computed in metres, in one CGCS2000 Gauss-Kruger zone for the whole set.
The issues' messages are Chinese: they reach the person importing grids.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import shapely

from gis.crs import gk_epsg, to_metric
from gis.geometry import describe_invalid
from grids.codes import GridCode, GridCodeError
from grids.levels import DEFAULT_SCHEME, LevelScheme
from grids.records import GridRecord

DENSIFY_DEG = 0.0002  # about 20 m


@dataclass(frozen=True)
class Thresholds:
    outside_parent_m: float = 1.0  # a child reaching further than this outside its parent is an error
    overlap_m2: float = 1.0  # siblings overlapping by more than this are an error
    gap_m2: float = 1.0  # children leaving more than this of their parent uncovered is a warning


@dataclass
class Issue:
    severity: Literal["error", "warning"]
    kind: str
    code: str | None
    message: str
    area_m2: float | None = None
    other_code: str | None = None


@dataclass
class TopologyReport:
    issues: list[Issue] = field(default_factory=list)
    checked: int = 0

    def error(self, kind: str, code: str | None, message: str, **extra) -> None:
        self.issues.append(Issue("error", kind, code, message, **extra))

    def warning(self, kind: str, code: str | None, message: str, **extra) -> None:
        self.issues.append(Issue("warning", kind, code, message, **extra))

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "issues": [asdict(i) for i in self.issues],
        }

    def format_text(self) -> str:
        """For a person: a line per issue (错误 or 警告, the grid, what to do), then the counts."""
        words = {"error": "错误", "warning": "警告"}
        lines = [f"{words[i.severity]}  {i.code or '-':<16}{i.message}" for i in self.issues]
        lines.append(f"共检查 {self.checked} 个网格：{len(self.errors)} 个错误，{len(self.warnings)} 个警告")
        return "\n".join(lines)


def m2(area: float) -> str:
    return f"{area:,.0f} 平方米" if area >= 10 else f"{area:.2f} 平方米"


def impossible_parent(code: str, exc: GridCodeError) -> str:
    """The message for a valid code that extends a code no grid can have (e.g. village 370102000001 of
    street 370102000)."""
    return f"网格 {code} 的上级编码不可能存在（{exc}），请检查编码"


def check_topology(
    records: list[GridRecord],
    *,
    existing: Mapping[str, GridRecord] | None = None,
    thresholds: Thresholds = Thresholds(),
    scheme: LevelScheme = DEFAULT_SCHEME,
    progress: Callable[[int], None] | None = None,
) -> TopologyReport:
    """Check ``records`` as a set, with ``existing`` (stored grids around them: their parents and those
    parents' other children) as context. ``progress(done)`` is called as records are checked."""
    report = TopologyReport(checked=len(records))
    usable = _check_codes(records, existing or {}, scheme, report)
    context = {**(existing or {}), **usable}
    _check_geometry(usable, context, thresholds, report, progress)
    return report


def _check_codes(
    records: list[GridRecord], existing: Mapping[str, GridRecord], scheme: LevelScheme, report: TopologyReport
) -> dict[str, GridRecord]:
    """Codes, levels and parents; returns the records whose geometry can be checked, by code."""
    counts = Counter(r.code for r in records)
    for code, n in sorted(counts.items()):
        if n > 1:
            report.error("duplicate_code", code, f"编号 {code} 在文件中出现了 {n} 次，每个网格只能出现一次")
    in_set = {r.code for r in records}
    usable: dict[str, GridRecord] = {}
    for rec in records:
        try:
            code = GridCode.parse(rec.code, scheme)
        except GridCodeError as exc:
            report.error("malformed_code", rec.code, str(exc))
            continue
        try:
            expected_parent = code.parent
        except GridCodeError as exc:
            report.error("malformed_code", rec.code, impossible_parent(rec.code, exc))
            continue
        label = scheme.get(code.level).label
        if rec.level != code.level:
            report.error(
                "level_mismatch",
                rec.code,
                f"网格 {rec.code} 的层级写的是“{rec.level}”，但它的编号是{label}的编号",
            )
            continue
        if expected_parent is None and rec.parent_code is not None:
            report.error(
                "code_not_extending_parent",
                rec.code,
                f"网格 {rec.code} 是{label}，没有上级网格：请删去它的上级编号（parent_code）",
            )
            continue
        if expected_parent is not None:
            if rec.parent_code is None:
                report.error(
                    "unknown_parent", rec.code, f"网格 {rec.code} 缺少上级编号（parent_code），请补上"
                )
                continue
            if rec.parent_code != expected_parent.value:
                report.error(
                    "code_not_extending_parent",
                    rec.code,
                    f"网格 {rec.code} 的编号没有沿用上级网格 {rec.parent_code} 的编号，请检查编号或上级编号",
                    other_code=rec.parent_code,
                )
                continue
            if rec.parent_code not in in_set and rec.parent_code not in existing:
                report.error(
                    "unknown_parent",
                    rec.code,
                    f"网格 {rec.code} 的上级网格 {rec.parent_code} 既不在文件中，也没有导入过："
                    "请先导入上级网格，或把它放在同一个文件中",
                    other_code=rec.parent_code,
                )
                continue
        if rec.geometry is None or rec.geometry.is_empty:
            report.error("no_geometry", rec.code, f"网格 {rec.code} 没有边界，请补上边界")
            continue
        if not rec.geometry.is_valid:
            reason = describe_invalid(shapely.is_valid_reason(rec.geometry))
            report.error("invalid_geometry", rec.code, f"网格 {rec.code} 的边界无效：{reason}，请修正边界")
            continue
        if counts[rec.code] == 1:
            usable[rec.code] = rec
    return usable


def _check_geometry(
    usable: dict[str, GridRecord],
    context: dict[str, GridRecord],
    thresholds: Thresholds,
    report: TopologyReport,
    progress: Callable[[int], None] | None,
) -> None:
    if not usable:
        return
    codes = sorted(context)
    index = {code: i for i, code in enumerate(codes)}
    raw = np.array([context[c].geometry for c in codes], dtype=object)
    centre = shapely.centroid(shapely.envelope(shapely.GeometryCollection(list(raw))))
    # Edges are straight in longitude/latitude: densify before projecting so they stay where they are.
    metric, _ = to_metric(shapely.segmentize(raw, DENSIFY_DEG), gk_epsg(centre.x))
    shapely.prepare(metric)

    children: dict[str, list[str]] = defaultdict(list)
    for code in codes:
        parent = context[code].parent_code
        if parent is not None and parent in index:
            children[parent].append(code)

    done = 0
    for parent, kids in sorted(children.items()):
        checked_kids = [k for k in kids if k in usable]
        if not checked_kids and parent not in usable:
            continue
        parent_geom = metric[index[parent]]
        kid_geoms = metric[[index[k] for k in kids]]
        _outside_parent(parent, parent_geom, checked_kids, metric, index, thresholds, report)
        _overlaps(kids, kid_geoms, set(checked_kids), thresholds, report)
        _gap(parent, parent_geom, kid_geoms, thresholds, report)
        done += len(checked_kids)
        if progress:
            progress(done)
    if progress:
        progress(len(usable))


def _outside_parent(parent, parent_geom, kids, metric, index, thresholds, report) -> None:
    if not kids:
        return
    geoms = metric[[index[k] for k in kids]]
    grown = shapely.buffer(parent_geom, thresholds.outside_parent_m)
    shapely.prepare(grown)
    outside = ~shapely.covers(grown, geoms)
    for kid, geom in zip(np.array(kids)[outside], geoms[outside], strict=True):
        area = shapely.area(shapely.difference(geom, parent_geom))
        report.error(
            "outside_parent",
            str(kid),
            f"网格 {kid} 有 {m2(area)}超出了上级网格 {parent} 的范围，请修正边界",
            area_m2=round(float(area), 2),
            other_code=parent,
        )


def _overlaps(kids, geoms, checked, thresholds, report) -> None:
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    pairs = left < right
    left, right = left[pairs], right[pairs]
    if not len(left):
        return
    areas = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    for i, j, area in zip(left, right, areas, strict=True):
        if area > thresholds.overlap_m2 and (kids[i] in checked or kids[j] in checked):
            report.error(
                "overlap",
                kids[i],
                f"网格 {kids[i]} 和 {kids[j]} 重叠了 {m2(area)}，请修正边界",
                area_m2=round(float(area), 2),
                other_code=kids[j],
            )


def _gap(parent, parent_geom, kid_geoms, thresholds, report) -> None:
    covered = shapely.union_all(kid_geoms)
    area = shapely.area(shapely.difference(parent_geom, covered))
    if area > thresholds.gap_m2:
        report.warning(
            "gap",
            parent,
            f"网格 {parent} 有 {m2(area)}不属于任何下级网格，请检查下级网格是否齐全",
            area_m2=round(float(area), 2),
        )
