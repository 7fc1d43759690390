"""The tiles of the local packages, at the application's root (``/basemaps/...``). Base tiles are no secret
and the citizens' report page draws them too: the routes are open, read only what the package holds, and
answer with a strong ETag so that browsers revalidate instead of fetching again."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Path, Response
from fastapi.responses import FileResponse, JSONResponse

from server.basemaps import config
from server.basemaps.config import Layer
from server.basemaps.packages import VECTOR_TYPE, is_gzipped
from server.basemaps.schemas import BasemapOut
from server.errors import NotFound
from server.tiles.service import TileAddress
from server.tiles.views import IfNoneMatch, known_etags

router = APIRouter(prefix="/basemaps", tags=["basemaps"])
# Tiles of a package change only when an operator replaces it: an hour before the browser asks again, and
# then the ETag spares the transfer.
CACHE = "public, max-age=3600"
LayerId = Annotated[str, Path(max_length=32, description="The layer's id in the base map configuration")]
NOT_FOUND = {404: {"description": "No such local layer, or the package has no tile there"}}


def tile_url(layer: Layer) -> str:
    return f"/basemaps/{layer.id}/{{z}}/{{x}}/{{y}}"


def for_browser(layer: Layer) -> BasemapOut:
    """What MapLibre needs to draw ``layer``: never a file's path."""
    common = {
        "id": layer.id, "name": layer.name, "group": layer.group, "attribution": layer.attribution,
        "minzoom": layer.minzoom, "maxzoom": layer.maxzoom,
    }  # fmt: skip
    if layer.kind == "xyz":
        return BasemapOut(**common, kind="raster", tiles=[layer.url], tile_size=layer.tile_size)
    if layer.kind == "style":
        return BasemapOut(**common, kind="style", style=layer.style)
    package = layer.package
    # The package's own zooms unless the configuration narrows them: MapLibre magnifies the deepest tiles
    # beyond them and asks nothing outside the package's bounds.
    common["minzoom"] = max(layer.minzoom or 0, package.minzoom)
    common["maxzoom"] = min(layer.maxzoom if layer.maxzoom is not None else config.MAX_ZOOM, package.maxzoom)
    bounds = list(package.bounds) if package.bounds else None
    if package.vector:
        return BasemapOut(**common, kind="style", style=f"/basemaps/{layer.id}/style.json", bounds=bounds)
    return BasemapOut(
        **common, kind="raster", tiles=[tile_url(layer)], tile_size=layer.tile_size, bounds=bounds
    )


def _package_layer(layer_id: str) -> Layer:
    layer = config.layer(layer_id)
    if layer is None or layer.kind != "package":
        raise NotFound("basemaps.no_such_layer", layer=layer_id)
    return layer


@router.get(
    "/{layer}/{z}/{x}/{y}",
    summary="A tile of a local base map package (PNG, JPEG, WebP, or a vector tile, gzipped as stored)",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}, VECTOR_TYPE: {}}},
        304: {"description": "Not modified: the If-None-Match ETag is still current"},
        **NOT_FOUND,
        422: {"description": "No such tile: z must be 0..22, x and y 0..2^z-1"},
    },
)
def package_tile(layer: LayerId, z: int, x: int, y: int, if_none_match: IfNoneMatch = None):
    found = _package_layer(layer)
    TileAddress.of(z, x, y)
    package = found.package
    data = package.tile(z, x, y) if package.minzoom <= z <= package.maxzoom else None
    if data is None:
        raise NotFound("basemaps.no_tile", layer=layer, z=z, x=x, y=y)
    headers = {"ETag": f'"{hashlib.blake2b(data, digest_size=16).hexdigest()}"', "Cache-Control": CACHE}
    if headers["ETag"] in known_etags(if_none_match):
        return Response(status_code=304, headers=headers)
    if is_gzipped(data):
        headers["Content-Encoding"] = "gzip"  # a vector tile as the package stores it
    return Response(data, media_type=package.content_type, headers=headers)


@router.get(
    "/{layer}/style.json",
    summary="A vector package's MapLibre style, its vector sources pointed at the package's tile route",
    responses=NOT_FOUND,
)
def package_style(layer: LayerId) -> JSONResponse:
    found = _package_layer(layer)
    package = found.package
    if not package.vector:
        raise NotFound("basemaps.no_such_layer", layer=layer)
    style = found.package_style()
    for source in style["sources"].values():
        if source.get("type") == "vector":
            source.clear()
            source.update(
                type="vector", tiles=[tile_url(found)], minzoom=package.minzoom, maxzoom=package.maxzoom
            )
            if package.bounds:
                source["bounds"] = list(package.bounds)
    # The web map draws labels with the browser's own CJK font and keeps no icons of a merged style: a
    # glyph or sprite server elsewhere would be a request leaving the intranet.
    style.pop("glyphs", None)
    style.pop("sprite", None)
    return JSONResponse(style, headers={"Cache-Control": "no-cache"})


@router.get(
    "/{layer}.pmtiles",
    summary="A PMTiles package whole, with HTTP range requests (206), for clients that read PMTiles directly",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/vnd.pmtiles": {}}},
        206: {"description": "The range asked"},
        **NOT_FOUND,
    },
)
def package_file(layer: LayerId) -> FileResponse:
    found = _package_layer(layer)
    if found.path.suffix != ".pmtiles":
        raise NotFound("basemaps.not_whole_package", layer=layer)
    return FileResponse(found.path, media_type="application/vnd.pmtiles", headers={"Cache-Control": CACHE})
