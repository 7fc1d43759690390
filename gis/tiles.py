"""Web Mercator XYZ tiles: bounds and the tiles covering a point or a box."""

from __future__ import annotations

import math

MAX_ZOOM = 24
_ORIGIN = 20037508.342789244  # half the Web Mercator world width, metres
MAX_LAT = 85.0511287798066


def _check(z: int, x: int, y: int) -> None:
    if not 0 <= z <= MAX_ZOOM:
        raise ValueError(f"zoom {z} is out of range 0..{MAX_ZOOM}")
    n = 1 << z
    if not (0 <= x < n and 0 <= y < n):
        raise ValueError(f"tile {z}/{x}/{y} does not exist: x and y must be in 0..{n - 1} at zoom {z}")


def _lat(y: float, n: int) -> float:
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) in degrees."""
    _check(z, x, y)
    n = 1 << z
    return x / n * 360.0 - 180.0, _lat(y + 1, n), (x + 1) / n * 360.0 - 180.0, _lat(y, n)


def tile_bounds_mercator(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) in EPSG:3857 metres."""
    _check(z, x, y)
    size = 2 * _ORIGIN / (1 << z)
    return -_ORIGIN + x * size, _ORIGIN - (y + 1) * size, -_ORIGIN + (x + 1) * size, _ORIGIN - y * size


def tile_for_point(lon: float, lat: float, z: int) -> tuple[int, int]:
    _check(z, 0, 0)
    n = 1 << z
    lat = max(-MAX_LAT, min(MAX_LAT, lat))
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def tiles_for_bbox(
    west: float, south: float, east: float, north: float, z: int
) -> list[tuple[int, int, int]]:
    """Every (z, x, y) tile that a box touches."""
    x0, y0 = tile_for_point(west, north, z)
    x1, y1 = tile_for_point(east, south, z)
    return [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
