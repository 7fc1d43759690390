"""Tile routes, at the application's root (``/tiles/...``) where map clients expect them."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Response

from server.auth.dependencies import current_principal
from server.case.states import State
from server.case.views import ScopeDep
from server.deps import TEXT_MAX, ReadDB
from server.grid.models import day_start
from server.grid.schemas import LAYER_CODE
from server.tiles import service

router = APIRouter(prefix="/tiles", tags=["tiles"])
MVT = "application/vnd.mapbox-vector-tile"
TILE_RESPONSES = {
    200: {"content": {MVT: {}}, "description": "The tile (empty when nothing is in it)"},
    304: {"description": "Not modified: the If-None-Match ETag is still current"},
    422: {"description": "No such tile: z must be 0..22, x and y 0..2^z-1"},
}
IfNoneMatch = Annotated[str | None, Header(description="ETags of tiles held (revalidation)")]


def known_etags(if_none_match: str | None) -> frozenset[str]:
    """The ETags of an If-None-Match header, weak ones compared as strong (RFC 9110 13.1.2)."""
    return frozenset(tag.strip().removeprefix("W/") for tag in (if_none_match or "").split(","))


def _answer(tile: service.Tile) -> Response:
    headers = {"ETag": tile.etag, "Cache-Control": "private, no-cache"}
    if tile.data is None:
        return Response(status_code=304, headers=headers)
    return Response(tile.data, media_type=MVT, headers=headers)


@router.get(
    "/grids/{z}/{x}/{y}.mvt",
    summary="Current grids as a vector tile: districts to z10, streets to z12, villages to z14, then the "
    "grids of a layer (units in the default one)",
    response_class=Response,
    responses=TILE_RESPONSES,
    dependencies=[Depends(current_principal)],
)
def grids_tile(
    z: int,
    x: int,
    y: int,
    db: ReadDB,
    if_none_match: IfNoneMatch = None,
    layer: Annotated[
        str | None,
        Query(max_length=20, pattern=LAYER_CODE, description="Grid layer code; default: the default layer"),
    ] = None,
):
    tile = service.TileAddress.of(z, x, y)
    known = known_etags(if_none_match)
    return _answer(service.grids_tile(db=db, tile=tile, known_etags=known, layer=layer))


@router.get(
    "/cases/{z}/{x}/{y}.mvt",
    summary="Cases you may see as a vector tile: clusters with counts below the cluster zoom, points from it "
    "(clusters where too dense)",
    response_class=Response,
    responses=TILE_RESPONSES,
)
def cases_tile(
    z: int,
    x: int,
    y: int,
    scope: ScopeDep,
    db: ReadDB,
    if_none_match: IfNoneMatch = None,
    state: Annotated[list[State], Query(description="Only these states (repeat)")] = (),
    light: Annotated[Literal["green", "yellow", "red"] | None, Query(description="Only this light")] = None,
    category: Annotated[str | None, Query(max_length=TEXT_MAX, description="Category code")] = None,
    department: Annotated[
        str | None, Query(max_length=TEXT_MAX, description="Department code: cases dispatched to it")
    ] = None,
    tag: Annotated[str | None, Query(max_length=TEXT_MAX, description="Tag code")] = None,
    since: Annotated[date | None, Query(description="Received on or after this local day")] = None,
    until: Annotated[date | None, Query(description="Received on or before this local day")] = None,
):
    tile = service.TileAddress.of(z, x, y)
    filters = service.CaseTileFilter(
        states=tuple(sorted(s.value for s in state)),
        light=light,
        category=category,
        department=department,
        tag=tag,
        since=day_start(since) if since else None,
        until=day_start(until + timedelta(days=1)) if until else None,
    )
    known = known_etags(if_none_match)
    return _answer(service.cases_tile(db=db, scope=scope, tile=tile, filters=filters, known_etags=known))
