"""Vector tiles built by PostGIS (``ST_AsMVT``): the current grids of the level that suits the zoom, and the
cases a user may see, as points from ``tile_cluster_below_zoom`` on and as clusters with counts below it.

Every value reaches the SQL as a bound parameter. A case's light is two comparisons with its stored instants
(``step_due_at``: red, ``step_yellow_at``: yellow), as ``server.case.clock.clock`` makes it.

Clusters come from the case summary (``case_cell``: per zoom-17 Web Mercator tile, state and street, the
count, the coordinate sums and the earliest due and yellow instants, kept by a trigger in each writing
transaction), so a tile over a whole district groups a few thousand summary rows instead of its cases. The
summary answers when the request filters by state only, and for these scopes:

- city-wide: the summary alone;
- bound to grids of street level or above (``CELL_PATH_DEPTH``: a district's staff sees its subtree) and to
  no department: the summary rows of those subtrees, plus the cases outside them the user reported or is
  assigned (from the case table: a handful, through their indexes).

Any other filter (light, category, department, tag, period) and the narrower scopes (a village or a unit,
a department) take the cases themselves, grouped by the same stored cells. From the point zoom on, a tile
the summary says holds more than ``tile_point_limit`` matching cases is too dense to read as points: below
``POINTS_FROM_ZOOM`` it is served as clusters of the summary's cells (8 a side at zoom 14, 4 at 15)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    func,
    literal,
    not_,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session

from gis.tiles import tile_bounds_mercator
from grids.layers import own_levels
from server.case import clock as case_clock
from server.case import queries
from server.case.models import CELL_ZOOM, Case, CaseDispatch
from server.case.scope import Scope, visible
from server.case.states import TERMINAL
from server.category import service as category_service
from server.category.models import Category
from server.config import get_settings
from server.errors import Invalid
from server.grid import layers as grid_layers
from server.grid.models import CURRENT, Grid
from server.grid.subtree import within
from server.tiles.models import CELL_PATH_DEPTH, CaseCell

MAX_ZOOM = 22
EXTENT = 4096  # MVT coordinates per tile side
BUFFER = 64  # MVT coordinates kept beyond the tile's edge, so lines and labels join across tiles
CLUSTER_ZOOMS = 3  # a cluster cell is a tile this many zooms down: 8 a side, 64 px on a 512 px tile
# From this zoom on case tiles always carry points: the web map's case source tops out at zoom 16 and
# magnifies those tiles beyond it, so they must show the cases themselves.
POINTS_FROM_ZOOM = 16
WEB_MERCATOR = 3857
MERCATOR_METRES_PER_DEGREE = 111_319.49  # Web Mercator x metres per degree of longitude
# The grid level shown up to each zoom (the last one from there on).
GRID_LEVEL_UP_TO_ZOOM = ((10, "district"), (12, "street"), (14, "village"), (MAX_ZOOM, "unit"))


@dataclass(frozen=True)
class TileAddress:
    z: int
    x: int
    y: int

    @classmethod
    def of(cls, z: int, x: int, y: int) -> TileAddress:
        """A checked tile address: 422 unless z is in 0..22 and x, y in 0..2^z-1."""
        if not 0 <= z <= MAX_ZOOM:
            raise Invalid("tiles.zoom_out_of_range", z=z, max_zoom=MAX_ZOOM)
        try:
            tile_bounds_mercator(z, x, y)
        except ValueError:
            raise Invalid("tiles.no_such_tile", z=z, x=x, y=y, last=(1 << z) - 1) from None
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

    def mvt_geom(self, geom, srid: int = 4326) -> ColumnElement:
        """A geometry in this tile's MVT coordinates, clipped to the tile and its buffer."""
        if srid != WEB_MERCATOR:
            geom = func.ST_Transform(geom, WEB_MERCATOR)
        return func.ST_AsMVTGeom(geom, func.box2d(self.envelope()), EXTENT, BUFFER, True)

    def holds_cells(self, table) -> ColumnElement[bool]:
        """Rows of ``table`` whose zoom-17 cell (``cell_x``, ``cell_y``) lies in this tile (z at most 17)."""
        shift = CELL_ZOOM - self.z
        first_x, first_y, last = self.x << shift, self.y << shift, (1 << shift) - 1
        return and_(
            table.cell_x.between(first_x, first_x + last), table.cell_y.between(first_y, first_y + last)
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

    @property
    def by_state_only(self) -> bool:
        return self == CaseTileFilter(states=self.states)


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


def grids_tile(
    *, db: Session, tile: TileAddress, known_etags: frozenset[str] = frozenset(), layer: str | None = None
) -> Tile:
    """The current grids of the zoom's level in layer ``grids`` (code, name, level, parent_code), simplified
    to half a tile coordinate; from the deepest zoom step on, those of the grid layer ``layer`` (default:
    the default layer): its own first level, or the deepest shared one for a layer without grids of its
    own. The ETag is a hash of the tile itself, as a rename changes a grid in place."""
    level = grid_level(tile.z)
    if level == GRID_LEVEL_UP_TO_ZOOM[-1][1]:
        own = own_levels(grid_layers.get_layer(db=db, code=layer).levels)
        level = own[0].name if own else grid_layers.shared()[-1].name
    simplified = func.ST_Simplify(Grid.geom, tile.size / EXTENT / 2 / MERCATOR_METRES_PER_DEGREE, True)
    rows = (
        select(Grid.code, Grid.name, Grid.level, Grid.parent_code, tile.mvt_geom(simplified).label("geom"))
        .where(CURRENT, Grid.level == level, Grid.geom.op("&&")(tile.search_box()))
        .order_by(Grid.code)
        .limit(get_settings().tile_max_features)
    )
    data = _mvt(db, rows, "grids")
    etag = _etag("grids", data.hex())
    return Tile(etag, None if etag in known_etags else data)


# -- cases --------------------------------------------------------------------------------------------


def _conditions(db: Session, scope: Scope, filters: CaseTileFilter, box, now: datetime) -> list:
    """What a case must satisfy to be in the tile."""
    terms = [visible(scope), Case.location.op("&&")(box)]
    if filters.states:
        terms.append(Case.state.in_(filters.states))
    if filters.light:
        terms.append(case_clock.light(now) == filters.light)
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

    Layer ``cases``: one point per case (code, state, light, urgency, category), the most urgent and soonest
    due first, at most ``tile_max_features``. Layer ``clusters``: one point per cell of the tile at the
    centroid of its cases, with their ``count`` (a heat map's weight) and worst ``light``; below
    ``tile_cluster_below_zoom``, and for tiles too dense for points (see the module's docstring).

    The ETag hashes the last case change and the tile itself: a case change anywhere, or a light that
    turned, gives a new one."""
    settings = get_settings()
    now = at or db.scalar(select(func.clock_timestamp()))
    # A tile reads a few thousand rows at most: starting parallel workers costs more than it saves.
    db.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    conditions = _conditions(db, scope, filters, tile.search_box(), now)
    summary = _summary(scope, filters, tile)
    dense = summary is not None and tile.z < POINTS_FROM_ZOOM
    if tile.z < min(settings.tile_cluster_below_zoom, POINTS_FROM_ZOOM):
        cells = _case_cells(tile, conditions) if summary is None else summary
        layer, rows = "clusters", _clusters(tile, cells, now)
    elif dense and _count(db, summary) > settings.tile_point_limit:
        layer, rows = "clusters", _clusters(tile, summary, now)
    else:
        layer, rows = "cases", _points(tile, conditions, now, settings.tile_max_features)
    data = _mvt(db, rows, layer)
    etag = _etag("cases", db.scalar(select(func.max(Case.change_seq))), hashlib.sha256(data).hexdigest())
    return Tile(etag, None if etag in known_etags else data)


def _points(tile: TileAddress, conditions, now: datetime, cap: int) -> Select:
    urgency = func.array_position(list(queries.URGENCY_ORDER), Case.urgency)
    return (
        select(
            Case.code,
            Case.state,
            case_clock.light(now).label("light"),
            Case.urgency,
            Category.code.label("category"),
            tile.mvt_geom(Case.location).label("geom"),
        )
        .join(Category, Category.id == Case.category_id)
        .where(*conditions)
        .order_by(urgency, Case.step_due_at.asc().nulls_last(), Case.id)
        .limit(cap)
    )


def _case_cells(tile: TileAddress, conditions) -> Select:
    """The cases matching ``conditions`` in the tile itself (each counts in one tile of a zoom) as rows of
    cell rows: ``cell_x``, ``cell_y``, ``count``, ``sum_x``, ``sum_y`` (Web Mercator), ``due``, ``yellow``."""
    point = func.ST_Transform(Case.location, WEB_MERCATOR)
    running = Case.state.not_in(TERMINAL)
    return select(
        Case.cell_x,
        Case.cell_y,
        literal(1).label("count"),
        func.ST_X(point).label("sum_x"),
        func.ST_Y(point).label("sum_y"),
        case((running, Case.step_due_at)).label("due"),
        case((running, Case.step_yellow_at)).label("yellow"),
    ).where(*conditions, tile.holds_cells(Case))


def _summary(scope: Scope, filters: CaseTileFilter, tile: TileAddress) -> Select | None:
    """The tile's cell rows from the case summary, or None when the summary cannot answer the request."""
    if not filters.by_state_only or tile.z > CELL_ZOOM:
        return None
    narrow = any(len(path.split(".")) > CELL_PATH_DEPTH for path in scope.grid_paths)
    if not scope.everything and (scope.department_id is not None or narrow):
        return None
    running = CaseCell.state.not_in(TERMINAL)
    cells = select(
        CaseCell.cell_x,
        CaseCell.cell_y,
        CaseCell.count,
        CaseCell.sum_x,
        CaseCell.sum_y,
        case((running, CaseCell.min_due_at)).label("due"),
        case((running, CaseCell.min_yellow_at)).label("yellow"),
    ).where(tile.holds_cells(CaseCell))
    if filters.states:
        cells = cells.where(CaseCell.state.in_(filters.states))
    if scope.everything:
        return cells
    # The cases outside its grids the user reported or is assigned: what ``visible`` grants it beyond them.
    own = [visible(replace(scope, grid_paths=())), not_(within(Case.grid_path, scope.grid_paths))]
    if filters.states:
        own.append(Case.state.in_(filters.states))
    return union_all(cells.where(within(CaseCell.grid_path, scope.grid_paths)), _case_cells(tile, own))


def _count(db: Session, cells: Select) -> int:
    cells = cells.subquery("c")
    return db.scalar(select(func.coalesce(func.sum(cells.c.count), 0)))


def _clusters(tile: TileAddress, cells: Select, now: datetime) -> Select:
    """Cell rows grouped into cells of zoom ``z + CLUSTER_ZOOMS`` (at most 17): one point per cell at the
    centroid of its cases, with their count and worst light."""
    cells = cells.subquery("c")
    shift = CELL_ZOOM - min(tile.z + CLUSTER_ZOOMS, CELL_ZOOM)
    count = func.sum(cells.c.count)
    due, yellow = func.min(cells.c.due), func.min(cells.c.yellow)
    light = case((due <= now, "red"), (yellow <= now, "yellow"), (due.is_not(None), "green"))
    centroid = func.ST_SetSRID(
        func.ST_MakePoint(func.sum(cells.c.sum_x) / count, func.sum(cells.c.sum_y) / count), WEB_MERCATOR
    )
    return select(
        count.label("count"), light.label("light"), tile.mvt_geom(centroid, WEB_MERCATOR).label("geom")
    ).group_by(cells.c.cell_x.op(">>")(shift), cells.c.cell_y.op(">>")(shift))
