"""The grid store: versioned import with a topology report, lookup, subtrees, export, assignments."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import shapely
from geoalchemy2.shape import from_shape, to_shape
from sqlalchemy import delete, func, or_, select, text
from sqlalchemy.orm import Session, defer

from gis.crs import CRS, area_m2, check_lonlat, to_wgs84, to_wgs84_arrays
from grids.levels import LevelScheme
from grids.records import GridRecord
from grids.topology import Thresholds, TopologyReport, check_topology
from server.auth.models import User
from server.config import get_settings
from server.errors import Conflict, Invalid, NotFound
from server.grid.models import CURRENT, Grid, GridAssignment, GridPart, in_force, not_ended_before, today

PART_MAX_VERTICES = 64
LOOKUP_CELL_DEG = 0.002  # the lookup index's cells: about 180 m x 220 m in Jinan
PARTS_BATCH = 500
Progress = Callable[[str, int, int], None]


# -- reading ------------------------------------------------------------------------------------


def get_grid(*, db: Session, code: str) -> Grid:
    grid = db.scalar(select(Grid).where(CURRENT, Grid.code == code))
    if grid is None:
        raise NotFound(f"there is no current grid with code {code}")
    return grid


def list_grids(*, db: Session, parent: str | None = None) -> list[Grid]:
    """The roots, or the current children of ``parent``, by code."""
    query = select(Grid).options(defer(Grid.geom)).where(CURRENT).order_by(Grid.code)
    if parent is None:
        query = query.where(Grid.parent_code.is_(None))
    else:
        get_grid(db=db, code=parent)
        query = query.where(Grid.parent_code == parent)
    return list(db.scalars(query))


def subtree(*, db: Session, code: str, depth: int | None = None) -> list[Grid]:
    """``code`` and its current descendants (``depth`` levels down at most), in path order."""
    root = get_grid(db=db, code=code)
    query = (
        select(Grid)
        .options(defer(Grid.geom))
        .where(CURRENT, Grid.path.op("<@")(root.path))
        .order_by(Grid.path)
    )
    if depth is not None:
        query = query.where(func.nlevel(Grid.path) <= func.nlevel(root.path) + depth)
    return list(db.scalars(query))


def history(*, db: Session, code: str) -> list[Grid]:
    """Every version of a grid, oldest first."""
    versions = list(
        db.scalars(select(Grid).options(defer(Grid.geom)).where(Grid.code == code).order_by(Grid.version))
    )
    if not versions:
        raise NotFound(f"there is no grid with code {code}")
    return versions


def geojson_of(*, db: Session, grids: Sequence[Grid]) -> list[dict]:
    """GeoJSON features (RFC 7946, 7 decimals) for grids, geometry computed in the database."""
    if not grids:
        return []
    rows = db.execute(
        select(Grid.id, func.ST_AsGeoJSON(Grid.geom, 7).label("geometry")).where(
            Grid.id.in_([g.id for g in grids])
        )
    ).all()
    geometry = {row.id: row.geometry for row in rows}
    return [_feature(g, geometry[g.id]) for g in grids]


def _feature(grid: Grid, geometry_json: str) -> dict:
    return {
        "type": "Feature",
        "id": grid.code,
        "geometry": json.loads(geometry_json),
        "properties": {
            "code": grid.code,
            "name": grid.name,
            "level": grid.level,
            "parent_code": grid.parent_code,
            "area_m2": round(grid.area_m2, 1),
            "version": grid.version,
        },
    }


def in_bbox(
    *, db: Session, west: float, south: float, east: float, north: float, level: str | None, limit: int
) -> list[Grid]:
    """Current grids whose geometry intersects the box (at most ``limit``); the box as
    ``server.deps.bounding_box`` checked it."""
    envelope = func.ST_MakeEnvelope(west, south, east, north, 4326)
    query = (
        select(Grid)
        .options(defer(Grid.geom))
        .where(CURRENT, Grid.geom.op("&&")(envelope), func.ST_Intersects(Grid.geom, envelope))
        .order_by(Grid.path)
        .limit(limit + 1)
    )
    if level:
        query = query.where(Grid.level == level)
    grids = list(db.scalars(query))
    if len(grids) > limit:
        raise Invalid(
            f"more than {limit} grids in this box: zoom in, or ask for one level with level=", limit=limit
        )
    return grids


def search(*, db: Session, text: str, limit: int = 20) -> list[tuple[Grid, float, float]]:
    """Current grids whose name contains ``text`` (or whose code starts with it), the higher levels first,
    each with a point inside it (lon, lat): where a caller's "near the 泉城路 community" is placed."""
    text = text.strip()
    if not text:
        raise Invalid("name part of a grid's name or code to search for")
    inside = func.ST_PointOnSurface(Grid.geom)
    rows = db.execute(
        select(Grid, func.ST_X(inside), func.ST_Y(inside))
        .options(defer(Grid.geom))
        .where(
            CURRENT,
            Grid.name.contains(text, autoescape=True) | Grid.code.startswith(text, autoescape=True),
        )
        .order_by(func.nlevel(Grid.path), func.length(Grid.name), Grid.code)
        .limit(limit)
    )
    return [(grid, lon, lat) for grid, lon, lat in rows]


