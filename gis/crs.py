"""Coordinate systems: WGS 84 (= CGCS2000 for our purposes), GCJ-02, BD-09, and metric work.

GCJ-02 (AMap, Tencent) and BD-09 (Baidu) are accepted at the edge and converted to WGS 84; they are
never stored. The forward transforms are the published ones; their inverses have no closed form and are
iterated until both coordinates move less than 1e-7 degrees. Areas and lengths are geodesic on the
WGS 84 ellipsoid; metric geometry work uses the CGCS2000 3-degree Gauss-Kruger zone of the data.

pyproj is imported only by the metric functions, so the phone app (which converts and locates but measures
nothing geodesic) runs without it.
"""

from __future__ import annotations

import math
from enum import StrEnum
from functools import lru_cache

import numpy as np
import shapely

_A = 6378245.0  # Krasovsky 1940 semi-major axis, as used by GCJ-02
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = np.pi * 3000.0 / 180.0
_TOLERANCE = 1e-7
_MAX_ITERATIONS = 30


class CRS(StrEnum):
    WGS84 = "wgs84"
    CGCS2000 = "cgcs2000"
    GCJ02 = "gcj02"
    BD09 = "bd09"


_ALIASES = {
    "wgs84": CRS.WGS84, "wgs-84": CRS.WGS84, "epsg:4326": CRS.WGS84, "4326": CRS.WGS84,
    "cgcs2000": CRS.CGCS2000, "epsg:4490": CRS.CGCS2000, "4490": CRS.CGCS2000,
    "gcj02": CRS.GCJ02, "gcj-02": CRS.GCJ02,
    "bd09": CRS.BD09, "bd-09": CRS.BD09,
}  # fmt: skip


def parse_crs(name: str) -> CRS:
    try:
        return _ALIASES[name.strip().lower()]
    except KeyError:
        raise ValueError(
            f"unknown coordinate system {name!r}: use wgs84 (EPSG:4326), cgcs2000 (EPSG:4490), gcj02 or bd09"
        ) from None


def check_lonlat(lon: float, lat: float) -> None:
    """Raise ValueError naming the value when a coordinate is not a longitude/latitude."""
    if not np.isfinite(lon) or not -180.0 <= lon <= 180.0:
        raise ValueError(f"longitude {lon} is out of range -180..180")
    if not np.isfinite(lat) or not -90.0 <= lat <= 90.0:
        raise ValueError(f"latitude {lat} is out of range -90..90")


# -- GCJ-02 and BD-09 --------------------------------------------------------------------------------


def _in_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)


def _gcj_offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The GCJ-02 shift (dlon, dlat) in degrees at WGS 84 positions."""
    x, y = lon - 105.0, lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x + common
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x + common
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad) * np.pi)
    inside = _in_china(lon, lat)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def _wgs84_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def _invert(forward, lon: np.ndarray, lat: np.ndarray, guess) -> tuple[np.ndarray, np.ndarray]:
    """Solve forward(w) = (lon, lat) by fixed-point iteration from ``guess``, to 1e-7 degrees. Each point
    stops on its own, so a point converts the same whatever else is in the batch."""
    wlon, wlat = (np.array(g, dtype=float) for g in guess)
    active = np.ones(wlon.shape, dtype=bool)
    for _ in range(_MAX_ITERATIONS):
        flon, flat = forward(wlon[active], wlat[active])
        elon, elat = flon - lon[active], flat - lat[active]
        wlon[active] -= elon
        wlat[active] -= elat
        still = (np.abs(elon) >= _TOLERANCE) | (np.abs(elat) >= _TOLERANCE)
        active[active] = still
        if not active.any():
            break
    return wlon, wlat


def _gcj02_to_wgs84(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _invert(_wgs84_to_gcj02, lon, lat, (lon, lat))


def _gcj02_to_bd09(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _bd09_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Baidu's published inverse as the first guess, refined by iteration."""
    x, y = lon - 0.0065, lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return _invert(_gcj02_to_bd09, lon, lat, (z * np.cos(theta), z * np.sin(theta)))


