"""Vector tiles built by PostGIS (``ST_AsMVT``): the current grids of the level that suits the zoom, and the
cases a user may see, as points from ``tile_cluster_below_zoom`` on and as clusters with counts below it.

Every value reaches the SQL as a bound parameter. A case's light is computed in SQL the way
``server.case.service.clock`` computes it: red from the due instant on; yellow once at most
``yellow_fraction`` of the step's limit of working time is left, that is when the due instant is at or before
``now`` plus that much working time (the calendar adds it in Python, once per distinct limit in the tile)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from gis.tiles import tile_bounds_mercator
from server.case import service as case_service
from server.case.flows import TERMINAL
from server.case.models import Case, CaseDispatch
from server.case.scope import Scope, visible
from server.category import service as category_service
from server.category.models import Category
from server.config import get_settings
from server.errors import Invalid
from server.grid.models import CURRENT, Grid

MAX_ZOOM = 22
EXTENT = 4096  # MVT coordinates per tile side
BUFFER = 64  # MVT coordinates kept beyond the tile's edge, so lines and labels join across tiles
CLUSTER_CELLS = 8  # cluster cells per tile side: 64 px on a 512 px tile
WEB_MERCATOR = 3857
MERCATOR_METRES_PER_DEGREE = 111_319.49  # Web Mercator x metres per degree of longitude
# The grid level shown up to each zoom (the last one from there on).
GRID_LEVEL_UP_TO_ZOOM = ((10, "district"), (12, "street"), (14, "village"), (MAX_ZOOM, "unit"))
LIGHTS = ("red", "yellow", "green")  # worst first


@dataclass(frozen=True)
class TileAddress:
    z: int
    x: int
    y: int

    @classmethod
    def of(cls, z: int, x: int, y: int) -> TileAddress:
        """A checked tile address: 422 unless z is in 0..22 and x, y in 0..2^z-1."""
        if not 0 <= z <= MAX_ZOOM:
            raise Invalid(f"zoom {z} is out of range: tiles go from zoom 0 to {MAX_ZOOM}")
        try:
            tile_bounds_mercator(z, x, y)
        except ValueError as exc:
            raise Invalid(str(exc)) from None
        return cls(z, x, y)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) in Web Mercator metres."""
        return tile_bounds_mercator(self.z, self.x, self.y)

    @property
    def size(self) -> float:
        minx, _, maxx, _ = self.bounds
        return maxx - minx

    def envelope(self, margin: float = 0.0):
        """The tile in Web Mercator, grown by ``margin`` metres."""
        minx, miny, maxx, maxy = self.bounds
        return func.ST_MakeEnvelope(minx - margin, miny - margin, maxx + margin, maxy + margin, WEB_MERCATOR)

    def search_box(self):
        """The tile and its buffer in WGS 84, for the GiST indexes."""
        return func.ST_Transform(self.envelope(self.size * BUFFER / EXTENT), 4326)

    def mvt_geom(self, geom_4326) -> ColumnElement:
        """A WGS 84 geometry in this tile's MVT coordinates, clipped to the tile and its buffer."""
        return func.ST_AsMVTGeom(
            func.ST_Transform(geom_4326, WEB_MERCATOR), func.box2d(self.envelope()), EXTENT, BUFFER, True
        )


@dataclass(frozen=True)
class CaseTileFilter:
    states: tuple[str, ...] = ()
    light: str | None = None
    category: str | None = None
    department: str | None = None
    tag: str | None = None
    since: datetime | None = None  # received at or after
    until: datetime | None = None  # received before


@dataclass(frozen=True)
class Tile:
    etag: str
    data: bytes | None  # None when the caller already holds this version (one of its known ETags)


def grid_level(z: int) -> str:
    """The grid level shown at zoom ``z``."""
    return next(level for up_to, level in GRID_LEVEL_UP_TO_ZOOM if z <= up_to)


def _etag(*parts) -> str:
    return '"' + hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:32] + '"'


def _mvt(db: Session, rows, layer: str) -> bytes:
    """The rows of a select with a ``geom`` column of MVT geometries as one layer of a tile."""
    rows = rows.subquery("t")
    tile = select(func.ST_AsMVT(rows.table_valued(), layer, EXTENT, "geom")).where(rows.c.geom.is_not(None))
    return bytes(db.scalar(tile) or b"")


# -- grids --------------------------------------------------------------------------------------------


def grids_tile(*, db: Session, tile: TileAddress, known_etags: frozenset[str] = frozenset()) -> Tile:
    """The current grids of the zoom's level in layer ``grids`` (code, name, level, parent_code), simplified
    to half a tile coordinate. The ETag is a hash of the tile itself, as a rename changes a grid in place."""
    simplified = func.ST_Simplify(Grid.geom, tile.size / EXTENT / 2 / MERCATOR_METRES_PER_DEGREE, True)
    rows = (
        select(Grid.code, Grid.name, Grid.level, Grid.parent_code, tile.mvt_geom(simplified).label("geom"))
        .where(CURRENT, Grid.level == grid_level(tile.z), Grid.geom.op("&&")(tile.search_box()))
        .order_by(Grid.code)
        .limit(get_settings().tile_max_features)
    )
    data = _mvt(db, rows, "grids")
    etag = _etag("grids", data.hex())
    return Tile(etag, None if etag in known_etags else data)


# -- cases --------------------------------------------------------------------------------------------


