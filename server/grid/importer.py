"""Writing the grid store: versioned import into a layer with a topology report, the lookup index per
layer, new layers, the stored grids as records and their topology check per layer."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import shapely
from geoalchemy2.shape import from_shape, to_shape
from sqlalchemy import delete, func, or_, select, text
from sqlalchemy.orm import Session

from gis.crs import area_m2
from grids.layers import LayerSpec, check_layers
from grids.records import GridRecord
from grids.topology import Thresholds, TopologyReport, check_topology
from server.config import get_settings
from server.errors import Conflict, Invalid
from server.grid.layers import all_layers, get_layer, layer_of_record, of_layer, scheme_of, shared
from server.grid.lookup import LOOKUP_CELL_DEG
from server.grid.models import CURRENT, Grid, GridLayer, GridPart

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


def stored_records(
    *, db: Session, codes: Iterable[str] | None = None, layer: str | None = None
) -> dict[str, GridRecord]:
    """Current grids as records (all of them, or those with the given codes; with ``layer``, only the
    shared grids and that layer's own)."""
    query = select(Grid).where(CURRENT)
    if codes is not None:
        query = query.where(Grid.code.in_(list(codes)))
    if layer is not None:
        query = query.where(of_layer(layer))
    return {g.code: _record(g) for g in db.scalars(query)}


def _context_for(db: Session, records: Sequence[GridRecord], layer: str) -> dict[str, GridRecord]:
    """Stored grids the check needs beside the file: the parents it names, and their stored children in
    ``layer`` (shared or its own: another layer's grids may overlap these freely)."""
    in_file = {r.code for r in records}
    parents = {r.parent_code for r in records if r.parent_code} - in_file
    if not parents and not in_file:
        return {}
    query = select(Grid).where(
        CURRENT,
        or_(Grid.code.in_(parents), Grid.parent_code.in_(parents | in_file)),
        Grid.code.not_in(in_file),
        of_layer(layer),
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
    layer: str | None = None,
) -> ImportResult:
    """Check ``records`` (with the stored grids around them), then write them in one transaction.

    The records are grids of ``layer`` (default: the default layer), checked with its level scheme: those
    of a shared level are shared grids (no layer), the others the layer's own (no two layers' own levels
    share a code length: a code names one grid in one layer). ``report`` holds what parsing the file
    found; the topology check adds to it. Nothing is written when the report has errors or on a dry run.
    A geometry or parent change closes the current version and adds a new one, which keeps the old
    population unless the record gives one; a rename or a new population updates the current version in
    place. Thresholds default to the settings'."""
    thresholds = thresholds or get_settings().thresholds
    target = get_layer(db=db, code=layer)
    scheme = scheme_of(target)
    existing = _context_for(db, records, target.code)
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
        layer_code = layer_of_record(target, rec.level)
        if old is None:
            added.append(
                _new_version(rec, paths[rec.code], population, layer_code, version=1, valid_from=now)
            )
            result.created.append(rec.code)
        elif old.parent_code != rec.parent_code or not _same_shape(to_shape(old.geom), rec.geometry):
            old.valid_to = now
            kept = old.population if population is None else population
            added.append(
                _new_version(rec, paths[rec.code], kept, layer_code, version=old.version + 1, valid_from=now)
            )
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


def refresh_parts(
    *,
    db: Session,
    codes: Iterable[str],
    layers: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> None:
    """Recompute the lookup index (``grid_part``) of the current grids ``codes``: the part of each grid
    that none of its current children in a layer covers (all of it for a leaf), cut into at most 64-vertex
    pieces and along the lookup cells. A layer's own grid is cut for its layer; a shared grid with own
    grids of some layer under it for every layer (its children differ between them); any other shared
    grid once for all layers (``layer`` NULL). With ``layers``, only those layers' parts are made again
    (a new layer's). Cells are cut with ST_ClipByBox2D, seven times faster than ST_Intersection; its
    output may hold collapsed edges, which the point-in-polygon test of ST_Covers does not mind."""
    codes = sorted(codes)
    ids = list(db.scalars(select(Grid.id).where(CURRENT, Grid.code.in_(codes))))
    stale = delete(GridPart).where(GridPart.grid_id.in_(ids))
    db.execute(stale if layers is None else stale.where(GridPart.layer.in_(list(layers))))
    for start in range(0, len(ids), PARTS_BATCH):
        db.execute(
            text(
                """
                INSERT INTO grid_part (grid_id, layer, code, depth, cell_i, cell_j, geom)
                SELECT g.id, l.code, g.code, nlevel(g.path), cell.i, cell.j, clipped.geom
                FROM grid g
                CROSS JOIN LATERAL (
                    SELECT EXISTS (
                        SELECT 1 FROM grid o
                        WHERE o.valid_to IS NULL AND o.parent_code = g.code AND o.layer IS NOT NULL
                    )
                ) AS split(by_layer)
                CROSS JOIN LATERAL (
                    SELECT y.code FROM grid_layer y
                    WHERE g.layer = y.code OR (g.layer IS NULL AND split.by_layer)
                    UNION ALL
                    SELECT NULL WHERE g.layer IS NULL AND NOT split.by_layer
                ) AS l(code)
                CROSS JOIN LATERAL (
                    SELECT ST_CollectionExtract(COALESCE(ST_Difference(g.geom, ST_Union(c.geom)), g.geom), 3)
                    FROM grid c
                    WHERE c.valid_to IS NULL AND c.parent_code = g.code
                      AND (c.layer IS NULL OR c.layer = l.code)
                ) AS own(geom)
                CROSS JOIN LATERAL ST_Subdivide(own.geom, :vertices) AS piece(geom)
                CROSS JOIN LATERAL ST_SquareGrid(:cell, piece.geom) AS cell
                CROSS JOIN LATERAL (
                    SELECT ST_Multi(ST_ClipByBox2D(piece.geom, cell.geom)) OFFSET 0
                ) AS clipped(geom)
                WHERE g.id = ANY(:ids) AND (CAST(:layers AS text[]) IS NULL OR l.code = ANY(:layers))
                  AND ST_Intersects(piece.geom, cell.geom) AND NOT ST_IsEmpty(clipped.geom)
                """
            ),
            {
                "ids": ids[start : start + PARTS_BATCH],
                "layers": list(layers) if layers is not None else None,
                "vertices": PART_MAX_VERTICES,
                "cell": LOOKUP_CELL_DEG,
            },
        )
        if progress:
            progress("index", min(start + PARTS_BATCH, len(ids)), len(ids))


def _same_shape(a, b) -> bool:
    return shapely.equals_exact(shapely.normalize(a), shapely.normalize(b), tolerance=1e-9)


def _new_version(
    rec: GridRecord, path: str, population: int | None, layer: str | None, *, version: int, valid_from
) -> Grid:
    return Grid(
        code=rec.code,
        name=rec.name,
        level=rec.level,
        parent_code=rec.parent_code,
        layer=layer,
        path=path,
        geom=from_shape(rec.geometry, srid=4326),
        area_m2=area_m2(rec.geometry),
        population=population,
        version=version,
        valid_from=valid_from,
    )


def check_stored(
    *, db: Session, layer: str | None = None, progress: Progress | None = None
) -> TopologyReport:
    """The topology report over the current grids of a layer's hierarchy (default: the default layer's),
    with the settings' thresholds and the layer's level scheme."""
    target = get_layer(db=db, code=layer)
    records = list(stored_records(db=db, layer=target.code).values())
    return check_topology(
        records,
        thresholds=get_settings().thresholds,
        scheme=scheme_of(target),
        progress=(lambda done: progress("check", done, len(records))) if progress else None,
    )


def add_layer(*, db: Session, code: str, name: str, levels: str = "", description: str = "") -> GridLayer:
    """Add a grid layer with its own ``levels`` (a level spec, e.g. ``duty:14=责任网格``; empty: none), after
    the others, and index in it the shared grids cut differently by layer (so locating in it works before
    its own grids come)."""
    layers = all_layers(db=db)
    if any(layer.code == code or layer.name == name for layer in layers):
        raise Conflict("grid.layer_taken", layer=code, name=name)
    new = GridLayer(
        code=code,
        name=name,
        levels=levels.strip(),
        description=description,
        position=max((layer.position for layer in layers), default=-1) + 1,
        is_default=False,
    )
    try:
        check_layers(shared(), [LayerSpec(x.code, x.name, x.levels) for x in [*layers, new]])
    except ValueError as exc:
        raise Invalid("grid.layer_levels", reason=str(exc)) from None
    db.add(new)
    db.flush()
    # the shared grids whose parts differ between layers (own grids of some layer under them): cut for it
    split = select(Grid.parent_code).where(CURRENT, Grid.layer.is_not(None))
    split_codes = db.scalars(select(Grid.code).where(CURRENT, Grid.layer.is_(None), Grid.code.in_(split)))
    refresh_parts(db=db, codes=split_codes, layers=[code])
    db.commit()
    return new
