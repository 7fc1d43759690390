"""The demo city's address register: 示例数据，非真实地址库 (synthetic, not a real address register).

Every register id starts with ``DEMO-``. The communities of 历下区 are real (their names come from
``data/jinan_names.csv``) but their grids' shapes are generated (``grids.demo``), and so is everything
placed in them here: a community named after a road (文化西路社区, 青年东路社区, 历山路社区...) gets
house numbers (门牌) along a made-up line through its grid, odd numbers on one side and even on the other;
the other communities get a few numbered buildings (楼栋) with their units. None of these numbers is the
city's. Beside them, a handful of well-known public places of Jinan (兴趣点) with their public addresses
and positions placed by hand to within a few hundred metres, marked approximate.

The same grids and seed always give the same register."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from shapely.geometry import LineString

from gis.crs import from_metric, to_metric
from grids.addresses import AddressRecord
from grids.demo import SEED, UNIT_DISTRICT
from grids.records import GridRecord

CITY = "济南市"
DISTRICT = UNIT_DISTRICT  # 历下区: the district the register covers
PREFIX = "DEMO-"
ROAD_ENDINGS = ("路", "街", "巷", "大街")
HOUSE_SPACING_M = 30.0  # between two numbers on one side of a road
SIDE_OFFSET_M = 12.0  # from the road's line to a house
MAX_HOUSES = 60  # per road
BUILDINGS = (3, 6)  # numbered buildings per community (the least, the most)
UNITS = (1, 3)  # units per building

# Well-known public places: name, address (their public one), approximate WGS 84 point, aliases.
PLACES = (
    ("泉城广场", "济南市历下区泺源大街", (117.0135, 36.6605), ("泉城广场景区",)),
    ("大明湖", "济南市历下区大明湖路271号", (117.0185, 36.6745), ("大明湖景区", "大明湖公园")),
    ("千佛山", "济南市历下区经十一路18号", (117.0270, 36.6395), ("千佛山景区", "千佛山风景区")),
    ("趵突泉", "济南市历下区趵突泉南路1号", (117.0110, 36.6610), ("趵突泉公园",)),
    ("恒隆广场", "济南市历下区泉城路188号", (117.0200, 36.6635), ("济南恒隆广场", "恒隆")),
    ("山东大学齐鲁医院", "济南市历下区文化西路107号", (117.0125, 36.6550), ("齐鲁医院",)),
    ("山东博物馆", "济南市历下区经十路11899号", (117.0865, 36.6570), ("山东省博物馆", "省博")),
    ("济南奥体中心", "济南市历下区经十路", (117.1165, 36.6555), ("济南奥林匹克体育中心", "奥体中心", "奥体")),
    ("山东大学中心校区", "济南市历城区山大南路27号", (117.0560, 36.6760), ("山大中心校区", "山大")),
)


def community_of(village: str) -> str:
    """A village grid's name as people say it: 文化西路社区居民委员会 -> 文化西路社区."""
    return village.removesuffix("居民委员会")


def road_of(community: str) -> str | None:
    """The road a community is named after (文化西路社区 -> 文化西路), or None."""
    base = community.removesuffix("社区")
    return base if base.endswith(ROAD_ENDINGS) else None


def generate_demo_addresses(grids: Sequence[GridRecord], *, seed: int = SEED) -> list[AddressRecord]:
    """The demo register of the villages of 历下区 among ``grids`` (with their streets and district), then
    the public places."""
    by_code = {g.code: g for g in grids}
    district = by_code[DISTRICT].name
    villages = sorted(
        (g for g in grids if g.level == "village" and g.code.startswith(DISTRICT)), key=lambda g: g.code
    )
    records: list[AddressRecord] = []
    for village in villages:
        rng = np.random.default_rng([seed, int(village.code)])
        community = community_of(village.name)
        parts = {"district": district, "street": by_code[village.parent_code].name, "community": community}
        road = road_of(community)
        if road:
            records += _houses(village, road, parts, rng)
        else:
            records += _buildings(village, community, parts, rng)
    records += [
        AddressRecord(
            register_id=f"{PREFIX}POI-{i:02d}",
            name=name,
            address_text=text,
            kind="poi",
            lon=lon,
            lat=lat,
            district=text[len(CITY) : len(CITY) + 3],
            aliases=aliases,
            approximate=True,
        )
        for i, (name, text, (lon, lat), aliases) in enumerate(PLACES, start=1)
    ]
    return records


def _houses(village: GridRecord, road: str, parts: dict, rng: np.random.Generator) -> list[AddressRecord]:
    """House numbers along a line through the village in a random direction: odd numbers on its left,
    even on its right, numbered from its start; only the houses inside the village are kept."""
    area, epsg = to_metric(village.geometry)
    centre = area.representative_point()
    angle = rng.uniform(0, np.pi)
    reach = max(area.bounds[2] - area.bounds[0], area.bounds[3] - area.bounds[1])
    direction = np.array([np.cos(angle), np.sin(angle)])
    ends = [np.array(centre.coords[0]) + sign * reach * direction for sign in (-1, 1)]
    line = shapely.intersection(LineString(ends), area)
    segment = max(shapely.get_parts(line), key=lambda p: p.length)
    normal = np.array([-direction[1], direction[0]])
    houses = []
    for i, along in enumerate(np.arange(HOUSE_SPACING_M / 2, segment.length, HOUSE_SPACING_M / 2)):
        side = 1 if i % 2 == 0 else -1  # odd numbers on the left
        point = np.array(segment.interpolate(along).coords[0]) + side * SIDE_OFFSET_M * normal
        if area.contains(shapely.Point(point)):
            houses.append(point)
        if len(houses) == MAX_HOUSES:
            break
    points = from_metric(shapely.points(houses), epsg) if houses else []
    records = []
    for n, point in enumerate(points, start=1):
        number = f"{n}号"
        records.append(
            AddressRecord(
                register_id=f"{PREFIX}{village.code}-{n:03d}",
                address_text=f"{CITY}{parts['district']}{road}{number}",
                kind="house",
                lon=round(point.x, 7),
                lat=round(point.y, 7),
                road=road,
                house_number=number,
                **parts,
            )
        )
    return records


def _buildings(
    village: GridRecord, community: str, parts: dict, rng: np.random.Generator
) -> list[AddressRecord]:
    """A few numbered buildings at random points inside the village, each with its units."""
    area, epsg = to_metric(village.geometry)
    shapely.prepare(area)
    west, south, east, north = area.bounds
    count, points = rng.integers(BUILDINGS[0], BUILDINGS[1] + 1), []
    while len(points) < count:
        x, y = rng.uniform(west, east), rng.uniform(south, north)
        if shapely.contains_xy(area, x, y):
            points.append(shapely.Point(x, y))
    records = []
    for b, point in enumerate(from_metric(np.array(points, dtype=object), epsg), start=1):
        building = f"{b}号楼"
        where = {**parts, "building": building, "lon": round(point.x, 7), "lat": round(point.y, 7)}
        text = f"{CITY}{parts['district']}{community}{building}"
        records.append(
            AddressRecord(
                register_id=f"{PREFIX}{village.code}-B{b:02d}", address_text=text, kind="building", **where
            )
        )
        for u in range(1, int(rng.integers(UNITS[0], UNITS[1] + 1)) + 1):
            unit = f"{u}单元"
            records.append(
                AddressRecord(
                    register_id=f"{PREFIX}{village.code}-B{b:02d}-{u}",
                    address_text=f"{text}{unit}",
                    kind="building",
                    unit=unit,
                    **where,
                )
            )
    return records