def _conditions(db: Session, scope: Scope, filters: CaseTileFilter, box) -> list[ColumnElement[bool]]:
    """What a case must satisfy to be in the tile, the light filter aside."""
    terms = [visible(scope), Case.location.op("&&")(box)]
    if filters.states:
        terms.append(Case.state.in_(filters.states))
    if filters.category:
        category = category_service.get_category(db=db, code=filters.category, include_inactive=True)
        terms.append(Case.category_id == category.id)
    if filters.department:
        department = category_service.get_department(db=db, code=filters.department, include_inactive=True)
        terms.append(
            Case.id.in_(select(CaseDispatch.case_id).where(CaseDispatch.department_id == department.id))
        )
    if filters.tag:
        terms.append(Case.tags.contains([filters.tag]))
    if filters.since:
        terms.append(Case.received_at >= filters.since)
    if filters.until:
        terms.append(Case.received_at < filters.until)
    return terms


def _light(db: Session, conditions: list[ColumnElement[bool]], now: datetime) -> ColumnElement:
    """The SQL twin of ``clock(case, now).light`` for the cases matching ``conditions``."""
    limit = func.coalesce(Case.step_limit_min, 0.0)
    limits = db.scalars(
        select(limit).distinct().where(*conditions, Case.state.not_in(TERMINAL), Case.step_due_at > now)
    )
    cal, fraction = case_service.calendar(), get_settings().yellow_fraction
    yellow_until = {value: cal.add(now, fraction * value) for value in limits}
    whens = [
        (Case.state.in_(TERMINAL) | Case.step_due_at.is_(None), None),
        (Case.step_due_at <= now, "red"),
    ]
    if yellow_until:
        whens.append((Case.step_due_at <= case(yellow_until, value=limit), "yellow"))
    return case(*whens, else_="green")


def cases_tile(
    *,
    db: Session,
    scope: Scope,
    tile: TileAddress,
    filters: CaseTileFilter,
    known_etags: frozenset[str] = frozenset(),
    at: datetime | None = None,
) -> Tile:
    """The cases ``scope`` sees in the tile, matching ``filters``, with their lights at ``at`` (default now).

    From ``tile_cluster_below_zoom`` on, layer ``cases``: one point per case (code, state, light, urgency,
    category), the most urgent and soonest due first, at most ``tile_max_features``. Below it, layer
    ``clusters``: one point per cell of the tile (``CLUSTER_CELLS`` a side) at the centroid of its cases,
    with their ``count`` (a heat map's weight) and worst ``light``.

    The ETag hashes the tile's address, the filters, the scope, the last case change and how many of the
    tile's cases show each light: with the cases unchanged a light only moves from green to yellow to red,
    so these counts change whenever a light does."""
    settings = get_settings()
    now = at or db.scalar(select(func.clock_timestamp()))
    conditions = _conditions(db, scope, filters, tile.search_box())
    light = _light(db, conditions, now)
    lights = sorted(
        (str(name), n)
        for name, n in db.execute(select(light, func.count()).where(*conditions).group_by(light))
    )
    etag = _etag(
        "cases",
        asdict(tile),
        asdict(filters),
        asdict(scope),
        db.scalar(select(func.max(Case.change_seq))),
        lights,
        settings.tile_max_features,
        settings.tile_cluster_below_zoom,
    )
    if etag in known_etags:
        return Tile(etag, None)
    if filters.light:
        conditions.append(light == filters.light)
    if tile.z >= settings.tile_cluster_below_zoom:
        data = _mvt(db, _points(tile, conditions, light, settings.tile_max_features), "cases")
    else:
        data = _mvt(db, _clusters(tile, conditions, light), "clusters")
    return Tile(etag, data)


def _points(tile: TileAddress, conditions, light, cap: int):
    urgency = func.array_position(list(case_service.URGENCY_ORDER), Case.urgency)
    return (
        select(
            Case.code,
            Case.state,
            light.label("light"),
            Case.urgency,
            Category.code.label("category"),
            tile.mvt_geom(Case.location).label("geom"),
        )
        .join(Category, Category.id == Case.category_id)
        .where(*conditions)
        .order_by(urgency, Case.step_due_at.asc().nulls_last(), Case.id)
        .limit(cap)
    )


def _clusters(tile: TileAddress, conditions, light):
    """Cases snapped to cells aligned on the tile; only those inside the tile itself, so each case counts in
    one tile of a zoom."""
    minx, miny, maxx, maxy = tile.bounds
    cell = tile.size / CLUSTER_CELLS
    point = func.ST_Transform(Case.location, WEB_MERCATOR)
    x, y = func.ST_X(point), func.ST_Y(point)
    inside = and_(x >= minx, x < maxx, y > miny, y <= maxy)
    cases = (
        select(
            point.label("point"),
            func.ST_SnapToGrid(point, minx + cell / 2, miny + cell / 2, cell, cell).label("cell"),
            func.array_position(list(LIGHTS), light).label("rank"),
        )
        .where(*conditions, inside)
        .subquery("c")
    )
    worst = case({i: name for i, name in enumerate(LIGHTS, 1)}, value=func.min(cases.c.rank))
    centroid = func.ST_Centroid(func.ST_Collect(cases.c.point))
    return select(
        func.count().label("count"),
        worst.label("light"),
        func.ST_AsMVTGeom(centroid, func.box2d(tile.envelope()), EXTENT, BUFFER, True).label("geom"),
    ).group_by(cases.c.cell)
