"""The demo cities: counts, codes, coverage of 历下区 by unit grids, topology, determinism; Beijing."""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np
import pytest
import shapely
from shapely.geometry import box

from grids.codes import check_extends
from grids.demo import (
    BEIJING,
    JINAN,
    UNIT_DISTRICT,
    _Grid,
    _units,
    _villages_of,
    generate_demo_city,
    load_names,
)
from grids.records import GridRecord
from grids.topology import check_topology


@pytest.fixture(scope="module")
def progress() -> list[tuple[str, int, int]]:
    return []


@pytest.fixture(scope="module")
def demo(progress: list[tuple[str, int, int]]) -> list[GridRecord]:
    return generate_demo_city(progress=lambda stage, done, total: progress.append((stage, done, total)))


def fingerprint(records: list[GridRecord]) -> str:
    digest = hashlib.sha256()
    for r in records:
        digest.update(f"{r.code}|{r.name}|{r.level}|{r.parent_code}|".encode())
        digest.update(shapely.to_wkb(r.geometry))
    return digest.hexdigest()


def test_counts(demo: list[GridRecord]) -> None:
    levels = Counter(r.level for r in demo)
    assert (levels["city"], levels["district"], levels["street"], levels["village"]) == (1, 12, 159, 5557)
    assert levels["unit"] == 11_064  # about 10,000 m2 each over the 101 km2 of 历下区
    assert all(r.code.startswith(UNIT_DISTRICT) for r in demo if r.level == "unit")
    assert len({r.code for r in demo}) == len(demo)


def test_real_names(demo: list[GridRecord]) -> None:
    by_code = {r.code: r for r in demo}
    assert by_code["370100"].name == "济南市"
    assert by_code["370102"].name == "历下区"
    assert by_code["370102001"].name == "解放路街道"
    villages: dict[str, list[tuple[str, str]]] = {}
    for r in demo:
        if r.level == "village":
            villages.setdefault(r.parent_code, []).append((r.code, r.name))
    names = load_names()
    assert all(villages[street] == names[street] for street in villages)
    assert len(villages) == 159


def test_codes_extend_parents(demo: list[GridRecord]) -> None:
    codes = {r.code for r in demo}
    for r in demo[1:]:
        assert r.parent_code in codes
        assert check_extends(r.code, r.parent_code) is None


def test_units_numbered_in_reading_order(demo: list[GridRecord]) -> None:
    units: dict[str, list[GridRecord]] = {}
    for r in demo:
        if r.level == "unit":
            units.setdefault(r.parent_code, []).append(r)
    assert len(units) == sum(1 for r in demo if r.level == "village" and r.code.startswith(UNIT_DISTRICT))
    for village, cells in units.items():
        assert [c.code for c in cells] == [f"{village}{i:03d}" for i in range(1, len(cells) + 1)]
        assert len(cells) <= 999
    first = units["370102001002"][0]
    assert first.name.endswith("第001网格")


def test_geometry_valid_wgs84(demo: list[GridRecord]) -> None:
    geoms = np.array([r.geometry for r in demo], dtype=object)
    assert {g.geom_type for g in geoms} == {"MultiPolygon"}
    assert shapely.is_valid(geoms).all()
    assert not shapely.is_empty(geoms).any()
    west, south, east, north = shapely.total_bounds(geoms)
    assert 116 < west < east < 118 and 35.9 < south < north < 37.6


def test_every_point_of_lixia_is_in_a_unit(demo: list[GridRecord]) -> None:
    district = next(r.geometry for r in demo if r.code == UNIT_DISTRICT)
    units = [r.geometry for r in demo if r.level == "unit"]
    west, south, east, north = district.bounds
    rng = np.random.default_rng(0)
    points = shapely.points(rng.uniform((west, south), (east, north), size=(20_000, 2)))
    points = points[shapely.contains(district, points)]
    hits, _ = shapely.STRtree(units).query(points, predicate="intersects")
    assert len(points) > 5_000
    assert np.isin(np.arange(len(points)), hits).all()


def test_topology(demo: list[GridRecord]) -> None:
    report = check_topology(demo)
    assert report.issues == [], report.format_text()


def test_progress(demo: list[GridRecord], progress: list[tuple[str, int, int]]) -> None:
    last = {stage: (done, total) for stage, done, total in progress}
    assert set(last) == {"streets", "villages", "units"}
    assert last["streets"] == (12, 12) and last["villages"] == (159, 159)
    assert last["units"][0] == last["units"][1]


def test_deterministic(demo: list[GridRecord]) -> None:
    assert fingerprint(generate_demo_city()) == fingerprint(demo)


def test_street_without_villages_gets_one() -> None:
    street = _Grid("370102099", "示例街道", "street", "370102", box(0, 0, 1, 1))
    assert _villages_of(street, {}) == [("370102099001", "示例街道社区")]


def test_units_merge_slivers_and_keep_the_village_covered() -> None:
    # 1000.1 m wide: the last 0.1 m column of cells (10 m2 each) is merged into its neighbours.
    village = _Grid("370102001002", "示例社区", "village", "370102001", box(0, 0, 1000.1, 1000))
    units = _units(village)
    assert len(units) == 100
    assert units[0].geometry.bounds == (0, 900, 100, 1000)
    assert units[9].geometry.bounds == (900, 900, 1000.1, 1000)
    assert units[-1].code == "370102001002100"
    assert shapely.union_all([u.geometry for u in units]).equals(village.geometry)
    assert sum(u.geometry.area for u in units) == pytest.approx(village.geometry.area)


def test_units_grow_to_fit_999() -> None:
    village = _Grid("370102001002", "示例社区", "village", "370102001", box(0, 0, 4000, 4000))
    units = _units(village)
    assert 900 < len(units) <= 999
    assert sum(u.geometry.area for u in units) == pytest.approx(16e6)


def test_the_second_demo_city() -> None:
    """Beijing, from its own package data: its 16 districts, real streets and villages, unit grids in
    东城区, a topology as sound as Jinan's, and no code in common with Jinan's (each city's own codes)."""
    beijing = generate_demo_city(city=BEIJING)
    levels = Counter(r.level for r in beijing)
    assert (levels["city"], levels["district"], levels["street"], levels["village"]) == (1, 16, 349, 7535)
    by_code = {r.code: r for r in beijing}
    assert (by_code["110100"].name, by_code["110101"].name) == ("北京市", "东城区")
    assert {r.parent_code[:6] for r in beijing if r.level == "unit"} == {BEIJING.unit_district}
    west, south, east, north = shapely.total_bounds([r.geometry for r in beijing])
    assert 115.4 < west < east < 117.6 and 39.4 < south < north < 41.1
    report = check_topology(beijing)
    assert report.issues == [], report.format_text()
    assert not {r.code for r in beijing} & {r.code for r in generate_demo_city(city=JINAN)}
