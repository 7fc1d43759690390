"""The command-center web app: its configuration, and in Debian's Chromium the login, the grid map by
level with labels drawn without any glyph server, and no request leaving the machine."""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import shapely
from PIL import Image

from server.auth.passwords import DEMO_PASSWORD
from server.config import get_settings
from server.users.demo import DISTRICT
from tests.conftest import screenshot_dir
from tests.server.live import live_server
from tests.tile_packages import config_file

SCREENSHOTS = screenshot_dir("web")
WAIT_MS = 60_000
# The properties of the features a layer has drawn at one level, once the map has settled (no move under
# way, its tiles loaded); null before.
RENDERED = """([layer, level]) => {
  const map = window.gridopsMap;
  if (!map || !map.getLayer(layer) || !map.loaded() || map.isMoving() || !map.areTilesLoaded()) return null;
  const drawn = map.queryRenderedFeatures({layers: [layer]}).map((f) => f.properties);
  const atLevel = drawn.filter((p) => p.level === level);
  return atLevel.length ? atLevel : null;
}"""


# A layer of the map shown, the map settled and its tiles loaded.
TILES_SHOWN = """(layer) => {
  const map = window.gridopsMap;
  return Boolean(map && map.getLayer(layer) && map.getLayoutProperty(layer, "visibility") !== "none"
    && map.loaded() && !map.isMoving() && map.areTilesLoaded());
}"""


def rendered(page, layer: str, level: str) -> list[dict]:
    return page.wait_for_function(RENDERED, arg=[layer, level], timeout=WAIT_MS).json_value()


def child_names(server_url: str, code: str) -> set[str]:
    answer = httpx.get(f"{server_url}/api/grids", params={"parent": code})
    answer.raise_for_status()
    return {grid["name"] for grid in answer.json()}


def map_area(path, page) -> Image.Image:
    """The map's part of a screenshot of ``page``."""
    box = page.locator("#map").bounding_box()
    with Image.open(path) as image:
        return image.convert("RGB").crop(
            (box["x"], box["y"], box["x"] + box["width"], box["y"] + box["height"])
        )


def assert_map_drawn(path, page) -> None:
    """The map shows more than its background (and the controls on it)."""
    area = map_area(path, page)
    colors = area.getcolors(maxcolors=1 << 20)
    most = max(count for count, _ in colors)
    assert len(colors) > 100, f"{path} has only {len(colors)} colours"
    assert most < 0.98 * area.width * area.height, f"{path}: the map is mostly one colour"


def log_in(page) -> None:
    page.fill("#login [name=login]", "zhaomin")
    page.fill("#login [name=password]", DEMO_PASSWORD)
    page.click("#login button")
    page.wait_for_selector("#app", state="visible", timeout=WAIT_MS)


