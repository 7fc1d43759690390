"""Raster MBTiles packages of one grid's area, for the phone (its ``--mbtiles``) or an intranet: cut from a
local package (``cut``), or downloaded once from a tile service where the network allows (``pack``: a city's
own tile server, or 天地图 with the city's token). Both write with :func:`write_mbtiles`."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis.tiles import tiles_for_bbox
from server.basemaps.config import MAX_ZOOM, Layer
from server.basemaps.packages import write_mbtiles
from server.errors import Invalid
from server.grid.models import CURRENT, Grid
from server.grid.service import get_grid

Bounds = tuple[float, float, float, float]
Progress = Callable[[str, int, int], None]
# A download waits this long after a failure, doubling for each further one, at most TRIES times a tile;
# a Retry-After from the server is honoured up to RETRY_AFTER_MAX seconds.
RETRY_SECONDS = 2.0
TRIES = 4
RETRY_AFTER_MAX = 60.0
RETRIED = {429, 500, 502, 503, 504}
USER_AGENT = "GridOps basemaps pack (one-off package of a city's tiles)"


def parse_zooms(text: str) -> tuple[int, int]:
    """``"12-17"`` (or ``"15"``) as (12, 17)."""
    found = re.fullmatch(r"\s*(\d{1,2})\s*(?:-\s*(\d{1,2})\s*)?", text)
    if found:
        low, high = int(found[1]), int(found[2] or found[1])
        if low <= high <= MAX_ZOOM:
            return low, high
    raise Invalid("basemaps.bad_zooms", zooms=text, max_zoom=MAX_ZOOM)


def grid_bounds(db: Session, code: str) -> Bounds:
    """West, south, east, north of the current grid ``code``."""
    get_grid(db=db, code=code)  # 404 in words for a code that is not a current grid
    geom = select(Grid.geom).where(CURRENT, Grid.code == code).scalar_subquery()
    row = db.execute(select(func.ST_XMin(geom), func.ST_YMin(geom), func.ST_XMax(geom), func.ST_YMax(geom)))
    return tuple(row.one())


def tiles_within(bounds: Bounds, zooms: tuple[int, int]) -> list[tuple[int, int, int]]:
    return [tile for z in range(zooms[0], zooms[1] + 1) for tile in tiles_for_bbox(*bounds, z)]


def cut(layer: Layer, *, grid: str, bounds: Bounds, zooms: tuple[int, int], out, progress: Progress) -> int:
    """Copy the tiles of ``layer``'s raster package within ``bounds`` at ``zooms`` into a new MBTiles file."""
    package = layer.package
    if package is None:
        raise Invalid("basemaps.cut_needs_package", layer=layer.id)
    if package.vector:
        raise Invalid("basemaps.cut_needs_raster", layer=layer.id)
    wanted = tiles_within(bounds, zooms)

    def tiles() -> Iterator[tuple[int, int, int, bytes]]:
        for done, (z, x, y) in enumerate(wanted, start=1):
            data = package.tile(z, x, y)
            progress("cut", done, len(wanted))
            if data is not None:
                yield z, x, y, data

    count = write_mbtiles(out, tiles(), name=layer.name, format=package.format, bounds=bounds, zooms=zooms)
    if not count:
        out.unlink()
        raise Invalid("basemaps.no_tiles_in_grid", grid=grid, zooms=f"{zooms[0]}-{zooms[1]}")
    return count


def pack(
    layer: Layer,
    *,
    grid: str,
    bounds: Bounds,
    zooms: tuple[int, int],
    out,
    progress: Progress,
    max_tiles: int,
    http: httpx.Client,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Download the tiles of ``layer``'s tile service within ``bounds`` at ``zooms`` with ``http`` (see
    :func:`tile_client`) into a new MBTiles file, one request at a time, retrying after failures; refused
    above ``max_tiles`` tiles. A tile the service does not have (404, 204) is left out."""
    if layer.kind != "xyz":
        raise Invalid("basemaps.pack_needs_tiles", layer=layer.id)
    wanted = tiles_within(bounds, zooms)
    if len(wanted) > max_tiles:
        raise Invalid(
            "basemaps.too_many_tiles",
            grid=grid,
            zooms=f"{zooms[0]}-{zooms[1]}",
            count=len(wanted),
            limit=max_tiles,
        )

    def tiles() -> Iterator[tuple[int, int, int, bytes]]:
        for done, (z, x, y) in enumerate(wanted, start=1):
            url = layer.url.replace("{z}", str(z)).replace("{x}", str(x)).replace("{y}", str(y))
            data = _download(http, url, (z, x, y), sleep)
            progress("pack", done, len(wanted))
            if data is not None:
                yield z, x, y, data

    return write_mbtiles(out, tiles(), name=layer.name, format=None, bounds=bounds, zooms=zooms)


def tile_client() -> httpx.Client:
    """A client that says who is asking (a tile service's operators may want to know)."""
    return httpx.Client(headers={"User-Agent": USER_AGENT}, timeout=30, follow_redirects=True)


def _download(http: httpx.Client, url: str, tile: tuple[int, int, int], sleep) -> bytes | None:
    wait, reason = RETRY_SECONDS, ""
    for attempt in range(1, TRIES + 1):
        try:
            answer = http.get(url)
        except httpx.TransportError:
            reason = "连不上服务器"
        else:
            if answer.status_code in (204, 404):
                return None
            if answer.status_code == 200:
                return answer.content
            reason = f"服务器答复 {answer.status_code}"
            if answer.status_code not in RETRIED:
                break
            wait = max(wait, min(_retry_after(answer), RETRY_AFTER_MAX))
        if attempt < TRIES:
            sleep(wait)
            wait *= 2
    z, x, y = tile
    raise Invalid("basemaps.download_failed", z=z, x=x, y=y, tries=attempt, reason=reason)


def _retry_after(answer: httpx.Response) -> float:
    value = answer.headers.get("retry-after", "")
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return 0.0
