"""The offline locator: chains, boundaries, CRS, boxes."""

from __future__ import annotations

from gis.crs import CRS, from_wgs84
from grids.locator import Locator
from tests.grids.test_topology import EAST, WEST, city, grid


def test_chain_from_root_to_deepest():
    locator = Locator(city(WEST, EAST))
    assert [g.code for g in locator.locate(117.015, 36.605)] == ["370100", "370102", "370102002"]
    assert locator.locate(118.0, 36.605) == []


def test_shared_boundary_goes_to_the_lowest_code():
    locator = Locator(city(WEST, EAST))
    assert locator.locate(117.01, 36.605)[-1].code == "370102001"


def test_a_gap_resolves_to_the_parent():
    locator = Locator(city(grid("370102001", 117.0, 36.6, 117.009, 36.61), EAST))
    assert [g.code for g in locator.locate(117.0095, 36.605)] == ["370100", "370102"]


def test_other_coordinate_systems():
    locator = Locator(city(WEST, EAST))
    lon, lat = from_wgs84(117.015, 36.605, CRS.GCJ02)
    assert locator.locate(lon, lat, CRS.GCJ02)[-1].code == "370102002"


def test_grids_in_a_box():
    locator = Locator(city(WEST, EAST))
    assert [g.code for g in locator.grids_in_bbox(117.011, 36.601, 117.012, 36.602)] == [
        "370100",
        "370102",
        "370102002",
    ]


def test_ten_thousand_unit_grids():
    units = [
        grid(
            f"370102001{v:03d}{u:03d}",
            117.0 + u * 0.0001,
            36.6 + v * 0.0001,
            117.0001 + u * 0.0001,
            36.6001 + v * 0.0001,
            f"370102001{v:03d}",
        )
        for v in range(1, 101)
        for u in range(1, 101)
    ]
    locator = Locator(units)
    assert len(locator) == 10_000
    assert locator.locate(117.00505, 36.60505)[-1].code == "370102001050050"
