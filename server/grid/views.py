"""Grid routes: browse, locate, import, check, export, and who is responsible for a grid."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Path, Query, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from gis.crs import CRS
from gis.geojson import feature_collection
from grids.loaders import load_features
from server.auth import service as user_service
from server.auth.dependencies import AdminRequired, MaybeUser, current_principal
from server.config import get_settings
from server.deps import DB, GEOJSON, BBox
from server.errors import NotFound
from server.grid import importer as grid_importer
from server.grid import layers as grid_layers
from server.grid import lookup as grid_lookup
from server.grid import people as grid_people
from server.grid import population as grid_population
from server.grid import service
from server.grid.schemas import (
    LAYER_CODE,
    AssignmentEnd,
    AssignmentIn,
    AssignmentOut,
    FoundGrid,
    GridDetail,
    GridOut,
    ImportOut,
    LayerIn,
    LayerLevel,
    LayerOut,
    LocateBatchIn,
    LocateBatchOut,
    LocateOut,
    ReportOut,
)
from server.http_errors import error_response
from server.limits import read_upload

router = APIRouter(prefix="/grids", tags=["grids"])
assignments_router = APIRouter(prefix="/assignments", tags=["grids"])
Code = Annotated[str, Path(pattern=r"^[0-9]{1,15}$", description="Grid code", examples=["370102"])]
MAX_IMPORT_BYTES = 200 * 1024 * 1024
MAX_POPULATION_BYTES = 10 * 1024 * 1024
AS_GEOJSON = {200: {"content": {GEOJSON: {}}}}  # what the GeoJSON routes answer with (application/geo+json)
Layer = Annotated[
    str | None,
    Query(max_length=20, pattern=LAYER_CODE, description="Grid layer code; default: the default layer"),
]


@router.get("", response_model=list[GridOut], summary="Root grids, or the children of a grid")
def list_grids(db: DB, parent: Annotated[str | None, Query(description="Parent grid code")] = None):
    return service.list_grids(db=db, parent=parent)


@router.get(
    "/search",
    response_model=list[FoundGrid],
    summary="Grids by part of their name (or the start of their code), higher levels first, each with a "
    "point inside it",
)
def search(
    db: DB,
    q: Annotated[str, Query(min_length=1, max_length=50, description="Part of the name", examples=["泉城"])],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
):
    return [
        FoundGrid(**GridOut.model_validate(grid).model_dump(), lon=lon, lat=lat)
        for grid, lon, lat in service.search(db=db, text=q, limit=limit)
    ]


@router.get(
    "/layers",
    response_model=list[LayerOut],
    summary="The grid layers (城市管理网格, 生态环境网格 ...), the default one marked",
)
def list_layers(db: DB):
    return [layer_out(layer) for layer in grid_layers.all_layers(db=db)]


@router.post(
    "/layers",
    response_model=LayerOut,
    status_code=201,
    dependencies=[AdminRequired],
    summary="Add a grid layer with its own levels below the shared ones (then import its grids)",
)
def add_layer(body: LayerIn, db: DB):
    layer = grid_importer.add_layer(
        db=db, code=body.code, name=body.name, levels=body.levels, description=body.description
    )
    return layer_out(layer)


def layer_out(layer) -> LayerOut:
    scheme = [LayerLevel(name=lv.name, label=lv.label) for lv in grid_layers.scheme_of(layer).levels]
    return LayerOut(
        code=layer.code,
        name=layer.name,
        description=layer.description,
        levels=layer.levels,
        position=layer.position,
        is_default=layer.is_default,
        scheme=scheme,
    )


@router.get(
    "/locate",
    response_model=LocateOut,
    summary="The grids of a layer holding a point, city down to its deepest",
)
def locate(
    db: DB,
    lon: Annotated[float, Query(description="Longitude")],
    lat: Annotated[float, Query(description="Latitude")],
    crs: Annotated[CRS, Query(description="Coordinate system of lon/lat (converted to WGS 84)")] = CRS.WGS84,
    layer: Layer = None,
):
    x, y, chain = grid_lookup.locate(db=db, lon=lon, lat=lat, crs=crs, layer=layer)
    if not chain:
        raise NotFound("grid.point_outside", lon=lon, lat=lat)
    return LocateOut(lon=x, lat=y, chain=chain)


@router.post("/locate", response_model=LocateBatchOut, summary="The deepest grid for many points at once")
def locate_batch(body: LocateBatchIn, db: DB):
    limit = get_settings().locate_batch_max
    if len(body.points) > limit:
        return error_response(413, "grid.too_many_points", params={"limit": limit})
    codes = grid_lookup.locate_batch(db=db, points=body.points, crs=body.crs, layer=body.layer)
    return LocateBatchOut(codes=codes)


@router.get(
    "/bbox",
    summary="Grids intersecting a bounding box, as GeoJSON",
    response_class=JSONResponse,
    responses=AS_GEOJSON,
)
def in_bbox(
    db: DB,
    bbox: BBox,
    level: Annotated[str | None, Query(max_length=20, description="Only this level")] = None,
    layer: Annotated[
        str | None,
        Query(
            max_length=20,
            pattern=LAYER_CODE,
            description="Only the grids of this layer (and the shared ones)",
        ),
    ] = None,
):
    west, south, east, north = bbox
    grids = service.in_bbox(
        db=db,
        west=west,
        south=south,
        east=east,
        north=north,
        level=level,
        limit=get_settings().bbox_max_features,
        layer=layer,
    )
    return JSONResponse(feature_collection(service.geojson_of(db=db, grids=grids)), media_type=GEOJSON)


@router.get(
    "/check",
    response_model=ReportOut,
    dependencies=[AdminRequired],
    summary="Topology report over the stored grids of a layer (admin token: it takes seconds of CPU)",
)
def check(db: DB, layer: Layer = None):
    return grid_importer.check_stored(db=db, layer=layer).to_dict()


@router.get(
    "/export",
    summary="Current grids of a layer (the shared ones and its own) as a GeoJSON FeatureCollection",
    response_class=JSONResponse,
    responses=AS_GEOJSON,
)
def export(
    db: DB,
    code: Annotated[str | None, Query(max_length=15, description="Only this grid and its subtree")] = None,
    layer: Layer = None,
):
    features = service.export_features(db=db, code=code, layer=layer)
    return JSONResponse(feature_collection(features), media_type=GEOJSON)


@router.post(
    "/import",
    response_model=ImportOut,
    dependencies=[AdminRequired],
    summary="Import a GeoJSON FeatureCollection of grids (checked first; errors stop it)",
    responses={
        422: {
            "model": ImportOut,
            "description": "The file has errors: nothing was written; the report says why",
        }
    },
)
def import_grids(
    db: DB,
    file: Annotated[
        UploadFile, File(description="GeoJSON FeatureCollection: code, name, level, parent_code")
    ],
    crs: Annotated[CRS, Query(description="Coordinate system of the file")] = CRS.WGS84,
    dry_run: Annotated[bool, Query(description="Only report, write nothing")] = False,
    layer: Layer = None,
):
    data = read_upload(file, MAX_IMPORT_BYTES, "grid.file_too_large")
    scheme = grid_layers.scheme_of(grid_layers.get_layer(db=db, code=layer))
    records, report = load_features(data, crs=crs, scheme=scheme)
    result = grid_importer.import_grids(db=db, records=records, report=report, dry_run=dry_run, layer=layer)
    out = ImportOut.model_validate(result.to_dict())
    return JSONResponse(out.model_dump(mode="json"), status_code=200 if result.report.ok else 422)


class PopulationOut(BaseModel):
    rows: int = Field(description="Grids the file lists")
    changed: int = Field(description="Of them, with a population different from the stored one")


@router.post(
    "/population",
    response_model=PopulationOut,
    dependencies=[AdminRequired],
    summary="Set the resident population of grids from a CSV (checked whole; any error writes nothing)",
    responses={
        413: {"description": "The file is too large"},
        422: {"description": "The file has errors: nothing was written; errors lists every bad row"},
    },
)
def import_population(
    db: DB,
    file: Annotated[
        UploadFile,
        File(description="CSV, UTF-8: a header with 网格编码 (or code) and 常住人口 (or population)"),
    ],
):
    data = read_upload(file, MAX_POPULATION_BYTES, "grid.file_too_large")
    result = grid_population.import_populations(db=db, data=data)
    return PopulationOut(rows=result.rows, changed=result.changed)


@router.get(
    "/{code}", response_model=GridDetail, summary="One grid, with its geometry (and its people, after login)"
)
def get_grid(code: Code, db: DB, principal: MaybeUser):
    grid = service.get_grid(db=db, code=code)
    (feature,) = service.geojson_of(db=db, grids=[grid])
    people = None
    if principal is not None:  # staff names are for logged-in users; the grid itself is public
        people = [AssignmentOut.of(a, u) for a, u in grid_people.assignments(db=db, grid_code=code)]
    return GridDetail(
        **GridOut.model_validate(grid).model_dump(),
        path=grid.path,
        geometry=feature["geometry"],
        children=len(service.list_grids(db=db, parent=code)),
        people=people,
    )


@router.get(
    "/{code}/children.geojson",
    summary="The children of a grid as GeoJSON",
    response_class=JSONResponse,
    responses=AS_GEOJSON,
)
def children_geojson(code: Code, db: DB):
    children = service.list_grids(db=db, parent=code)
    return JSONResponse(feature_collection(service.geojson_of(db=db, grids=children)), media_type=GEOJSON)


@router.get("/{code}/subtree", response_model=list[GridOut], summary="A grid and its descendants")
def subtree(
    code: Code, db: DB, depth: Annotated[int | None, Query(ge=0, le=10, description="Levels down")] = None
):
    return service.subtree(db=db, code=code, depth=depth)


@router.get("/{code}/history", response_model=list[GridOut], summary="Every version of a grid")
def history(code: Code, db: DB):
    return service.history(db=db, code=code)


@router.get(
    "/{code}/assignments",
    response_model=list[AssignmentOut],
    dependencies=[Depends(current_principal)],
    summary="Head and inspectors of a grid (logged-in users)",
)
def grid_assignments(
    code: Code,
    db: DB,
    include_ended: Annotated[
        bool, Query(description="Include the assignment history (ended and scheduled)")
    ] = False,
    layer: Annotated[
        str | None,
        Query(max_length=20, pattern=LAYER_CODE, description="Only the assignments in this layer"),
    ] = None,
):
    service.get_grid(db=db, code=code)
    found = grid_people.assignments(db=db, grid_code=code, include_ended=include_ended, layer=layer)
    return [AssignmentOut.of(a, u) for a, u in found]


@router.post(
    "/{code}/assignments",
    response_model=AssignmentOut,
    status_code=201,
    dependencies=[AdminRequired],
    summary="Assign a head (replacing the current one) or an inspector to a grid",
)
def assign(code: Code, body: AssignmentIn, db: DB):
    user = user_service.find_user(db=db, key=body.user)
    assignment = grid_people.assign(
        db=db, grid_code=code, user=user, role=body.role, starts_on=body.starts_on, layer=body.layer
    )
    return AssignmentOut.of(assignment, user)


@assignments_router.post(
    "/{assignment_id}/end",
    response_model=AssignmentOut,
    dependencies=[AdminRequired],
    summary="End an assignment",
)
def end_assignment(assignment_id: int, body: AssignmentEnd, db: DB):
    assignment = grid_people.end_assignment(db=db, assignment_id=assignment_id, ends_on=body.ends_on)
    user = user_service.get_user(db=db, user_id=assignment.user_id)
    return AssignmentOut.of(assignment, user)
