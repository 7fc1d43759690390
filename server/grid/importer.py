"""Writing the grid store: versioned import with a topology report, the lookup index, the stored grids as
records and their topology check."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import shapely
from geoalchemy2.shape import from_shape, to_shape
from sqlalchemy import delete, func, or_, select, text
from sqlalchemy.orm import Session

from gis.crs import area_m2
from grids.levels import LevelScheme
from grids.records import GridRecord
from grids.topology import Thresholds, TopologyReport, check_topology
from server.config import get_settings
from server.grid.lookup import LOOKUP_CELL_DEG
from server.grid.models import CURRENT, Grid, GridPart

PART_MAX_VERTICES = 64
PARTS_BATCH = 500
Progress = Callable[[str, int, int], None]


@dataclass
class ImportResult:
    report: TopologyReport
    created: list[str] = field(default_factory=list)
    new_versions: list[str] = field(default_factory=list)
    renamed: list[str] = field(default_factory=list)
    repopulated: list[str] = field(default_factory=list)  # only the population changed, in place
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
    adds a new one, which keeps the old population unless the record gives one; a rename or a new
    population updates the current version in place. Thresholds and the level scheme
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
        population = rec.properties.get("population")
        if old is None:
            added.append(_new_version(rec, paths[rec.code], population, version=1, valid_from=now))
            result.created.append(rec.code)
        elif old.parent_code != rec.parent_code or not _same_shape(to_shape(old.geom), rec.geometry):
            old.valid_to = now
            kept = old.population if population is None else population
            added.append(_new_version(rec, paths[rec.code], kept, version=old.version + 1, valid_from=now))
            result.new_versions.append(rec.code)
        elif old.name != rec.name:
            old.name = rec.name
            old.population = old.population if population is None else population
            result.renamed.append(rec.code)
        elif population is not None and population != old.population:
            old.population = population
            result.repopulated.append(rec.code)
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


def _new_version(rec: GridRecord, path: str, population: int | None, *, version: int, valid_from) -> Grid:
    return Grid(
        code=rec.code,
        name=rec.name,
        level=rec.level,
        parent_code=rec.parent_code,
        path=path,
        geom=from_shape(rec.geometry, srid=4326),
        area_m2=area_m2(rec.geometry),
        population=population,
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
