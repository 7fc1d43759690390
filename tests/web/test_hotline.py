"""The hotline desk (登记来电) in Debian's Chromium on a clone of the demo city: the operator registers a
citizen's call, placing it by a search over grid names and a click on the map; it becomes a hotline case
sent for verification to the grid's inspector, its code shown large; the caller's number stays with the
command center."""

from __future__ import annotations

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
    asks.select_option(label="咨询")
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
    assert case["request_type"] == {"code": "consult", "name": "咨询"}
    assert "13912345678" not in str(case)  # the number stays with the case, not in its answers

    # the case opens on the desk
    page.click("#hotline .result button:text('查看案件')")
    page.wait_for_selector(f"#case-panel[data-code='{code}']:not([data-loading])", timeout=WAIT_MS)
    assert tab.errors == []
    assert tab.hosts() == {"127.0.0.1"}
