"""The demo cities: Jinan (济南, 370100) with its grids down to unit grids in 历下区 (370102), and Beijing
(北京, 110100) with unit grids in 东城区 (110101).

A city and its districts have real boundaries (``data/<city>_districts.geojson``). Streets and
villages have their real codes and names (``data/<city>_names.csv``) on generated geometry: each parent is
split into as many cells as it has children by a Voronoi partition of evenly spread seed points, clipped to
the parent. One district of each city is covered by unit grids of about 100 m x 100 m (a square grid in
metres clipped to each village). The partition is done in Gauss-Kruger metres and converted to WGS 84
once: children cover their parent with no gap or overlap beyond floating-point rounding. The same seed
always gives the same city. Sources: ``data/ATTRIBUTION.md``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from typing import NamedTuple

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gis.crs import from_metric, to_metric
from gis.geojson import parse_feature_collection
from gis.geometry import as_multipolygon, orient
from grids.records import GridRecord


@dataclass(frozen=True)
class DemoCity:
    key: str  # its package data: data/<key>_districts.geojson and data/<key>_names.csv
    seed: int
    unit_district: str  # the district covered by unit grids


JINAN = DemoCity("jinan", 370100, "370102")  # 历下区
BEIJING = DemoCity("beijing", 110100, "110101")  # 东城区
SEED, UNIT_DISTRICT = JINAN.seed, JINAN.unit_district  # the demo's first city
UNIT_SIZE_M = 100.0
MIN_UNIT_M2 = 2500.0  # clipped cells under a quarter of a unit are merged into a neighbour
MAX_UNITS = 999  # per village: the unit sequence has 3 digits
SAMPLES_PER_SEED = 30
LLOYD_ROUNDS = 8
# Edges straight in metres are curved in longitude/latitude and the other way round: the edges of a grid that
# is partitioned are cut short (districts in degrees, generated grids in metres) so that a child's vertex
# placed on its parent's edge stays on that edge, to well under a millimetre, in either system.
SEGMENT_DEG = 0.0005
SEGMENT_M = 50.0

Progress = Callable[[str, int, int], None]


class _Grid(NamedTuple):
    """A generated grid whose geometry is still in metres."""

    code: str
    name: str
    level: str
    parent_code: str
    geometry: BaseGeometry


def _data(name: str) -> str:
    return files("grids").joinpath("data", name).read_text(encoding="utf-8")


def load_districts(city: DemoCity = JINAN) -> list[GridRecord]:
    """The city and its districts, from the package data."""
    return [
        GridRecord(
            f.properties["code"],
            f.properties["name"],
            f.properties["level"],
            f.properties["parent_code"],
            as_multipolygon(f.geometry),
        )
        for f in parse_feature_collection(_data(f"{city.key}_districts.geojson"))
    ]


def load_names(city: DemoCity = JINAN) -> dict[str, list[tuple[str, str]]]:
    """(code, name) of the streets and villages, by parent code, in code order."""
    children: dict[str, list[tuple[str, str]]] = {}
    for row in csv.DictReader(io.StringIO(_data(f"{city.key}_names.csv"))):
        children.setdefault(row["parent_code"], []).append((row["code"], row["name"]))
    return children


def _silent(stage: str, done: int, total: int) -> None:
    """The default progress callback: report nothing."""


def generate_demo_city(
    *, city: DemoCity = JINAN, seed: int | None = None, progress: Progress | None = None
) -> list[GridRecord]:
    """A demo city's grids, parents before children: city, districts, streets, villages, units (``seed``:
    the city's own by default).

    ``progress(stage, done, total)`` is called as each stage ("streets", "villages", "units") advances."""
    report = progress or _silent
    seed = city.seed if seed is None else seed
    top = load_districts(city)
    root, districts = top[0], top[1:]
    names = load_names(city)
    _, epsg = to_metric(root.geometry)
    districts_m, _ = to_metric(shapely.segmentize([d.geometry for d in districts], SEGMENT_DEG), epsg)

    streets: list[_Grid] = []
    for i, (district, geometry) in enumerate(zip(districts, districts_m, strict=True)):
        streets += _partition(district.code, geometry, names[district.code], "street", seed)
        report("streets", i + 1, len(districts))
    villages: list[_Grid] = []
    for i, street in enumerate(streets):
        villages += _partition(street.code, street.geometry, _villages_of(street, names), "village", seed)
        report("villages", i + 1, len(streets))
    units: list[_Grid] = []
    covered = [v for v in villages if v.parent_code.startswith(city.unit_district)]
    for i, village in enumerate(covered):
        units += _units(village)
        report("units", i + 1, len(covered))

    generated = streets + villages + units
    wgs84 = orient(from_metric(np.array([g.geometry for g in generated], dtype=object), epsg))
    return top + [
        GridRecord(g.code, g.name, g.level, g.parent_code, as_multipolygon(geometry))
        for g, geometry in zip(generated, wgs84, strict=True)
    ]


def _villages_of(street: _Grid, names: dict[str, list[tuple[str, str]]]) -> list[tuple[str, str]]:
    """(code, name) of a street's villages; one generated village when the list has none."""
    return names.get(street.code) or [(f"{street.code}001", f"{street.name}社区")]