# -- lookup -------------------------------------------------------------------------------------


def _check_message(lon: float, lat: float) -> str | None:
    try:
        check_lonlat(lon, lat)
    except ValueError as exc:
        return str(exc)
    return None


def _checked(lon: float, lat: float) -> None:
    message = _check_message(lon, lat)
    if message:
        raise Invalid(message)


def deepest_code_sql(lon: str, lat: str) -> str:
    """A SELECT of the code of the deepest current grid covering the point (``lon``, ``lat``: SQL expressions
    in WGS 84 degrees); on a shared boundary, the lowest code. Every point lookup uses this one rule."""
    cell = LOOKUP_CELL_DEG
    return f"""
        SELECT p.code FROM grid_part p
        WHERE p.cell_i = floor({lon} / {cell})::int AND p.cell_j = floor({lat} / {cell})::int
          AND ST_Covers(p.geom, ST_Point({lon}, {lat}, 4326))
        ORDER BY p.depth DESC, p.code LIMIT 1
    """


def locate(*, db: Session, lon: float, lat: float, crs: CRS = CRS.WGS84) -> tuple[float, float, list[Grid]]:
    """The point in WGS 84, and the chain of current grids from the root down to the deepest one
    holding it, found in one query (empty when the point lies outside every grid)."""
    _checked(lon, lat)
    x, y = to_wgs84(lon, lat, crs)
    deepest = text(deepest_code_sql(":lon", ":lat")).bindparams(lon=x, lat=y).columns(GridPart.code)
    deepest = deepest.scalar_subquery()
    leaf_path = select(Grid.path).where(CURRENT, Grid.code == deepest).scalar_subquery()
    query = (
        select(Grid)
        .options(defer(Grid.geom))
        .where(CURRENT, Grid.path.op("@>")(leaf_path))
        .order_by(func.nlevel(Grid.path))
    )
    return x, y, list(db.scalars(query))


def _array(values) -> str:
    """A float8[] literal: parsed by array_in, far cheaper than an ARRAY[...] of 10,000 expressions."""
    return "{" + ",".join(map(repr, map(float, values))) + "}"


def locate_batch(
    *, db: Session, points: Sequence[tuple[float, float]], crs: CRS = CRS.WGS84
) -> list[str | None]:
    """The deepest grid code for each point (None outside every grid), in one SQL query."""
    if not points:
        return []
    lons, lats = np.asarray(points, dtype=float).T
    bad = ~(np.isfinite(lons) & np.isfinite(lats) & (np.abs(lons) <= 180) & (np.abs(lats) <= 90))
    if bad.any():
        k = int(bad.argmax())
        raise Invalid(f"point {k}: " + _check_message(lons[k], lats[k]))
    lons, lats = to_wgs84_arrays(lons, lats, crs)
    rows = db.execute(
        text(
            f"""
            SELECT t.i, ({deepest_code_sql("t.lon", "t.lat")}) AS code
            FROM unnest(CAST(:lons AS float8[]), CAST(:lats AS float8[])) WITH ORDINALITY AS t(lon, lat, i)
            ORDER BY t.i
            """
        ),
        {"lons": _array(lons), "lats": _array(lats)},
    ).all()
    return [row.code for row in rows]


