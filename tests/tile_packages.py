"""Small tile packages around 历下区 made by the tests themselves (no street map of a Chinese city can be
downloaded here): raster PMTiles and MBTiles of plain-coloured tiles, a vector MBTiles of one fill layer
with the MapLibre style that draws it, and the base map configuration file naming them."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import mapbox_vector_tile
from PIL import Image
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer

from gis.tiles import tiles_for_bbox
from server.basemaps.packages import write_mbtiles

LIXIA = (117.03, 36.64, 117.10, 36.69)  # west, south, east, north: about 历下区
ZOOMS = (11, 14)
VECTOR_LAYER = "landuse"  # the vector package's one source layer


def png(color: tuple[int, int, int], size: int = 256) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buffer, "PNG")
    return buffer.getvalue()


def band_png(color: tuple[int, int, int], size: int = 256) -> bytes:
    """A transparent tile with a thin band of ``color`` along its top, like an annotation overlay."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    image.paste((*color, 255), (0, 0, size, 4))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def tile_addresses(bounds=LIXIA, zooms=ZOOMS) -> list[tuple[int, int, int]]:
    return [tile for z in range(zooms[0], zooms[1] + 1) for tile in tiles_for_bbox(*bounds, z)]


def raster_pmtiles(path: Path, color: tuple[int, int, int], bounds=LIXIA, zooms=ZOOMS) -> Path:
    """A PMTiles file of plain ``color`` PNG tiles covering ``bounds`` at ``zooms``."""
    data = png(color)
    with path.open("wb") as file:
        writer = Writer(file)
        for tile_id in sorted(zxy_to_tileid(*tile) for tile in tile_addresses(bounds, zooms)):
            writer.write_tile(tile_id, data)
        west, south, east, north = bounds
        writer.finalize(
            {
                "tile_type": TileType.PNG,
                "tile_compression": Compression.NONE,
                "min_lon_e7": int(west * 1e7),
                "min_lat_e7": int(south * 1e7),
                "max_lon_e7": int(east * 1e7),
                "max_lat_e7": int(north * 1e7),
            },
            {"name": "test raster"},
        )
    return path


def raster_mbtiles(
    path: Path, color: tuple[int, int, int], bounds=LIXIA, zooms=ZOOMS, tile: bytes | None = None
) -> Path:
    """An MBTiles file of plain ``color`` PNG tiles (or of ``tile``) covering ``bounds`` at ``zooms``."""
    data = tile or png(color)
    tiles = ((z, x, y, data) for z, x, y in tile_addresses(bounds, zooms))
    write_mbtiles(path, tiles, name="test raster", format="png", bounds=bounds, zooms=zooms)
    return path


def vector_tile() -> bytes:
    """A gzipped vector tile whose one layer is a square filling the tile (tile coordinates, y down)."""
    square = "POLYGON ((0 0, 4096 0, 4096 4096, 0 4096, 0 0))"
    layer = {"name": VECTOR_LAYER, "features": [{"geometry": square, "properties": {"kind": "park"}}]}
    return gzip.compress(mapbox_vector_tile.encode([layer], default_options={"y_coord_down": True}))


def vector_mbtiles(path: Path, bounds=LIXIA, zooms=ZOOMS) -> Path:
    tiles = ((z, x, y, vector_tile()) for z, x, y in tile_addresses(bounds, zooms))
    write_mbtiles(path, tiles, name="test vector", format="pbf", bounds=bounds, zooms=zooms)
    return path


def vector_style(path: Path, color: str = "#7fbf7f") -> Path:
    """A MapLibre style drawing the vector package's layer (its source's URL is the package's name: GridOps
    replaces it with its own tile route), with a glyph URL elsewhere that GridOps must drop."""
    style = {
        "version": 8,
        "glyphs": "https://fonts.example.invalid/{fontstack}/{range}.pbf",
        "sources": {"streets": {"type": "vector", "url": "pmtiles://streets.mbtiles"}},
        "layers": [
            {
                "id": "parks",
                "type": "fill",
                "source": "streets",
                "source-layer": VECTOR_LAYER,
                "paint": {"fill-color": color},
            }
        ],
    }
    path.write_text(json.dumps(style))
    return path


def config_file(path: Path, *layers: dict) -> Path:
    """A base map configuration file of ``layers`` (TOML, one ``[[layers]]`` table each)."""
    tables = []
    for layer in layers:
        lines = ["[[layers]]"]
        for key, value in layer.items():
            lines.append(
                f"{key} = {json.dumps(value, ensure_ascii=False) if isinstance(value, str) else value}"
            )
        tables.append("\n".join(lines))
    path.write_text("\n\n".join(tables) + "\n", encoding="utf-8")
    return path
