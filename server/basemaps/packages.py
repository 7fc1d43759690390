"""Local tile packages: PMTiles (read with the ``pmtiles`` package from a memory map) and MBTiles (SQLite,
rows in TMS order), each opened once and shared by every request, and the one MBTiles writer (``gridops
basemaps cut`` and ``pack`` write the phone's packages with it).

Both formats hold Web Mercator XYZ tiles by definition, so a package needs no projection check."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pmtiles.reader import MmapSource, Reader
from pmtiles.tile import Compression, TileType

SUFFIXES = (".pmtiles", ".mbtiles")
# Tile formats the web map draws, by the names MBTiles gives them, with their content types.
RASTER_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}
VECTOR_TYPE = "application/vnd.mapbox-vector-tile"
FORMAT_NAMES = {"jpeg": "jpg", "mvt": "pbf"}  # other names of the same formats
PMTILES_FORMATS = {TileType.MVT: "pbf", TileType.PNG: "png", TileType.JPEG: "jpg", TileType.WEBP: "webp"}
GZIP_MAGIC = b"\x1f\x8b"


class PackageError(Exception):
    """The file is not a tile package this module can read."""


@dataclass
class Package:
    """A tile package: its format (``png``, ``jpg``, ``webp`` or ``pbf``), zooms and bounds (west, south,
    east, north in degrees, None when it does not say), and its tiles."""

    path: Path
    format: str
    minzoom: int
    maxzoom: int
    bounds: tuple[float, float, float, float] | None

    @property
    def vector(self) -> bool:
        return self.format == "pbf"

    @property
    def content_type(self) -> str | None:
        """The content type of its tiles; None for a format the web map cannot draw."""
        return VECTOR_TYPE if self.vector else RASTER_TYPES.get(self.format)

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The tile's bytes as stored (a vector tile often gzipped), None when the package has none."""
        raise NotImplementedError


class PMTilesPackage(Package):
    def __init__(self, path: Path) -> None:
        try:
            with path.open("rb") as file:
                # The mapping outlives the file object; slicing it is safe from any thread.
                self._reader = Reader(MmapSource(file))
            header = self._reader.header()
        except Exception as exc:  # the pmtiles reader raises whatever a malformed file makes it meet
            raise PackageError(str(exc)) from exc
        name = PMTILES_FORMATS.get(header["tile_type"], header["tile_type"].name.lower())
        if header["tile_compression"] not in (Compression.NONE, Compression.GZIP, Compression.UNKNOWN):
            name = f"{name}-{header['tile_compression'].name.lower()}"  # brotli or zstd: no browser reads it
        bounds = tuple(header[k] / 1e7 for k in ("min_lon_e7", "min_lat_e7", "max_lon_e7", "max_lat_e7"))
        super().__init__(path, name, header["min_zoom"], header["max_zoom"], bounds)

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        data = self._reader.get(z, x, y)
        return bytes(data) if data else None


class MBTilesPackage(Package):
    def __init__(self, path: Path) -> None:
        try:
            self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            meta = dict(self._db.execute("SELECT name, value FROM metadata").fetchall())
            low, high = self._db.execute("SELECT min(zoom_level), max(zoom_level) FROM tiles").fetchone()
            first = self._db.execute("SELECT tile_data FROM tiles LIMIT 1").fetchone()
        except sqlite3.Error as exc:
            raise PackageError(str(exc)) from exc
        if low is None:
            raise PackageError("no tiles")
        name = str(meta.get("format") or _sniff(first[0])).lower()
        try:
            bounds = tuple(float(v) for v in meta["bounds"].split(","))
        except (KeyError, ValueError):
            bounds = None
        self._lock = threading.Lock()  # one connection shared by the threads that serve tiles
        super().__init__(
            path, FORMAT_NAMES.get(name, name), low, high, bounds if len(bounds or ()) == 4 else None
        )

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        with self._lock:
            row = self._db.execute(
                "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                (z, x, (1 << z) - 1 - y),  # MBTiles counts rows from the south (TMS)
            ).fetchone()
        return bytes(row[0]) if row else None


def _sniff(data: bytes) -> str:
    """The format of a tile by its first bytes (for an MBTiles file whose metadata does not say)."""
    if data.startswith(b"\x89PNG"):
        return "png"
    if data.startswith(b"\xff\xd8"):
        return "jpg"
    if data[8:12] == b"WEBP":
        return "webp"
    return "pbf" if data.startswith(GZIP_MAGIC) else "unknown"


@cache
def open_package(path: Path) -> Package:
    """The package at ``path``, opened once for the life of the process (raises :class:`PackageError`)."""
    if path.suffix == ".pmtiles":
        return PMTilesPackage(path)
    if path.suffix == ".mbtiles":
        return MBTilesPackage(path)
    raise PackageError(f"not a tile package: {path.suffix}")


def is_gzipped(data: bytes) -> bool:
    return data[:2] == GZIP_MAGIC


def write_mbtiles(
    path: Path,
    tiles: Iterable[tuple[int, int, int, bytes]],
    *,
    name: str,
    format: str | None,
    bounds: tuple[float, float, float, float],
    zooms: tuple[int, int],
) -> int:
    """Write the ``(z, x, y, data)`` tiles to a new MBTiles file at ``path`` (rows in TMS order; metadata
    name, format (None: that of the first tile), bounds, center, minzoom, maxzoom) through a part file
    renamed at the end, so that an interrupted run leaves no half package; the number of tiles written."""
    part = path.with_name(path.name + ".part")
    part.unlink(missing_ok=True)
    db = sqlite3.connect(part)
    try:
        db.execute("CREATE TABLE metadata (name TEXT PRIMARY KEY, value TEXT)")
        db.execute(
            "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)"
        )
        db.execute("CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row)")
        count = 0
        for z, x, y, data in tiles:
            db.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, (1 << z) - 1 - y, data))
            format = format or _sniff(data)
            count += 1
        west, south, east, north = bounds
        metadata = {
            "name": name,
            "format": format or "png",
            "type": "baselayer",
            "bounds": f"{west:.6f},{south:.6f},{east:.6f},{north:.6f}",
            "center": f"{(west + east) / 2:.6f},{(south + north) / 2:.6f},{zooms[0]}",
            "minzoom": str(zooms[0]),
            "maxzoom": str(zooms[1]),
        }
        db.executemany("INSERT INTO metadata VALUES (?, ?)", metadata.items())
        db.commit()
    except BaseException:
        db.close()
        part.unlink()
        raise
    db.close()
    part.replace(path)
    return count
