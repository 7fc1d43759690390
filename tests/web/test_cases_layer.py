"""The command-center map's cases and drill-down, in Debian's Chromium on a clone of the demo city: cases
from the vector tiles as points by light and as clusters with counts, a clicked district fitted with its
people in the side panel and its streets drawn, and the filter bar changing the tiles."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest

from server.grid.models import today as city_today
from server.users.demo import DISTRICT
from tests.web.conftest import logged_in, shape_of, street_cases
from tests.web.test_map import SCREENSHOTS, WAIT_MS, assert_map_drawn, child_names, log_in, rendered

# The properties of the features a layer has drawn once the map has settled (tiles included), or null
# before; ``some`` asks for at least one feature.
SETTLED = """([layer, some]) => {
  const map = window.gridopsMap;
  if (!map || !map.getLayer(layer) || !map.loaded() || !map.areTilesLoaded()) return null;
  const drawn = map.queryRenderedFeatures({layers: [layer]}).map((f) => f.properties);
  return some && !drawn.length ? null : drawn;
}"""


def settled(page, layer: str, *, some: bool = True) -> list[dict]:
    return page.wait_for_function(SETTLED, arg=[layer, some], timeout=WAIT_MS).json_value()


def counted(page, layers: dict, field: str, value: str) -> int:
    """The cases the clusters count once ``field`` of the filter bar is set to ``value`` (tiles refetched)."""
    with page.expect_response(lambda r: "/tiles/cases/" in r.url) as tile:
        control = page.locator(f"#filters [name={field}]")
        if field in ("since", "until"):
            control.fill(value)
        else:
            control.select_option(value)
    assert tile.value.status == 200, tile.value.url
    return sum(p["count"] for p in settled(page, layers["clusters"], some=False))


def jump(page, lon: float, lat: float, zoom: float) -> None:
    page.evaluate(
        "([lon, lat, zoom]) => window.gridopsMap.jumpTo({center: [lon, lat], zoom})", [lon, lat, zoom]
    )


@pytest.fixture
def cases(web_server) -> list[dict]:
    """Hotline cases registered by the operator, one well inside each of three streets of 历下区."""
    return street_cases(web_server.url, ["E06010"] * 3)


def test_cases_and_drill_down(web_server, cases, tab, admin_headers):
    page = tab.page
    page.goto(f"{web_server.url}/")
    log_in(page)
    layers = page.evaluate("window.gridopsLayers")
    codes = {case["code"] for case in cases}

    # A click on 历下区 fits the map to it, shows its head in the panel and draws its streets (the case
    # clusters, which take a click first, are filtered away meanwhile).
    assert counted(page, layers, "state", "closed") == 0
    assert rendered(page, "grids-fill", "district")
    district = shape_of(web_server.url, DISTRICT)
    inside = district.representative_point()
    x, y = page.evaluate("(p) => Object.values(window.gridopsMap.project(p))", [inside.x, inside.y])
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)
    page.wait_for_selector("#panel", state="visible", timeout=WAIT_MS)
    assert page.text_content("#grid-name") == "历下区"
    assert page.text_content("#grid-code") == DISTRICT
    assert page.text_content("#grid-level") == "区县"
    people = httpx.get(f"{web_server.url}/api/grids/{DISTRICT}", headers=admin_headers).json()["people"]
    assert page.text_content("#grid-head") == "、".join(p["name"] for p in people if p["role"] == "head")
    page.wait_for_function("!window.gridopsMap.isMoving()", timeout=WAIT_MS)  # fitted: every street in view
    streets = rendered(page, "grids-fill", "street")
    assert {p["name"] for p in streets if p["parent_code"] == DISTRICT} == child_names(
        web_server.url, DISTRICT
    )
    west, south, east, north = page.evaluate("window.gridopsMap.getBounds().toArray().flat()")
    d_west, d_south, d_east, d_north = district.bounds
    assert west < d_west and south < d_south and east > d_east and north > d_north
    # fitted: the district fills the view along one side, up to the padding
    assert max((d_east - d_west) / (east - west), (d_north - d_south) / (north - south)) > 0.8

    assert counted(page, layers, "state", "") == len(cases)

    # At z16 on a case, the cases layer draws it with its light.
    first = cases[0]
    jump(page, first["lon"], first["lat"], 16)
    drawn = settled(page, layers["cases"])
    assert first["code"] in {p["code"] for p in drawn}
    assert {p["code"] for p in drawn} <= codes
    assert {p["light"] for p in drawn} == {"green"}

    # At z11 over the district, the clusters count every case.
    jump(page, inside.x, inside.y, 11)
    clusters = settled(page, layers["clusters"])
    assert sum(p["count"] for p in clusters) == len(cases)
    page.screenshot(path=SCREENSHOTS / "cases.png")
    assert_map_drawn(SCREENSHOTS / "cases.png", page)

    # The filter bar: no case is overdue, none is closed, all came today.
    today = city_today()
    assert counted(page, layers, "light", "red") == 0
    assert counted(page, layers, "light", "") == len(cases)
    assert counted(page, layers, "state", "closed") == 0
    assert counted(page, layers, "state", "reported") == len(cases)
    assert counted(page, layers, "since", str(today + timedelta(days=1))) == 0
    assert counted(page, layers, "since", str(today)) == len(cases)
    assert counted(page, layers, "until", str(today - timedelta(days=1))) == 0
    assert counted(page, layers, "until", "") == len(cases)

    # The legend says what is drawn; the closed, voided and merged cases stay hidden unless asked for.
    assert "红灯：已超时" in page.text_content("#legend") and page.is_visible("#legend")
    with logged_in(web_server.url, "zhaomin") as operator:
        made = operator.post(
            "/api/cases",
            json={"client_uuid": str(uuid.uuid4()), "category": "E06010", "lon": first["lon"],
                  "lat": first["lat"] + 0.0002, "channel": "hotline", "description": "重复来电"},
        )  # fmt: skip
        assert made.status_code == 201, made.text
        voided = operator.post(
            f"/api/cases/{made.json()['code']}/actions/void",
            json={"version": made.json()["version"], "reason": "重复来电"},
        )
        assert voided.status_code == 200, voided.text
    assert counted(page, layers, "state", "voided") == 1
    assert counted(page, layers, "state", "open") == len(cases)  # the default
    assert counted(page, layers, "state", "") == len(cases) + 1

    assert tab.errors == []
    assert tab.hosts() == {"127.0.0.1"}
