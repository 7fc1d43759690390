"""Levels and codes (docs/DOMAIN.md section 2)."""

from __future__ import annotations

import pytest

from grids.codes import GridCode, GridCodeError, check_extends
from grids.levels import DEFAULT_SCHEME, LevelScheme


@pytest.mark.parametrize(
    ("code", "level", "parent", "path"),
    [
        ("370100", "city", None, "370100"),
        ("370102", "district", "370100", "370100.370102"),
        ("370102001", "street", "370102", "370100.370102.370102001"),
        ("370102001001", "village", "370102001", "370100.370102.370102001.370102001001"),
        ("370102001001012", "unit", "370102001001", "370100.370102.370102001.370102001001.370102001001012"),
    ],
)
def test_levels_parents_and_paths(code, level, parent, path):
    parsed = GridCode.parse(code)
    assert parsed.level == level
    assert (parsed.parent.value if parsed.parent else None) == parent
    assert parsed.ltree_path == path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "网格编号为空"),
        ("37010A", "只能由数字组成"),
        ("３７０１０２", "只能由数字组成"),  # full-width digits
        ("3701020", "有 7 位，应为 6、9、12 或 15 位"),
        ("370102000", "街道的编号 370102000 中本级的几位数字（000）不能全为 0"),
        ("370102001001000", "单元网格的编号 370102001001000 中本级的几位数字（000）不能全为 0"),
    ],
)
def test_malformed_codes_are_explained(text, message):
    with pytest.raises(GridCodeError, match=message):
        GridCode.parse(text)


def test_extension_and_ancestry():
    street = GridCode.parse("370102001")
    assert street.extends("370102") and not street.extends("370103")
    assert GridCode.parse("370100").is_ancestor_of(GridCode.parse("370102001001"))
    assert not GridCode.parse("370103").is_ancestor_of(street)
    assert (
        check_extends("370103001", "370102") == "编号 370103001 没有沿用上级编号 370102（应以上级编号开头）"
    )
    assert check_extends("370102001", "370102") is None
    assert GridCode.parse(" 370102 ") == GridCode.parse("370102")


def test_default_scheme():
    assert DEFAULT_SCHEME.names == ["city", "district", "street", "village", "unit"]
    assert DEFAULT_SCHEME.get("unit").label == "单元网格"
    assert DEFAULT_SCHEME.child_of("village").name == "unit" and DEFAULT_SCHEME.child_of("unit") is None
    assert DEFAULT_SCHEME.parent_of("city") is None


def test_a_city_can_configure_its_own_levels():
    # The older CJ/T 213 numbering: unit grids with a 2-digit sequence (14 digits).
    scheme = LevelScheme.from_spec("city:6:4,district:6,street:9,village:12,unit:14")
    unit = GridCode.parse("37010200100112", scheme)
    assert unit.level == "unit" and unit.parent.value == "370102001001"
    with pytest.raises(GridCodeError, match="应为 6、9、12 或 14 位"):
        GridCode.parse("370102001001012", scheme)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("city", "bad level"),
        ("city:6,city:9", "repeat"),
        ("city:9,district:6", "longer codes"),
        ("", "bad level"),
    ],
)
def test_bad_schemes_are_explained(spec, message):
    with pytest.raises(ValueError, match=message):
        LevelScheme.from_spec(spec)


def test_unknown_level_is_explained():
    with pytest.raises(ValueError, match="unknown level 'ward': expected one of city, district"):
        DEFAULT_SCHEME.get("ward")