def _partition(
    parent_code: str, area: BaseGeometry, children: list[tuple[str, str]], level: str, seed: int
) -> list[_Grid]:
    """Split ``area`` among ``children`` (code, name): a Voronoi partition clipped to the area, the new
    edges cut to SEGMENT_M."""
    rng = np.random.default_rng([seed, int(parent_code)])
    if len(children) == 1:
        cells = [area]
    else:
        seeds = _spread_points(area, len(children), rng)
        diagram = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=area, ordered=True)
        clipped = shapely.intersection(shapely.get_parts(diagram), area)
        cells = [as_multipolygon(c) for c in shapely.segmentize(clipped, SEGMENT_M)]
    return [
        _Grid(code, name, level, parent_code, cell)
        for (code, name), cell in zip(children, cells, strict=True)
    ]


def _spread_points(area: BaseGeometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct points inside ``area``, evenly spread: a few rounds of Lloyd's algorithm over a
    uniform sample, each centre kept on the sample point of its cluster nearest to the cluster's mean.

    Centres are always distinct sample points, so every cluster holds at least its own centre."""
    sample = _sample_inside(area, SAMPLES_PER_SEED * n, rng)
    centres = rng.choice(len(sample), n, replace=False)
    for _ in range(LLOYD_ROUNDS):
        nearest = (((sample[:, None, :] - sample[centres][None, :, :]) ** 2).sum(axis=2)).argmin(axis=1)
        counts = np.bincount(nearest, minlength=n)
        means = np.column_stack([np.bincount(nearest, sample[:, k], n) for k in (0, 1)]) / counts[:, None]
        offset = ((sample - means[nearest]) ** 2).sum(axis=1)
        order = np.lexsort((offset, nearest))
        first = np.r_[True, nearest[order][1:] != nearest[order][:-1]]
        centres = order[first]
    return sample[centres]


def _sample_inside(area: BaseGeometry, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` uniformly random points in the interior of ``area``."""
    shapely.prepare(area)
    west, south, east, north = area.bounds
    fill = area.area / ((east - west) * (north - south))
    found: list[np.ndarray] = []
    total = 0
    while total < count:
        batch = rng.uniform((west, south), (east, north), size=(int((count - total) / fill * 1.2) + 16, 2))
        batch = batch[shapely.contains_xy(area, batch[:, 0], batch[:, 1])]
        found.append(batch)
        total += len(batch)
    return np.concatenate(found)[:count]


def _units(village: _Grid) -> list[_Grid]:
    """Unit grids covering a village, numbered west to east, north to south; a village that would need
    more than 999 gets larger cells."""
    size = UNIT_SIZE_M
    cells = _square_cells(village.geometry, size)
    while len(cells) > MAX_UNITS:
        size *= 1.02 * math.sqrt(len(cells) / MAX_UNITS)
        cells = _square_cells(village.geometry, size)
    return [
        _Grid(f"{village.code}{i:03d}", f"{village.name}第{i:03d}网格", "unit", village.code, cell)
        for i, cell in enumerate(cells, start=1)
    ]


def _square_cells(area: BaseGeometry, size: float) -> list[BaseGeometry]:
    """A square grid of ``size`` metres (aligned on multiples of it) clipped to ``area``, in reading
    order; cells under MIN_UNIT_M2 are merged into the neighbour sharing the longest edge with them."""
    west, south, east, north = area.bounds
    x0, y0 = math.floor(west / size) * size, math.ceil(north / size) * size
    cols, rows = math.ceil((east - x0) / size), math.ceil((y0 - south) / size)
    row, col = np.divmod(np.arange(rows * cols), cols)
    boxes = shapely.box(x0 + col * size, y0 - (row + 1) * size, x0 + (col + 1) * size, y0 - row * size)
    shapely.prepare(area)
    clipped = [as_multipolygon(c) for c in shapely.intersection(boxes[shapely.intersects(area, boxes)], area)]
    cells = np.array([c for c in clipped if c.area > 0], dtype=object)

    areas = shapely.area(cells)
    keep = areas >= MIN_UNIT_M2
    keep[areas.argmax()] = True
    kept = np.flatnonzero(keep)
    parts = {k: [cells[k]] for k in kept}
    for s in np.flatnonzero(~keep):
        shared = shapely.length(shapely.intersection(cells[s].boundary, shapely.boundary(cells[kept])))
        if shared.max() > 0:
            target = kept[shared.argmax()]
        else:
            target = kept[shapely.distance(cells[s], cells[kept]).argmin()]
        parts[target].append(cells[s])
    return [as_multipolygon(shapely.union_all(parts[k])) if len(parts[k]) > 1 else cells[k] for k in kept]
