"""The topology check on small synthetic cities near Jinan (0.01 degree is about 890 m x 1,110 m)."""

from __future__ import annotations

import pytest
from shapely.geometry import MultiPolygon, Polygon, box

from grids.records import GridRecord
from grids.topology import Thresholds, check_topology

LEVELS = {6: "district", 9: "street", 12: "village", 15: "unit"}


def grid(
    code: str, west: float, south: float, east: float, north: float, parent: str | None = None
) -> GridRecord:
    level = "city" if code.endswith("00") and len(code) == 6 else LEVELS[len(code)]
    if parent is None and level != "city":
        parent = code[:4] + "00" if level == "district" else code[: {9: 6, 12: 9, 15: 12}[len(code)]]
    return GridRecord(code, f"网格{code}", level, parent, MultiPolygon([box(west, south, east, north)]))


def city(*streets: GridRecord) -> list[GridRecord]:
    """City 370100 = district 370102 = [117.00, 117.02] x [36.60, 36.61], with the given streets."""
    return [grid("370100", 117.0, 36.6, 117.02, 36.61), grid("370102", 117.0, 36.6, 117.02, 36.61), *streets]


WEST = grid("370102001", 117.0, 36.6, 117.01, 36.61)
EAST = grid("370102002", 117.01, 36.6, 117.02, 36.61)


def only(report, kind):
    (issue,) = [i for i in report.issues if i.kind == kind]
    return issue


def test_a_clean_hierarchy_has_no_issues():
    report = check_topology(city(WEST, EAST))
    assert report.ok and report.issues == [] and report.checked == 4
    assert report.format_text().endswith("共检查 4 个网格：0 个错误，0 个警告")


def test_child_outside_its_parent():
    crossing = grid("370102002", 117.01, 36.6, 117.021, 36.61)  # 0.001 deg (89 m) east of the city
    issue = only(check_topology(city(WEST, crossing)), "outside_parent")
    assert issue.severity == "error" and issue.code == "370102002" and issue.other_code == "370102"
    assert issue.area_m2 == pytest.approx(89.4 * 1110, rel=0.02)
    assert issue.message.startswith("网格 370102002 有 99,")
    assert issue.message.endswith(" 平方米超出了上级网格 370102 的范围，请修正边界")


def test_within_tolerance_is_not_outside():
    nudged = grid("370102002", 117.01, 36.6, 117.02000001, 36.61)  # 0.9 mm out
    assert not [i for i in check_topology(city(WEST, nudged)).issues if i.kind == "outside_parent"]


def test_overlapping_siblings():
    wide = grid("370102001", 117.0, 36.6, 117.011, 36.61)
    issue = only(check_topology(city(wide, EAST)), "overlap")
    assert issue.severity == "error" and {issue.code, issue.other_code} == {"370102001", "370102002"}
    assert issue.area_m2 == pytest.approx(89.4 * 1110, rel=0.02)
    assert "重叠了" in issue.message


def test_gap_is_a_warning_and_thresholds_apply():
    narrow = grid("370102001", 117.0, 36.6, 117.009, 36.61)
    report = check_topology(city(narrow, EAST))
    issue = only(report, "gap")
    assert report.ok and issue.severity == "warning" and issue.code == "370102"
    assert issue.area_m2 == pytest.approx(89.4 * 1110, rel=0.02)
    assert not check_topology(city(narrow, EAST), thresholds=Thresholds(gap_m2=200_000)).issues


@pytest.mark.parametrize(
    ("record", "kind", "text"),
    [
        (grid("370102001", 117.0, 36.6, 117.01, 36.61), "duplicate_code", "出现了 2 次"),
        (
            GridRecord("370103001", "x", "street", "370102", WEST.geometry),
            "code_not_extending_parent",
            "没有沿用上级网格 370102 的编号",
        ),
        (GridRecord("370102003", "x", "village", "370102", WEST.geometry), "level_mismatch", "是街道的编号"),
        (GridRecord("370102003", "x", "street", None, WEST.geometry), "unknown_parent", "缺少上级编号"),
        (
            GridRecord("370199001", "x", "street", "370199", WEST.geometry),
            "unknown_parent",
            "既不在文件中，也没有导入过",
        ),
        (GridRecord("37010200A", "x", "street", "370102", WEST.geometry), "malformed_code", "只能由数字组成"),
        (GridRecord("370102003", "x", "street", "370102", MultiPolygon()), "no_geometry", "没有边界"),
    ],
)
def test_code_and_parent_problems(record, kind, text):
    report = check_topology([*city(WEST, EAST), record])
    issue = only(report, kind)
    assert issue.severity == "error" and text in issue.message


def test_invalid_geometry_given_directly_is_an_error():
    bow_tie = Polygon([(117.0, 36.6), (117.01, 36.61), (117.01, 36.6), (117.0, 36.61)])
    bad = GridRecord("370102003", "x", "street", "370102", MultiPolygon([bow_tie]))
    issue = only(check_topology([*city(WEST, EAST), bad]), "invalid_geometry")
    assert issue.severity == "error" and "边界自相交（位置约在 117.005000 36.605000）" in issue.message


def test_stored_grids_are_context():
    # Importing one new street into a stored district checks it against the stored sibling.
    existing = {g.code: g for g in city(WEST)}
    wide_east = grid("370102002", 117.009, 36.6, 117.02, 36.61)
    report = check_topology([wide_east], existing=existing)
    assert only(report, "overlap").other_code in {"370102001", "370102002"}
    assert check_topology([EAST], existing=existing).ok


def test_progress_is_reported():
    seen = []
    check_topology(city(WEST, EAST), progress=seen.append)
    assert seen and seen[-1] == 4
