"""The grid record: one grid as the pure layers see it (no database)."""

from __future__ import annotations

from dataclasses import dataclass, field

from shapely.geometry import MultiPolygon


@dataclass(frozen=True, slots=True)
class GridRecord:
    """A grid to import, check, locate or export.

    ``geometry`` is a valid WGS 84 MultiPolygon (exterior rings counter-clockwise, RFC 7946).
    ``parent_code`` is None only for a root (the city).
    """

    code: str
    name: str
    level: str
    parent_code: str | None
    geometry: MultiPolygon
    properties: dict = field(default_factory=dict, compare=False, hash=False)
