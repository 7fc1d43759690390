"""Pollution-source routes: the register read by the command center, leaders, departments and inspectors
(a list, the map's points, one source with the cases near it) and imported by administrators."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Path, Query, UploadFile
from fastapi.responses import JSONResponse

from gis.crs import CRS
from gis.geojson import feature_collection
from grids.sources import KINDS, MAX_BYTES, read_sources
from server.auth.dependencies import AdminRequired, require_roles
from server.case.states import STATE_LABELS, TERMINAL, State
from server.case.views import ScopeDep
from server.config import get_settings
from server.deps import DB, GEOJSON, TEXT_MAX, BBox, bounding_box
from server.errors import Invalid
from server.imports import IMPORT_RESPONSES, DryRun, FileCRS, import_counts
from server.limits import read_upload
from server.source import service
from server.source.schemas import NearCase, SourceDetail, SourceImportOut, SourceList, SourceOut

READERS = ("acceptor", "shift_lead", "dispatcher", "leader", "department", "grid_head", "inspector", "admin")
router = APIRouter(prefix="/sources", tags=["sources"], dependencies=[require_roles(*READERS)])
Kind = Literal[tuple(KINDS)]  # type: ignore[valid-type]


def source_out(found: service.Found) -> dict:
    s = found.source
    return {
        "code": s.code, "name": s.name, "kind": s.kind, "kind_label": KINDS[s.kind], "address": s.address,
        "lon": found.lon, "lat": found.lat, "responsible": found.responsible, "notes": s.notes,
        "active": s.active, "updated_at": s.updated_at,
    }  # fmt: skip


@router.get(
    "",
    response_model=SourceList,
    summary="Pollution sources, by code: in a bounding box, of a kind, holding words; a page at a time",
    responses={422: {"description": "A malformed bbox, an unknown kind, or a limit out of range"}},
)
def list_sources(
    db: DB,
    bbox: Annotated[
        str | None,
        Query(
            max_length=TEXT_MAX,
            description="west,south,east,north in WGS 84",
            examples=["117.0,36.6,117.1,36.7"],
        ),
    ] = None,
    kind: Annotated[Kind | None, Query(description="The kind of source")] = None,
    q: Annotated[
        str | None, Query(max_length=TEXT_MAX, description="Words of its code, name or address")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
):
    found, total = service.list_sources(
        db=db,
        bbox=bounding_box(bbox) if bbox else None,
        kind=kind,
        text=(q or "").strip() or None,
        limit=limit,
        offset=offset,
    )
    return SourceList(total=total, items=[SourceOut(**source_out(f)) for f in found])


@router.get(
    "/bbox",
    summary="The active pollution sources in a bounding box, as GeoJSON points (up to the tile cap)",
    response_class=JSONResponse,
    responses={200: {"content": {GEOJSON: {}}}, 422: {"description": "A malformed bbox"}},
)
def in_bbox(db: DB, bbox: BBox):
    found, total = service.list_sources(
        db=db, bbox=bbox, active_only=True, limit=get_settings().tile_max_features
    )
    features = [
        {
            "type": "Feature",
            "id": f.source.code,
            "geometry": {"type": "Point", "coordinates": [f.lon, f.lat]},
            "properties": SourceOut(**source_out(f)).model_dump(mode="json", exclude={"lon", "lat"}),
        }
        for f in found
    ]
    return JSONResponse({**feature_collection(features), "total": total}, media_type=GEOJSON)


@router.get(
    "/{code}",
    response_model=SourceDetail,
    summary="A pollution source with the cases near it you may see (recent ones, open first)",
    responses={404: {"description": "No source has this code"}},
)
def get_source(db: DB, scope: ScopeDep, code: Annotated[str, Path(max_length=64)]):
    found = service.get_source(db=db, code=code)
    settings = get_settings()
    near = service.cases_near(db=db, scope=scope, lon=found.lon, lat=found.lat)
    return SourceDetail(
        **source_out(found),
        near_radius_m=settings.source_near_radius_m,
        near_days=settings.source_near_days,
        nearby_cases=[
            NearCase(
                code=n.case.code,
                state=n.case.state,
                state_label=STATE_LABELS[State(n.case.state)],
                open=State(n.case.state) not in TERMINAL,
                category=n.category,
                received_at=n.case.received_at,
                distance_m=round(n.distance_m, 1),
            )
            for n in near
        ],
    )


@router.post(
    "/import",
    response_model=SourceImportOut,
    dependencies=[AdminRequired],
    summary="Import a register file (CSV or GeoJSON points), checked whole first; upserted by code",
    responses=IMPORT_RESPONSES,
)
def import_register(
    db: DB,
    file: Annotated[
        UploadFile,
        File(
            description="CSV (UTF-8 or GB18030, header 编号,名称,类型,地址,经度,纬度,责任人手机号) or GeoJSON"
        ),
    ],
    crs: FileCRS = CRS.WGS84,
    dry_run: DryRun = False,
):
    register = read_sources(read_upload(file, MAX_BYTES, "source.file_too_large"), crs=crs)
    users = service.responsible_ids(db=db, register=register) if register.ok else {}
    if not register.ok:
        raise Invalid("source.file_invalid", count=register.error_count, errors=register.listed())
    result = service.import_sources(db=db, records=register.records, users=users, dry_run=dry_run)
    return SourceImportOut(**import_counts(register, result))