# -- import -------------------------------------------------------------------------------------


@dataclass
class ImportResult:
    report: TopologyReport
    created: list[str] = field(default_factory=list)
    new_versions: list[str] = field(default_factory=list)
    renamed: list[str] = field(default_factory=list)
    unchanged: int = 0
    written: bool = False

    def to_dict(self) -> dict:
        return {
            "written": self.written,
            "created": len(self.created),
            "new_versions": len(self.new_versions),
            "renamed": len(self.renamed),
            "unchanged": self.unchanged,
            "report": self.report.to_dict(),
        }


def _record(grid: Grid) -> GridRecord:
    return GridRecord(
        code=grid.code,
        name=grid.name,
        level=grid.level,
        parent_code=grid.parent_code,
        geometry=to_shape(grid.geom),
    )


def stored_records(*, db: Session, codes: Iterable[str] | None = None) -> dict[str, GridRecord]:
    """Current grids as records (all of them, or those with the given codes)."""
    query = select(Grid).where(CURRENT)
    if codes is not None:
        query = query.where(Grid.code.in_(list(codes)))
    return {g.code: _record(g) for g in db.scalars(query)}


def _context_for(db: Session, records: Sequence[GridRecord]) -> dict[str, GridRecord]:
    """Stored grids the check needs beside the file: the parents it names, and their stored children."""
    in_file = {r.code for r in records}
    parents = {r.parent_code for r in records if r.parent_code} - in_file
    if not parents and not in_file:
        return {}
    query = select(Grid).where(
        CURRENT,
        or_(Grid.code.in_(parents), Grid.parent_code.in_(parents | in_file)),
        Grid.code.not_in(in_file),
    )
    return {g.code: _record(g) for g in db.scalars(query)}


def import_grids(
    *,
    db: Session,
    records: Sequence[GridRecord],
    report: TopologyReport,
    dry_run: bool = False,
    progress: Progress | None = None,
    thresholds: Thresholds | None = None,
    scheme: LevelScheme | None = None,
) -> ImportResult:
    """Check ``records`` (with the stored grids around them), then write them in one transaction.

    ``report`` holds what parsing the file found; the topology check adds to it. Nothing is written when
    the report has errors or on a dry run. A geometry or parent change closes the current version and
    adds a new one; a rename updates the current version in place. Thresholds and the level scheme
    default to the settings'."""
    settings = get_settings()
    thresholds = thresholds or settings.thresholds
    scheme = scheme or settings.scheme
    existing = _context_for(db, records)
    topology = check_topology(
        list(records),
        existing=existing,
        thresholds=thresholds,
        scheme=scheme,
        progress=(lambda done: progress("check", done, len(records))) if progress else None,
    )
    report.issues.extend(topology.issues)
    report.checked = max(report.checked, topology.checked)
    result = ImportResult(report=report)
    if not report.ok or dry_run or not records:
        return result

    current = {
        g.code: g for g in db.scalars(select(Grid).where(CURRENT, Grid.code.in_([r.code for r in records])))
    }
    paths = {
        code: path
        for code, path in db.execute(select(Grid.code, Grid.path).where(CURRENT, Grid.code.in_(existing)))
    }
    now = db.scalar(select(func.clock_timestamp()))
    added: list[Grid] = []
    ordered = sorted(records, key=lambda r: (scheme.index(r.level), r.code))
    for done, rec in enumerate(ordered, 1):
        parent_path = paths.get(rec.parent_code) if rec.parent_code else None
        paths[rec.code] = f"{parent_path}.{rec.code}" if parent_path else rec.code
        old = current.get(rec.code)
        if old is None:
            added.append(_new_version(rec, paths[rec.code], version=1, valid_from=now))
            result.created.append(rec.code)
        elif old.parent_code != rec.parent_code or not _same_shape(to_shape(old.geom), rec.geometry):
            old.valid_to = now
            added.append(_new_version(rec, paths[rec.code], version=old.version + 1, valid_from=now))
            result.new_versions.append(rec.code)
        elif old.name != rec.name:
            old.name = rec.name
            result.renamed.append(rec.code)
        else:
            result.unchanged += 1
        if progress and (done % 500 == 0 or done == len(ordered)):
            progress("write", done, len(ordered))
    closed = [current[code].id for code in result.new_versions]
    db.execute(delete(GridPart).where(GridPart.grid_id.in_(closed)))
    db.add_all(added)
    db.flush()
    changed = {g.code for g in added}
    refresh_parts(db=db, codes=changed | {g.parent_code for g in added if g.parent_code}, progress=progress)
    db.commit()
    result.written = True
    return result


