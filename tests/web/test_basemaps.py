"""Base maps in Debian's Chromium: the command-center map over a local raster package with an annotation
overlay, switched to a local vector package and to no base map; the citizens' report page over the same
first layer. Every tile comes from our own routes, and no request leaves the machine."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server.live import LiveServer, live_server
from tests.tile_packages import (
    band_png,
    config_file,
    raster_mbtiles,
    raster_pmtiles,
    vector_mbtiles,
    vector_style,
)
from tests.web.test_map import TILES_SHOWN, WAIT_MS, log_in, map_area, rendered

RED = (200, 40, 40)
PARKS = "#7fbf7f"
PLAIN = (238, 241, 244)  # the map's own background, #eef1f4
ZOOMS = (4, 10)  # the city's start view is about zoom 8: every tile there is in the packages
TILE = re.compile(r"/basemaps/(\w+)/\d+/\d+/\d+$")


@pytest.fixture
def server(demo_clone_url, tmp_path) -> Iterator[LiveServer]:
    """The demo city served with three layers: a raster PMTiles (影像), a vector MBTiles (街道) and an
    annotation overlay (注记), each covering the city and a degree around it."""
    with live_server(demo_clone_url, tmp_path / "probe.log") as probe:
        west, south, east, north = httpx.get(f"{probe.url}/api/web/config").json()["bounds"]
    around = (west - 1, south - 1, east + 1, north + 1)
    raster_pmtiles(tmp_path / "imagery.pmtiles", RED, bounds=around, zooms=ZOOMS)
    vector_mbtiles(tmp_path / "streets.mbtiles", bounds=around, zooms=ZOOMS)
    vector_style(tmp_path / "streets.json", PARKS)
    raster_mbtiles(tmp_path / "labels.mbtiles", RED, bounds=around, zooms=ZOOMS, tile=band_png((20, 20, 20)))
    common = {"group": "base", "crs": "cgcs2000"}
    basemaps = config_file(
        tmp_path / "basemaps.toml",
        {"id": "imagery", "name": "影像", "kind": "package", "path": "imagery.pmtiles", **common},
        {
            "id": "streets",
            "name": "街道",
            "kind": "package",
            "path": "streets.mbtiles",
            "style": "streets.json",
            **common,
        },
        {
            "id": "labels",
            "name": "注记",
            "kind": "package",
            "path": "labels.mbtiles",
            **common,
            "group": "overlay",
        },
    )
    with live_server(demo_clone_url, tmp_path / "server.log", GRIDOPS_BASEMAPS=str(basemaps)) as live:
        yield live


def answered(page) -> list[tuple[str, int]]:
    """Records ``(layer, status)`` of every base tile the page's map asks for."""
    tiles: list[tuple[str, int]] = []

    def on_response(response) -> None:
        found = TILE.search(response.url)
        if found:
            tiles.append((found[1], response.status))

    page.on("response", on_response)
    return tiles


def visible(page, layer: str) -> bool:
    return page.evaluate("(id) => window.gridopsMap.getLayoutProperty(id, 'visibility') !== 'none'", layer)


def most_common_colour(page, path: Path) -> tuple[int, int, int]:
    page.screenshot(path=path)
    return max(map_area(path, page).getcolors(maxcolors=1 << 20))[1]


def hex_colour(text: str) -> tuple[int, int, int]:
    return tuple(int(text[i : i + 2], 16) for i in (1, 3, 5))


def test_switch_base_layers_over_local_packages(server, tab, tmp_path):
    page = tab.page
    tiles = answered(page)
    page.goto(f"{server.url}/")
    log_in(page)
    assert rendered(page, "grids-fill", "district")
    page.wait_for_function(TILES_SHOWN, arg="basemap-imagery", timeout=WAIT_MS)
    page.wait_for_function(TILES_SHOWN, arg="basemap-labels", timeout=WAIT_MS)

    # The first base layer and the overlay, under the grids and the cases; the other base layer hidden.
    order = page.evaluate("window.gridopsMap.getStyle().layers.map((layer) => layer.id)")
    assert order.index("basemap-imagery") < order.index("basemap-labels") < order.index("grids-fill")
    assert order.index("basemap-streets-parks") < order.index("grids-fill")
    assert not visible(page, "basemap-streets-parks")
    assert (
        ("imagery", 200) in tiles and ("labels", 200) in tiles and not any(n == "streets" for n, _ in tiles)
    )
    assert most_common_colour(page, tmp_path / "imagery.png") == RED
    assert page.is_visible("#legend")

    # The switcher: 街道 instead of 影像, then the overlay off, then no base map at all.
    switcher = page.locator("#basemaps")
    assert switcher.is_visible()
    assert switcher.locator("label").all_inner_texts() == ["影像", "街道", "无底图", "注记"]
    switcher.get_by_label("街道").check()
    page.wait_for_function(TILES_SHOWN, arg="basemap-streets-parks", timeout=WAIT_MS)
    assert not visible(page, "basemap-imagery") and ("streets", 200) in tiles
    switcher.get_by_label("注记").uncheck()
    assert not visible(page, "basemap-labels")
    page.wait_for_function(TILES_SHOWN, arg="basemap-streets-parks", timeout=WAIT_MS)
    assert most_common_colour(page, tmp_path / "streets.png") == hex_colour(PARKS)
    switcher.get_by_label("无底图").check()
    assert not visible(page, "basemap-streets-parks") and not visible(page, "basemap-imagery")
    page.wait_for_function("window.gridopsMap.loaded() && !window.gridopsMap.isMoving()", timeout=WAIT_MS)
    assert most_common_colour(page, tmp_path / "plain.png") == PLAIN
    assert page.is_visible("#legend")

    page.close()  # and its event stream, which would otherwise hold the server's stop
    assert all(status in (200, 304) for _, status in tiles), tiles
    assert tab.errors == []
    assert tab.hosts() == {"127.0.0.1"}, sorted(tab.requests)


def test_the_report_page_shows_the_first_base_layer(server, tab, tmp_path):
    page = tab.page
    tiles = answered(page)
    page.goto(f"{server.url}/report")
    page.wait_for_selector("#report[data-ready]", timeout=WAIT_MS)
    page.wait_for_function(
        """() => { const map = window.gridopsPublicMap;
          return Boolean(map.getLayer("basemap-imagery") && map.getLayer("basemap-labels") && map.loaded()
            && map.areTilesLoaded()); }""",
        timeout=WAIT_MS,
    )
    assert not page.evaluate("Boolean(window.gridopsPublicMap.getLayer('basemap-streets-parks'))")
    assert ("imagery", 200) in tiles
    assert tab.errors == []
    assert tab.hosts() == {"127.0.0.1"}, sorted(tab.requests)