@contextmanager
def tile_server(color: tuple[int, int, int]) -> Iterator[tuple[str, list[str]]]:
    """A city's raster tile server on 127.0.0.1: every tile one colour; yields its URL template and the
    paths asked for."""
    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), color).save(buffer, "PNG")
    tile, asked = buffer.getvalue(), []

    class Tiles(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Access-Control-Allow-Origin", "*")  # the page comes from another port
            self.end_headers()
            self.wfile.write(tile)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/{{z}}/{{x}}/{{y}}.png", asked
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def test_config_without_grids(client):
    answer = client.get("/api/web/config")
    assert answer.status_code == 200
    assert answer.json() == {
        "basemaps": [],
        "levels": [{"name": lv.name, "label": lv.label} for lv in get_settings().scheme.levels],
        "bounds": None,
    }


def test_config_start_view_is_the_city(demo_client):
    (city,) = demo_client.get("/api/grids").json()
    boundary = shapely.geometry.shape(demo_client.get(f"/api/grids/{city['code']}").json()["geometry"])
    bounds = demo_client.get("/api/web/config").json()["bounds"]
    assert bounds == pytest.approx(boundary.bounds, abs=1e-6)


def test_page_and_map_library_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/static/app.js">' in page.text
    library = client.get("/vendor/maplibre-gl/maplibre-gl.mjs")
    assert library.status_code == 200 and library.headers["content-type"].startswith("text/javascript")
    assert client.get("/vendor/maplibre-gl/maplibre-gl-worker.mjs").status_code == 200
    assert client.get("/static/app.js").status_code == 200


def test_login_then_grid_map(web_server, tab):
    page = tab.page
    page.goto(f"{web_server.url}/")
    page.fill("#login [name=login]", "zhaomin")
    page.fill("#login [name=password]", "not-the-password")
    page.click("#login button")
    page.wait_for_function("document.querySelector('#login .error').textContent !== ''", timeout=WAIT_MS)
    assert page.is_hidden("#app")

    log_in(page)
    assert page.text_content("#user") == "赵敏"
    assert page.evaluate("JSON.parse(sessionStorage.getItem('gridops.tokens')).access_token")

    # The start view shows the whole city: every district filled, and named by labels.
    (city,) = httpx.get(f"{web_server.url}/api/grids").json()
    districts = child_names(web_server.url, city["code"])
    assert len(districts) == 12
    assert {p["name"] for p in rendered(page, "grids-fill", "district")} == districts
    labels = {p["name"] for p in rendered(page, "grids-label", "district")}
    assert "历下区" in labels and labels <= districts
    page.screenshot(path=SCREENSHOTS / "map.png")
    assert_map_drawn(SCREENSHOTS / "map.png", page)

    # Zoomed into 历下区 the map switches to its streets.
    west, south, east, north = shapely.geometry.shape(
        httpx.get(f"{web_server.url}/api/grids/{DISTRICT}").json()["geometry"]
    ).bounds
    page.evaluate(
        "(b) => window.gridopsMap.fitBounds([[b[0], b[1]], [b[2], b[3]]], {animate: false})",
        [west, south, east, north],
    )
    streets = rendered(page, "grids-fill", "street")
    assert {p["name"] for p in streets if p["parent_code"] == DISTRICT} == child_names(
        web_server.url, DISTRICT
    )
    assert rendered(page, "grids-label", "street")
    page.screenshot(path=SCREENSHOTS / "map-lixia-streets.png")
    assert_map_drawn(SCREENSHOTS / "map-lixia-streets.png", page)

    # The login lasts through a reload of the tab, and ends with the logout button.
    page.reload()
    page.wait_for_selector("#app", state="visible", timeout=WAIT_MS)
    page.click("#logout")
    page.wait_for_selector("#login", state="visible", timeout=WAIT_MS)
    assert page.evaluate("sessionStorage.getItem('gridops.tokens')") is None
    # A call still under way when the login ends is abandoned, not an error of the page, even when the part
    # of the page that made it does not wait for it.
    page.evaluate(
        """async () => {
      const { api } = await import("/static/api.js");
      api("/api/auth/me").finally(() => { window.abandoned = true; });
    }"""
    )
    page.wait_for_function("window.abandoned === true", timeout=WAIT_MS)

    assert tab.errors == []
    assert tab.hosts() == {"127.0.0.1"}, sorted(tab.requests)


def test_city_base_map(demo_clone_url, tmp_path, tab):
    color = (181, 214, 189)
    with tile_server(color) as (template, asked):
        city = {
            "id": "city",
            "name": "本市底图",
            "kind": "xyz",
            "url": template,
            "group": "base",
            "crs": "cgcs2000",
        }
        basemaps = config_file(tmp_path / "basemaps.toml", city)
        with live_server(demo_clone_url, tmp_path / "server.log", GRIDOPS_BASEMAPS=str(basemaps)) as server:
            (told,) = httpx.get(f"{server.url}/api/web/config").json()["basemaps"]
            assert told["tiles"] == [template] and told["kind"] == "raster"
            page = tab.page
            page.goto(f"{server.url}/")
            log_in(page)
            assert rendered(page, "grids-fill", "district")
            page.wait_for_function(TILES_SHOWN, arg="basemap-city", timeout=WAIT_MS)
            path = tmp_path / "basemap.png"
            page.screenshot(path=path)
            area = map_area(path, page)
            page.close()  # and its event stream, which would otherwise hold the server's stop
    assert asked and all(re.fullmatch(r"/\d+/\d+/\d+\.png", p) for p in asked), asked
    assert max(area.getcolors(maxcolors=1 << 20))[1] == color  # the tiles under the grids
    assert tab.errors == []
    assert tab.hosts() == {"127.0.0.1"}