def refresh_parts(*, db: Session, codes: Iterable[str], progress: Progress | None = None) -> None:
    """Recompute the lookup index (``grid_part``) of the current grids ``codes``: the part of each grid
    that none of its current children covers (all of it for a leaf), cut into at most 64-vertex pieces
    and along the lookup cells. Cells are cut with ST_ClipByBox2D, seven times faster than
    ST_Intersection; its output may hold collapsed edges, which the point-in-polygon test of
    ST_Covers does not mind."""
    codes = sorted(codes)
    ids = list(db.scalars(select(Grid.id).where(CURRENT, Grid.code.in_(codes))))
    db.execute(delete(GridPart).where(GridPart.grid_id.in_(ids)))
    for start in range(0, len(ids), PARTS_BATCH):
        db.execute(
            text(
                """
                INSERT INTO grid_part (grid_id, code, depth, cell_i, cell_j, geom)
                SELECT g.id, g.code, nlevel(g.path), cell.i, cell.j, clipped.geom
                FROM grid g
                CROSS JOIN LATERAL (
                    SELECT ST_CollectionExtract(COALESCE(ST_Difference(g.geom, ST_Union(c.geom)), g.geom), 3)
                    FROM grid c
                    WHERE c.valid_to IS NULL AND c.parent_code = g.code
                ) AS own(geom)
                CROSS JOIN LATERAL ST_Subdivide(own.geom, :vertices) AS piece(geom)
                CROSS JOIN LATERAL ST_SquareGrid(:cell, piece.geom) AS cell
                CROSS JOIN LATERAL (
                    SELECT ST_Multi(ST_ClipByBox2D(piece.geom, cell.geom)) OFFSET 0
                ) AS clipped(geom)
                WHERE g.id = ANY(:ids) AND ST_Intersects(piece.geom, cell.geom)
                  AND NOT ST_IsEmpty(clipped.geom)
                """
            ),
            {"ids": ids[start : start + PARTS_BATCH], "vertices": PART_MAX_VERTICES, "cell": LOOKUP_CELL_DEG},
        )
        if progress:
            progress("index", min(start + PARTS_BATCH, len(ids)), len(ids))


def _same_shape(a, b) -> bool:
    return shapely.equals_exact(shapely.normalize(a), shapely.normalize(b), tolerance=1e-9)


def _new_version(rec: GridRecord, path: str, *, version: int, valid_from) -> Grid:
    return Grid(
        code=rec.code,
        name=rec.name,
        level=rec.level,
        parent_code=rec.parent_code,
        path=path,
        geom=from_shape(rec.geometry, srid=4326),
        area_m2=area_m2(rec.geometry),
        version=version,
        valid_from=valid_from,
    )


def check_stored(*, db: Session, progress: Progress | None = None) -> TopologyReport:
    """The topology report over every current grid, with the settings' thresholds and level scheme."""
    settings = get_settings()
    records = list(stored_records(db=db).values())
    return check_topology(
        records,
        thresholds=settings.thresholds,
        scheme=settings.scheme,
        progress=(lambda done: progress("check", done, len(records))) if progress else None,
    )


