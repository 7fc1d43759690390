"""The pollution sources on the command-center map, in Debian's Chromium on a clone of the demo city: the
filter bar's toggle draws the sources in the view, a click on one shows its kind, responsible member and
the recent cases near it, and a case opened from there lists the sources near it."""

from __future__ import annotations

import httpx

from tests.web.conftest import street_cases
from tests.web.test_cases_layer import jump, settled
from tests.web.test_map import SCREENSHOTS, WAIT_MS, log_in

M_LAT = 1 / 111_000  # a metre of latitude, in degrees (about)
HEADER = "编号,名称,类型,地址,经度,纬度,责任人手机号,备注\n"


def test_sources_toggled_on_the_map_and_opened(web_server, tab, admin_headers):
    (case,) = street_cases(web_server.url, ["E06010"])
    lon, lat = case["lon"], case["lat"] + 60 * M_LAT  # 60 m north of the case
    register = HEADER + f"W-1,网页测试餐馆,餐饮油烟,济南市历下区测试路8号,{lon},{lat},13900000001,夜间经营\n"
    answer = httpx.post(
        f"{web_server.url}/api/sources/import",
        files={"file": ("台账.csv", register.encode())},
        headers=admin_headers,
        timeout=60,
    )
    assert answer.status_code == 200, answer.text

    page = tab.page
    page.goto(f"{web_server.url}/")
    log_in(page)
    layers = page.evaluate("window.gridopsLayers")
    jump(page, lon, lat, 16)
    assert (
        page.evaluate(f"window.gridopsMap.getLayoutProperty('{layers['sources']}', 'visibility')") == "none"
    )
    page.check("#filters [name=sources]")
    page.wait_for_function(
        "() => (document.getElementById('map').dataset.sources ?? '').split(' ').includes('W-1')",
        timeout=WAIT_MS,
    )
    assert [p["code"] for p in settled(page, layers["sources"])] == ["W-1"]

    x, y = page.evaluate("(p) => Object.values(window.gridopsMap.project(p))", [lon, lat])
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)
    popup = page.wait_for_selector(".source-popup[data-source='W-1']", timeout=WAIT_MS)
    text = popup.text_content()
    assert "网页测试餐馆" in text and "餐饮油烟" in text and "责任网格员：张伟" in text
    assert "300 米内近 90 天的案件：" in text and "夜间经营" in text
    page.screenshot(path=SCREENSHOTS / "sources.png")

    # the nearby case opens on the case panel, which lists the source near it
    page.click(f".source-popup a[data-case='{case['code']}']")
    item = page.wait_for_selector("#case-panel .nearby-sources li[data-source='W-1']", timeout=WAIT_MS)
    assert item.text_content().startswith("网页测试餐馆（餐饮油烟，约 60 米，责任网格员 张伟）")

    # toggled off, the sources are hidden again
    page.uncheck("#filters [name=sources]")
    page.wait_for_function(
        f"window.gridopsMap.getLayoutProperty('{layers['sources']}', 'visibility') === 'none'",
        timeout=WAIT_MS,
    )
    assert tab.errors == []