def _arrays(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def to_wgs84_arrays(lon, lat, crs: CRS) -> tuple[np.ndarray, np.ndarray]:
    """Convert arrays of coordinates in ``crs`` to WGS 84."""
    lon, lat = _arrays(lon, lat)
    if crs is CRS.GCJ02:
        return _gcj02_to_wgs84(lon, lat)
    if crs is CRS.BD09:
        return _gcj02_to_wgs84(*_bd09_to_gcj02(lon, lat))
    return lon, lat


def from_wgs84_arrays(lon, lat, crs: CRS) -> tuple[np.ndarray, np.ndarray]:
    """Convert arrays of WGS 84 coordinates to ``crs``."""
    lon, lat = _arrays(lon, lat)
    if crs is CRS.GCJ02:
        return _wgs84_to_gcj02(lon, lat)
    if crs is CRS.BD09:
        return _gcj02_to_bd09(*_wgs84_to_gcj02(lon, lat))
    return lon, lat


def _scalar(func, lon: float, lat: float, crs: CRS) -> tuple[float, float]:
    x, y = func([lon], [lat], crs)
    return float(x[0]), float(y[0])


def to_wgs84(lon: float, lat: float, crs: CRS) -> tuple[float, float]:
    return _scalar(to_wgs84_arrays, lon, lat, crs)


def from_wgs84(lon: float, lat: float, crs: CRS) -> tuple[float, float]:
    return _scalar(from_wgs84_arrays, lon, lat, crs)


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    return from_wgs84(lon, lat, CRS.GCJ02)


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    return to_wgs84(lon, lat, CRS.GCJ02)


def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    return from_wgs84(lon, lat, CRS.BD09)


def bd09_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    return to_wgs84(lon, lat, CRS.BD09)


def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    x, y = _gcj02_to_bd09(*_arrays([lon], [lat]))
    return float(x[0]), float(y[0])


def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    x, y = _bd09_to_gcj02(*_arrays([lon], [lat]))
    return float(x[0]), float(y[0])


def _transform_geometry(geom, func, crs: CRS):
    if crs in (CRS.WGS84, CRS.CGCS2000):
        return geom

    def convert(coords: np.ndarray) -> np.ndarray:
        x, y = func(coords[:, 0], coords[:, 1], crs)
        return np.column_stack([x, y])

    return shapely.transform(geom, convert)


def geometry_to_wgs84(geom, crs: CRS):
    """A shapely geometry in ``crs`` converted to WGS 84 (every vertex)."""
    return _transform_geometry(geom, to_wgs84_arrays, crs)


def geometry_from_wgs84(geom, crs: CRS):
    return _transform_geometry(geom, from_wgs84_arrays, crs)


# -- metric work --------------------------------------------------------------------------------------


def gk_epsg(lon: float) -> int:
    """EPSG code of the CGCS2000 3-degree Gauss-Kruger zone (central meridian in the name, no zone
    prefix in the easting) holding ``lon``: 4534 (75E) ... 4554 (135E)."""
    if not 73.5 <= lon <= 136.5:
        raise ValueError(f"longitude {lon} is outside the CGCS2000 Gauss-Kruger zones (73.5E..136.5E)")
    central = min(max(round(lon / 3.0) * 3, 75), 135)
    return 4534 + (central - 75) // 3


@lru_cache(maxsize=64)
def _transformer(source: int, target: int):
    from pyproj import Transformer

    return Transformer.from_crs(source, target, always_xy=True)


@lru_cache(maxsize=1)
def _geod():
    from pyproj import Geod

    return Geod(ellps="WGS84")


def to_metric(geom, epsg: int | None = None):
    """(geometry in metres, epsg): projected to ``epsg`` or to the GK zone of its centre."""
    if epsg is None:
        epsg = gk_epsg(shapely.centroid(shapely.envelope(geom)).x)
    transformer = _transformer(4326, epsg)
    return shapely.transform(geom, lambda c: np.column_stack(transformer.transform(c[:, 0], c[:, 1]))), epsg


def from_metric(geom, epsg: int):
    transformer = _transformer(epsg, 4326)
    return shapely.transform(geom, lambda c: np.column_stack(transformer.transform(c[:, 0], c[:, 1])))


def area_m2(geom) -> float:
    """Geodesic area in square metres (WGS 84 ellipsoid)."""
    area, _ = _geod().geometry_area_perimeter(geom)
    return abs(area)


def length_m(geom) -> float:
    """Geodesic length in metres: of a line, or the perimeter of a polygon."""
    return _geod().geometry_length(geom)


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    _, _, dist = _geod().inv(lon1, lat1, lon2, lat2)
    return dist


EARTH_RADIUS_M = 6_371_008.8  # mean radius


def sphere_distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres on a sphere of the Earth's mean radius (haversine): within 0.5 % of
    :func:`distance_m`, with no pyproj, for the phone."""
    lon1, lat1, lon2, lat2 = map(math.radians, (lon1, lat1, lon2, lat2))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))
