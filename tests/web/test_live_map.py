"""The command-center map's live features, in Debian's Chromium on a clone of the demo city: the category,
department and tag filters passed to the case tiles, the heat map, a click on a case opening its panel and
on a cluster zooming in, and an inspector uploading track points moving on the map without a reload, with
today's track drawn."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from pyproj import Geod

from server.config import get_settings
from server.users.demo import DISTRICT
from tests.web.conftest import logged_in, shape_of, street_cases
from tests.web.test_cases_layer import jump, settled
from tests.web.test_map import SCREENSHOTS, WAIT_MS, assert_map_drawn, log_in

CATEGORIES = ("E06010", "E06010", "E02030")  # one case of each, in three streets of 历下区
INSPECTOR = ("13900000001", "张伟")  # a demo inspector, assigned to a village of 历下区
GEOD = Geod(ellps="WGS84")
# The inspector named ``name`` as the map draws it, once it is at (lon, lat); null before.
INSPECTOR_AT = """([layer, name, lon, lat]) => {
  const map = window.gridopsMap;
  if (!map || !map.getLayer(layer)) return null;
  const found = map.queryRenderedFeatures({layers: [layer]}).filter((f) => f.properties.user_name === name);
  if (found.length !== 1) return null;
  const [x, y] = found[0].geometry.coordinates;
  return Math.abs(x - lon) < 1e-5 && Math.abs(y - lat) < 1e-5 ? found[0].properties : null;
}"""
# Whether a layer draws something within 3 px of (lon, lat).
DRAWN_AT = """([layer, lon, lat]) => {
  const map = window.gridopsMap;
  const {x, y} = map.project([lon, lat]);
  return map.queryRenderedFeatures([[x - 3, y - 3], [x + 3, y + 3]], {layers: [layer]}).length > 0;
}"""


@pytest.fixture
def cases(web_server) -> list[dict]:
    """Hotline cases registered by the operator, one of each of CATEGORIES in three streets of 历下区."""
    return street_cases(web_server.url, CATEGORIES)


def counted(page, layer: str, field: str, value: str) -> int:
    """The cases ``layer``'s clusters count once the filter bar's ``field`` is ``value``: the tiles are
    asked for again, with it."""

    def filtered(url: str) -> bool:
        return f"{field}={value}" in url if value else f"{field}=" not in url

    with page.expect_response(lambda r: "/tiles/cases/" in r.url and filtered(r.url)) as tile:
        page.locator(f"#filters [name={field}]").select_option(value)
    assert tile.value.status == 200, tile.value.url
    return sum(p["count"] for p in settled(page, layer, some=False))


def screen_point(page, lon: float, lat: float) -> tuple[float, float]:
    x, y = page.evaluate("(p) => Object.values(window.gridopsMap.project(p))", [lon, lat])
    box = page.locator("#map").bounding_box()
    return box["x"] + x, box["y"] + y


def test_filters_heat_map_and_clicks(web_server, cases, tab):
    page = tab.page
    page.goto(f"{web_server.url}/")
    log_in(page)
    layers = page.evaluate("window.gridopsLayers")
    inside = shape_of(web_server.url, DISTRICT).representative_point()
    jump(page, inside.x, inside.y, 11)
    assert sum(p["count"] for p in settled(page, layers["clusters"])) == 3

    # The filter bar's lists come from the API, the categories grouped by kind and major class.
    page.wait_for_selector("#filters [name=category] optgroup option[value=E06010]", state="attached")
    groups = page.eval_on_selector_all("#filters [name=category] optgroup", "gs => gs.map((g) => g.label)")
    assert "事件 · 市容环境" in groups and len(groups) == len(set(groups))
    departments = httpx.get(f"{web_server.url}/api/departments").json()
    shown = page.eval_on_selector_all("#filters [name=department] option", "os => os.map((o) => o.value)")
    assert shown == ["", *(d["code"] for d in departments)]

    clusters = layers["clusters"]
    assert counted(page, clusters, "category", "E06010") == 2
    assert counted(page, clusters, "category", "E02030") == 1
    assert counted(page, clusters, "category", "") == 3
    assert counted(page, clusters, "department", "municipal") == 0  # none dispatched yet
    assert counted(page, clusters, "department", "") == 3
    assert counted(page, clusters, "tag", "key_supervision") == 0  # none tagged
    assert counted(page, clusters, "tag", "") == 3

    # The heat map instead of the dots, following the filters: a cluster weighs its count.
    page.check("#filters [name=heat]")
    assert sum(p["count"] for p in settled(page, layers["heatClusters"])) == 3
    visibility = "(ids) => ids.map((id) => window.gridopsMap.getLayoutProperty(id, 'visibility'))"
    assert page.evaluate(visibility, [clusters, layers["counts"], layers["cases"]]) == ["none"] * 3
    page.screenshot(path=SCREENSHOTS / "heatmap.png")
    assert_map_drawn(SCREENSHOTS / "heatmap.png", page)
    assert counted(page, layers["heatClusters"], "category", "E02030") == 1
    assert counted(page, layers["heatClusters"], "category", "") == 3
    first = cases[0]
    jump(page, first["lon"], first["lat"], 16)
    assert first["code"] in {p["code"] for p in settled(page, layers["heat"])}
    page.uncheck("#filters [name=heat]")

    # A click on a cluster zooms in on it by two.
    jump(page, inside.x, inside.y, 11)
    settled(page, clusters)
    where = "(layer) => window.gridopsMap.queryRenderedFeatures({layers: [layer]})[0].geometry.coordinates"
    page.mouse.click(*screen_point(page, *page.evaluate(where, clusters)))
    page.wait_for_function(
        "window.gridopsMap.getZoom() > 12.9 && !window.gridopsMap.isMoving()", timeout=WAIT_MS
    )
    assert page.evaluate("window.gridopsMap.getZoom()") == pytest.approx(13)

    jump(page, first["lon"], first["lat"], 16)
    # Over a case point the pointer shows it can be clicked; a click opens the case's panel.
    assert first["code"] in {p["code"] for p in settled(page, layers["cases"])}
    page.mouse.move(*screen_point(page, first["lon"], first["lat"]))
    page.wait_for_function("window.gridopsMap.getCanvas().style.cursor === 'pointer'", timeout=WAIT_MS)
    page.mouse.click(*screen_point(page, first["lon"], first["lat"]))
    page.wait_for_selector("#case-panel", state="visible", timeout=WAIT_MS)
    page.wait_for_function(
        "(code) => document.getElementById('case-panel').textContent.includes(code)",
        arg=first["code"],
        timeout=WAIT_MS,
    )
    assert page.is_hidden("#panel")  # the grid under the case was not selected

    assert tab.errors == []
    assert tab.hosts() == {"127.0.0.1"}


def test_an_inspector_moves_live_with_todays_track(web_server, tab):
    phone, name = INSPECTOR
    inside = shape_of(web_server.url, DISTRICT).representative_point()
    tz = ZoneInfo(get_settings().timezone)
    now = datetime.now(tz)
    began = max(now - timedelta(minutes=1), datetime.combine(now.date(), time(), tz))  # today, in the past
    shift = str(uuid.uuid4())

    def at(metres: float) -> tuple[float, float]:
        lon, lat, _ = GEOD.fwd(inside.x, inside.y, 90, metres)
        return round(lon, 7), round(lat, 7)

    with logged_in(web_server.url, phone) as inspector:

        def walk(*steps: int) -> tuple[float, float]:
            """Upload points ``steps`` x 40 m east of the start, one a second; where the last one is."""
            points = [
                {
                    "recorded_at": (began + timedelta(seconds=s)).isoformat(),
                    "lon": at(40 * s)[0],
                    "lat": at(40 * s)[1],
                }
                for s in steps
            ]
            answer = inspector.post(f"/api/patrol/shifts/{shift}/points", json={"points": points})
            assert answer.status_code == 200 and answer.json()["stored"] == len(steps), answer.text
            return at(40 * steps[-1])

        answer = inspector.post(
            "/api/patrol/shifts", json={"client_uuid": shift, "started_at": began.isoformat()}
        )
        assert answer.status_code == 201, answer.text
        first = walk(0, 1)

        page = tab.page
        page.goto(f"{web_server.url}/")
        log_in(page)
        page.wait_for_selector("#live.on", timeout=WAIT_MS)
        layers = page.evaluate("window.gridopsLayers")
        jump(page, inside.x + 0.002, inside.y, 16)

        def drawn_at(where: tuple[float, float]) -> dict:
            arg = [layers["inspectors"], name, *where]
            return page.wait_for_function(INSPECTOR_AT, arg=arg, timeout=WAIT_MS).json_value()

        # The map starts with the inspector's latest position, then follows the uploads without a reload.
        assert drawn_at(first)["client_uuid"] == shift
        page.evaluate("window.sameDocument = true")
        drawn_at(walk(2, 3))
        page.check("#filters [name=tracks]")
        drawn = {(t["user_name"], t["client_uuid"], t["points"]) for t in settled(page, layers["tracks"])}
        assert drawn == {(name, shift, 4)}  # one line, maybe cut by tiles
        last = walk(4, 5)
        drawn_at(last)
        page.wait_for_function(DRAWN_AT, arg=[layers["tracks"], *last], timeout=WAIT_MS)  # the track grew
        assert page.evaluate("window.sameDocument") is True

    page.screenshot(path=SCREENSHOTS / "live.png")
    assert_map_drawn(SCREENSHOTS / "live.png", page)
    assert tab.errors == []
    assert tab.hosts() == {"127.0.0.1"}
