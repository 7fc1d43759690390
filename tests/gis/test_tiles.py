"""Web Mercator XYZ tiles."""

from __future__ import annotations

import pytest

from gis.tiles import MAX_LAT, tile_bounds, tile_bounds_mercator, tile_for_point, tiles_for_bbox


def test_world_tile():
    assert tile_bounds(0, 0, 0) == pytest.approx((-180.0, -MAX_LAT, 180.0, MAX_LAT))
    assert tile_bounds_mercator(0, 0, 0) == pytest.approx(
        (-20037508.34, -20037508.34, 20037508.34, 20037508.34)
    )


def test_jinan_tile_at_zoom_14():
    # 大明湖 lies in z14 tile 13517/6395 (as slippy-map tile names compute it).
    x, y = tile_for_point(117.0231, 36.6753, 14)
    assert (x, y) == (13517, 6395)
    west, south, east, north = tile_bounds(14, x, y)
    assert west <= 117.0231 <= east and south <= 36.6753 <= north
    assert east - west == pytest.approx(360 / 2**14)


def test_tiles_for_a_box():
    tiles = tiles_for_bbox(116.9, 36.6, 117.1, 36.7, 12)
    assert all(z == 12 for z, _, _ in tiles)
    assert tile_for_point(117.0, 36.65, 12) in {(x, y) for _, x, y in tiles}


@pytest.mark.parametrize(("z", "x", "y"), [(-1, 0, 0), (25, 0, 0), (1, 2, 0), (3, 0, 8)])
def test_tiles_that_do_not_exist(z, x, y):
    with pytest.raises(ValueError):
        tile_bounds(z, x, y)
