"""Address routes: search and reverse geocoding (open: the public report page finds places too) and the
administrator's import of a register file. The phone's copy of the addresses in the inspector's grids is
one of the phone's sync routes (``GET /api/sync/addresses``, server.case.views)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile

from gis.crs import CRS
from grids.addresses import MAX_BYTES, read_register
from server.address import importer, service
from server.address.models import KINDS
from server.address.schemas import (
    AddressImportOut,
    AddressOut,
    GridRef,
    OutsideAddress,
)
from server.auth.dependencies import AdminRequired
from server.deps import DB
from server.errors import Invalid
from server.imports import IMPORT_RESPONSES, DryRun, FileCRS, import_counts
from server.limits import read_upload

router = APIRouter(prefix="/addresses", tags=["addresses"])


def addresses_out(db, found: list[service.Found]) -> list[AddressOut]:
    chains = service.grid_chains(db=db, codes=(f.address.grid_code for f in found))
    return [
        AddressOut(
            id=f.address.id,
            register_id=f.address.register_id,
            label=f.address.label,
            name=f.address.name,
            text=f.address.address_text,
            kind=f.address.kind,
            kind_label=KINDS[f.address.kind],
            lon=f.lon,
            lat=f.lat,
            approximate=f.address.approximate,
            grid_code=f.address.grid_code,
            grids=[
                GridRef(code=g.code, name=g.name, level=g.level) for g in chains.get(f.address.grid_code, [])
            ],
            distance_m=None if f.distance_m is None else round(f.distance_m, 1),
        )
        for f in found
    ]


@router.get(
    "/search",
    response_model=list[AddressOut],
    summary="Addresses and places by words of their name, address or aliases, in any order, best first",
    responses={422: {"description": "Empty, too long, too many words, or no word of two characters"}},
)
def search(
    db: DB,
    q: Annotated[str, Query(max_length=200, description="Words of the address", examples=["经十路 恒隆"])],
    limit: Annotated[int, Query(ge=1, le=service.MAX_LIMIT)] = 10,
):
    return addresses_out(db, service.search(db=db, text=q, limit=limit))


@router.get(
    "/nearest",
    response_model=list[AddressOut],
    summary="The register addresses nearest to a point (WGS 84), within a radius, nearest first",
)
def nearest(
    db: DB,
    lon: Annotated[float, Query(description="Longitude")],
    lat: Annotated[float, Query(description="Latitude")],
    radius: Annotated[float, Query(description="Metres", gt=0, le=service.MAX_RADIUS_M)] = 100.0,
    limit: Annotated[int, Query(ge=1, le=service.MAX_LIMIT)] = 5,
):
    return addresses_out(db, service.nearest(db=db, lon=lon, lat=lat, radius_m=radius, limit=limit))


@router.post(
    "/import",
    response_model=AddressImportOut,
    dependencies=[AdminRequired],
    summary="Import a register file (CSV or GeoJSON points), checked whole first; upserted by register id",
    responses=IMPORT_RESPONSES,
)
def import_register(
    db: DB,
    file: Annotated[
        UploadFile,
        File(description="CSV (UTF-8 or GB18030) or GeoJSON FeatureCollection of points: see the README"),
    ],
    crs: FileCRS = CRS.WGS84,
    dry_run: DryRun = False,
):
    register = read_register(read_upload(file, MAX_BYTES, "address.file_too_large"), crs=crs)
    if not register.ok:
        raise Invalid("address.file_invalid", count=register.error_count, errors=register.listed())
    result = importer.import_addresses(db=db, records=register.records, dry_run=dry_run)
    return AddressImportOut(
        **import_counts(register, result),
        outside_count=result.outside_count,
        outside=[OutsideAddress(register_id=r, text=t) for r, t in result.outside],
        cases_linked=result.cases_linked,
    )