def export_features(*, db: Session, code: str | None = None) -> list[dict]:
    """Current grids as GeoJSON features: everything, or ``code`` and its subtree."""
    grids = (
        subtree(db=db, code=code)
        if code
        else list(db.scalars(select(Grid).options(defer(Grid.geom)).where(CURRENT).order_by(Grid.path)))
    )
    return geojson_of(db=db, grids=grids)


# -- people -------------------------------------------------------------------------------------


def end_before(assignment: GridAssignment, day: date) -> None:
    """End ``assignment`` on the day before ``day``, when another takes over from ``day``; one that started
    on ``day`` thus ends the day before it starts: it was never in force (a move or a new head on the day
    an assignment was made replaces it that very day)."""
    assignment.ends_on = day - timedelta(days=1)


def assign(
    *, db: Session, grid_code: str, user: User, role: str, starts_on: date | None = None
) -> GridAssignment:
    """Assign ``user`` to a grid from ``starts_on`` (default today) as its head or as one of its inspectors.

    A new head takes over on its first day: the head whose period reaches that day (no end, or an end on
    or after it) ends the day before (``end_before``). A head already scheduled to start after that day is
    not replaced: that is refused. An inspector is refused when already assigned to the grid from that day
    on (a period that does not end before it)."""
    if role not in ("head", "inspector"):
        raise Invalid(f"role must be 'head' or 'inspector', not {role!r}")
    get_grid(db=db, code=grid_code)
    starts_on = starts_on or today()
    overlapping = list(
        db.scalars(
            select(GridAssignment)
            .where(
                GridAssignment.grid_code == grid_code,
                GridAssignment.role == role,
                not_ended_before(starts_on),
            )
            .with_for_update()
        )
    )
    if any(a.user_id == user.id for a in overlapping):
        raise Conflict(
            f"{user.name} is already {'the head' if role == 'head' else 'an inspector'} of grid {grid_code}"
        )
    if role == "head":
        for previous in overlapping:
            if previous.starts_on > starts_on:
                raise Conflict(
                    f"网格 {grid_code} 已安排了从 {previous.starts_on} 起任职的网格长：新网格长的开始日期"
                    f"不能早于这一天，请改用 {previous.starts_on} 或更晚的日期"
                )
        for previous in overlapping:
            end_before(previous, starts_on)
    assignment = GridAssignment(grid_code=grid_code, user_id=user.id, role=role, starts_on=starts_on)
    db.add(assignment)
    db.commit()
    return assignment


def end_assignment(*, db: Session, assignment_id: int, ends_on: date | None = None) -> GridAssignment:
    """Set the last day of an assignment (default today; it is in force through that day, a future day
    included). An end already set can only be brought forward, and only while it has not passed."""
    assignment = db.get(GridAssignment, assignment_id)
    if assignment is None:
        raise NotFound(f"there is no assignment {assignment_id}")
    ends_on = ends_on or today()
    if assignment.ends_on is not None and (assignment.ends_on < today() or ends_on > assignment.ends_on):
        raise Conflict(
            f"这项任职的最后一天已定为 {assignment.ends_on}：结束日期只能在那天之前提前，不能推迟；"
            "需要延续请重新指派"
        )
    if ends_on < assignment.starts_on:
        raise Invalid(f"an assignment cannot end ({ends_on}) before it starts ({assignment.starts_on})")
    assignment.ends_on = ends_on
    db.commit()
    return assignment


def assignments(
    *, db: Session, grid_code: str | None = None, user_id: int | None = None, include_ended: bool = False
) -> list[tuple[GridAssignment, User]]:
    """The assignments in force today, or with ``include_ended`` all of them (past, current, scheduled)."""
    query = (
        select(GridAssignment, User)
        .join(User, User.id == GridAssignment.user_id)
        .order_by(GridAssignment.grid_code, GridAssignment.role, GridAssignment.starts_on, GridAssignment.id)
    )
    if grid_code is not None:
        query = query.where(GridAssignment.grid_code == grid_code)
    if user_id is not None:
        query = query.where(GridAssignment.user_id == user_id)
    if not include_ended:
        query = query.where(in_force(today()))
    return [tuple(row) for row in db.execute(query)]
