"""The hotline desk (登记来电) in Debian's Chromium on a clone of the demo city: the operator registers a
citizen's call, placing it by a search over the address register and grid names and a click on the map,
which proposes the nearest register address; it becomes a hotline case
sent for verification to the grid's inspector, its code shown large; the caller's number stays with the
command center."""

from __future__ import annotations

from geoalchemy2.shape import from_shape
from playwright.sync_api import expect
from shapely import Point
from shapely.geometry import shape

from server.address.models import Address
from server.database import new_session
from tests.web.conftest import logged_in
from tests.web.test_desk import INSPECTOR, OPERATOR
from tests.web.test_map import SCREENSHOTS, WAIT_MS, log_in


def test_a_phone_call_becomes_a_case_sent_for_verification(web_server, tab):
    page = tab.page
    page.goto(f"{web_server.url}/")
    log_in(page)  # the operator
    page.click("#tabs [data-view=desk-view]")
    page.click("#hotline-open")
    page.wait_for_selector("#hotline[data-ready]", timeout=WAIT_MS)
    dialog = page.locator("#hotline")
    dialog.locator("[name=caller]").fill("王先生")
    dialog.locator("[name=phone]").fill("13912345678")

    # The place: search the village by name, then click the map beside the marker.
    with logged_in(web_server.url, INSPECTOR) as inspector:
        villages = [
            f
            for f in inspector.get("/api/sync/grids").json()["features"]
            if f["properties"]["level"] == "village"
        ]
        me = inspector.get("/api/auth/me").json()["name"]
    village = villages[0]["properties"]
    dialog.locator("[name=place]").fill(village["name"][:4])
    dialog.locator(f".results button[data-grid='{village['code']}']").click(timeout=WAIT_MS)
    page.wait_for_function(
        f"document.querySelector('#hotline .where').dataset.grid?.startsWith('{village['code']}')",
        timeout=WAIT_MS,
    )
    page.wait_for_function("!window.gridopsHotlineMap.isMoving()", timeout=WAIT_MS)
    box = dialog.locator(".hotline-map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2 + 12, box["y"] + box["height"] / 2 + 8)
    page.wait_for_function(
        f"document.querySelector('#hotline .where').dataset.grid?.startsWith('{village['code']}')",
        timeout=WAIT_MS,
    )
    clicked = page.evaluate(
        "(() => { const c = window.gridopsHotlineMap.getSource('place').serialize().data.coordinates;"
        " return c; })()"
    )
    dialog.locator("[name=address]").fill("小区北门")
    dialog.locator("[name=category]").fill("暴露垃圾（E06010）")
    dialog.locator("[name=description]").fill("市民来电：小区北门垃圾堆放两天无人清运，问何时清运")
    asks = dialog.locator("[name=request_type]")
    assert asks.evaluate("s => s.selectedOptions[0].textContent") == "投诉"  # unless the caller says else
    asks.select_option(label="建议")  # (a 咨询 is answered at once: tests/web/test_triage_desk.py)
    page.screenshot(path=SCREENSHOTS / "hotline.png")
    dialog.locator("button[type=submit]").click()
    page.wait_for_selector("#hotline[data-code]", timeout=WAIT_MS)
    code = page.get_attribute("#hotline", "data-code")
    assert page.text_content("#hotline .case-code") == code
    assert me in page.text_content("#hotline .result")

    with logged_in(web_server.url, OPERATOR) as operator:
        case = operator.get(f"/api/cases/{code}").json()
    assert case["channel"] == "hotline" and case["state"] == "verifying"
    assert case["reporter_name"] == "王**" and case["reporter_phone"] == "139****5678"  # masked
    assert case["task_assignee"] == me
    assert case["grid_code"].startswith(village["code"])
    assert (case["lon"], case["lat"]) == tuple(clicked)
    assert case["address"] == "小区北门" and case["category"]["code"] == "E06010"
    assert case["request_type"] == {"code": "suggest", "name": "建议"}
    assert "13912345678" not in str(case)  # the number stays with the case, not in its answers

    # the case opens on the desk
    page.click("#hotline .result button:text('查看案件')")
    page.wait_for_selector(f"#case-panel[data-code='{code}']:not([data-loading])", timeout=WAIT_MS)
    assert tab.errors == []
    assert tab.hosts() == {"127.0.0.1"}


def add_addresses(url: str, lon: float, lat: float) -> None:
    """A few register addresses around (lon, lat): house numbers of 测试西路 and a named place."""
    with new_session(url) as db:
        for register_id, name, text, kind, east_m in (
            ("T-12", None, "济南市历下区测试西路12号", "house", -60),
            ("T-14", None, "济南市历下区测试西路14号", "house", -30),
            ("T-POI", "测试大厦", "济南市历下区测试西路20号", "poi", 0),
        ):
            db.add(
                Address(
                    register_id=register_id,
                    name=name,
                    address_text=text,
                    road="测试西路",
                    kind=kind,
                    aliases=["测大"] if name else [],
                    geom=from_shape(Point(lon + east_m / 89_000, lat), srid=4326),
                )
            )
        db.commit()


def test_the_operator_places_a_call_by_the_address_register(web_server, demo_clone_url, tab):
    """A partial address in any order and a place's name find the place; the case says what it is near."""
    with logged_in(web_server.url, INSPECTOR) as inspector:
        features = inspector.get("/api/sync/grids").json()["features"]
    village = next(f for f in features if f["properties"]["level"] == "village")
    code = village["properties"]["code"]
    inside = shape(village["geometry"]).representative_point()
    add_addresses(demo_clone_url, inside.x, inside.y)
    page = tab.page
    page.goto(f"{web_server.url}/")
    log_in(page)
    page.click("#tabs [data-view=desk-view]")
    page.click("#hotline-open")
    page.wait_for_selector("#hotline[data-ready]", timeout=WAIT_MS)
    dialog = page.locator("#hotline")

    # part of an address, its words in another order
    dialog.locator("[name=place]").fill("14号 测试西")
    dialog.locator(".results button[data-address='T-14']").click(timeout=WAIT_MS)
    page.wait_for_function(
        f"document.querySelector('#hotline .where').dataset.grid?.startsWith('{code}')",
        timeout=WAIT_MS,
    )
    assert dialog.locator("[name=address]").input_value() == "济南市历下区测试西路14号"
    near = dialog.locator(".near")
    expect(near).to_contain_text("最近的登记地址：济南市历下区测试西路14号", timeout=WAIT_MS)

    # a place by its name
    dialog.locator("[name=place]").fill("测试大厦")
    found = dialog.locator(".results button[data-address='T-POI']")
    expect(found).to_contain_text("兴趣点", timeout=WAIT_MS)
    found.click()
    expect(near).to_contain_text("最近的登记地址：测试大厦", timeout=WAIT_MS)
    assert dialog.locator("[name=address]").input_value() == "测试大厦（济南市历下区测试西路20号）"

    # a click on the map proposes the register address nearest to it
    dialog.locator("[name=address]").fill("")
    page.wait_for_function("!window.gridopsHotlineMap.isMoving()", timeout=WAIT_MS)
    pixel = page.evaluate(f"window.gridopsHotlineMap.project([{inside.x - 32 / 89_000}, {inside.y}])")
    box = dialog.locator(".hotline-map").bounding_box()
    page.mouse.click(box["x"] + pixel["x"], box["y"] + pixel["y"])
    expect(near).to_contain_text("测试西路14号", timeout=WAIT_MS)
    near.locator("button").click()
    assert dialog.locator("[name=address]").input_value() == "济南市历下区测试西路14号"

    dialog.locator("[name=category]").fill("暴露垃圾（E06010）")
    dialog.locator("[name=description]").fill("市民来电：路边垃圾堆放")
    page.screenshot(path=SCREENSHOTS / "hotline-address.png")
    dialog.locator("button[type=submit]").click()
    page.wait_for_selector("#hotline[data-code]", timeout=WAIT_MS)
    made = page.get_attribute("#hotline", "data-code")
    page.click("#hotline .result button:text('查看案件')")
    page.wait_for_selector(f"#case-panel[data-code='{made}']:not([data-loading])", timeout=WAIT_MS)
    # the map click was 2 m from 测试西路14号: the case is at it
    near_row = page.locator("#case-panel dt:text-is('附近') + dd")
    expect(near_row).to_have_text("济南市历下区测试西路14号")
    assert tab.errors == []
    assert tab.hosts() == {"127.0.0.1"}
