"""The citizens' pages in Debian's Chromium on a phone-sized screen, on a clone of the demo city: a
citizen reports with a photo and a tap on the map and sees the case code; the staff work the case to
closing over HTTP; the citizen tracks it (progress at 结案, photos before and after, no staff names or
phone in the page) and rates it. Nothing leaves 127.0.0.1."""

from __future__ import annotations

import pytest

from tests.web.conftest import BrowserTab, logged_in, shape_of
from tests.web.test_desk import DEPARTMENT, INSPECTOR, OPERATOR, department_user, photo  # noqa: F401
from tests.web.test_map import SCREENSHOTS, WAIT_MS

PHONE = {"width": 390, "height": 844}
CALLER_PHONE = "13911112222"


@pytest.fixture
def phone_tab(browser):
    context = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    try:
        yield BrowserTab(context.new_page())
    finally:
        context.close()


def act(http, code: str, action: str, **fields) -> dict:
    version = http.get(f"/api/cases/{code}").json()["version"]
    answer = http.post(f"/api/cases/{code}/actions/{action}", json={"version": version, **fields})
    assert answer.status_code == 200, answer.text
    return answer.json()


def upload(http, code: str, role: str, color) -> None:
    answer = http.post(
        f"/api/cases/{code}/photos",
        params={"role": role},
        files={"file": (f"{role}.jpg", photo(color, role), "image/jpeg")},
    )
    assert answer.status_code == 201, answer.text


@pytest.mark.usefixtures("department_user")
def test_a_citizen_reports_tracks_and_rates(web_server, phone_tab, tmp_path):
    page, url = phone_tab.page, web_server.url
    with logged_in(url, INSPECTOR) as inspector:
        unit = next(
            f
            for f in inspector.get("/api/sync/grids").json()["features"]
            if f["properties"]["level"] == "unit"
        )
    point = shape_of(url, unit["properties"]["code"]).representative_point()

    # The report: a photo, a tap on the map where the problem is, a category, a text and a phone.
    page.goto(f"{url}/report")
    page.wait_for_selector("#report[data-ready]", timeout=WAIT_MS)
    before = tmp_path / "before.jpg"
    before.write_bytes(photo((150, 100, 50), "before"))
    page.set_input_files("#report [name=photos]", str(before))
    page.evaluate(f"window.gridopsPublicMap.jumpTo({{center: [{point.x}, {point.y}], zoom: 17}})")
    page.wait_for_function("window.gridopsPublicMap.loaded() && !window.gridopsPublicMap.isMoving()")
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("#where[data-lon]", timeout=WAIT_MS)
    page.wait_for_function(
        "(() => { const m = window.gridopsPublicMap; return m.loaded() && "
        "m.queryRenderedFeatures({ layers: ['grids'] }).length > 0 && "
        "m.queryRenderedFeatures({ layers: ['place'] }).length === 1; })()",
        timeout=WAIT_MS,
    )
    page.select_option("#report [name=category]", "E06010")
    page.fill("#report [name=description]", "小区门口垃圾堆了三天")
    page.fill("#report [name=phone]", CALLER_PHONE)
    page.screenshot(path=SCREENSHOTS / "public-report.png", full_page=True)
    page.click("#report button[type=submit]")
    page.wait_for_selector("#done[data-code]", timeout=WAIT_MS)
    code = page.get_attribute("#done", "data-code")
    assert page.text_content("#done .code") == code

    # The staff work it to closing over HTTP.
    with (
        logged_in(url, OPERATOR) as operator,
        logged_in(url, INSPECTOR) as inspector,
        logged_in(url, DEPARTMENT) as department,
    ):
        case = operator.get(f"/api/cases/{code}").json()
        assert (case["channel"], case["grid_code"]) == ("citizen", unit["properties"]["code"])
        act(operator, code, "request_verification")
        act(inspector, code, "reply_verification", result="confirmed", note="内部：现场属实")
        act(operator, code, "file", public_note="已立案，正在安排处置")
        act(operator, code, "dispatch")
        upload(department, code, "after", (60, 140, 80))
        act(department, code, "report_handling", note="内部：清运车已到", public_note="垃圾已清运")
        act(operator, code, "request_check")
        upload(inspector, code, "check", (70, 150, 90))
        act(inspector, code, "reply_check", result="pass")
        act(operator, code, "close")
        staff = [http.get("/api/auth/me").json()["name"] for http in (operator, inspector, department)]

    # The citizen follows it to the end and rates it.
    page.click("#done a.track")
    page.wait_for_selector(f"#case[data-code='{code}']", timeout=WAIT_MS)
    assert page.text_content(".stages li.current") == "结案"
    page.wait_for_function(
        "[...document.querySelectorAll('.photos img')].length === 2 && "
        "[...document.querySelectorAll('.photos img')].every((i) => i.complete && i.naturalWidth > 0)",
        timeout=WAIT_MS,
    )
    html = page.content()
    assert "null" not in page.text_content("#case")
    assert "垃圾已清运" in html and "内部" not in html and CALLER_PHONE not in html
    for name in staff:
        assert name not in html
    page.click("#rating .stars button[data-aspect=speed][data-stars='4']")
    page.fill("#rating [name=comment]", "处理及时")
    page.screenshot(path=SCREENSHOTS / "public-track.png", full_page=True)
    page.click("#rating button[type=submit]")
    page.wait_for_selector("p.rated", timeout=WAIT_MS)

    with logged_in(url, OPERATOR) as operator:
        assert operator.get(f"/api/public/cases/{code}").json()["rated"] is True
    assert phone_tab.errors == []
    assert phone_tab.hosts() == {"127.0.0.1"}
