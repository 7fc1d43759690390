"""Offline point lookup over cached grid polygons (shapely only): what the phone app uses."""

from __future__ import annotations

from collections.abc import Iterable

import shapely
from shapely.geometry import Point, box

from gis.crs import CRS, to_wgs84
from grids.records import GridRecord


class Locator:
    """Finds the chain of grids holding a point: root first, deepest last.

    On a shared boundary the deepest covering grid with the lowest code wins (the server's rule too)."""

    def __init__(self, records: Iterable[GridRecord]) -> None:
        self._records = sorted(records, key=lambda r: r.code)
        self._by_code = {r.code: r for r in self._records}
        self._depth = {r.code: self._depth_of(r) for r in self._records}
        geoms = [r.geometry for r in self._records]
        shapely.prepare(geoms)
        self._tree = shapely.STRtree(geoms)

    def _depth_of(self, rec: GridRecord) -> int:
        depth = 0
        while rec.parent_code in self._by_code:
            rec = self._by_code[rec.parent_code]
            depth += 1
        return depth

    def __len__(self) -> int:
        return len(self._records)

    def locate(self, lon: float, lat: float, crs: CRS = CRS.WGS84) -> list[GridRecord]:
        x, y = to_wgs84(lon, lat, crs)
        hits = [self._records[i] for i in self._tree.query(Point(x, y), predicate="covered_by")]
        if not hits:
            return []
        deepest = min(hits, key=lambda r: (-self._depth[r.code], r.code))
        chain = [deepest]
        while chain[-1].parent_code in self._by_code:
            chain.append(self._by_code[chain[-1].parent_code])
        return chain[::-1]

    def grids_in_bbox(self, west: float, south: float, east: float, north: float) -> list[GridRecord]:
        found = self._tree.query(box(west, south, east, north), predicate="intersects")
        return [self._records[i] for i in sorted(found)]
