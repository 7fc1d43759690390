"""The citizens' pages in Debian's Chromium on a phone-sized screen, on a clone of the demo city: a
citizen reports with a photo and a tap on the map and sees the case code; the staff work the case to
closing over HTTP; the citizen tracks it (progress at 结案, photos before and after, no staff names or
phone in the page) and rates it. The forms show their limits; a refusal, a mistyped code, a voided case
and a merged one are told in the server's words. Nothing leaves 127.0.0.1."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from server import messages
from tests.web.conftest import BrowserTab, logged_in, shape_of
from tests.web.test_desk import DEPARTMENT, INSPECTOR, OPERATOR, department_user, photo  # noqa: F401
from tests.web.test_hotline import add_addresses
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
    case = http.get(f"/api/cases/{code}").json()
    if action == "report_handling" and not case["received_by_department_at"]:
        case = act(http, code, "receive")  # a department signs for a case before it reports its handling
    answer = http.post(f"/api/cases/{code}/actions/{action}", json={"version": case["version"], **fields})
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
    page.select_option("#report [name=request_type]", label="求助")  # what the citizen asks
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
        assert case["request_type"] == {"code": "help", "name": "求助"}
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


def inspected_point(url: str):
    """A point in a unit grid of the demo inspector's village."""
    with logged_in(url, INSPECTOR) as inspector:
        unit = next(
            f
            for f in inspector.get("/api/sync/grids").json()["features"]
            if f["properties"]["level"] == "unit"
        )
    return shape_of(url, unit["properties"]["code"]).representative_point()


def reported(url: str, point, description: str) -> str:
    """A citizen's report over HTTP, as the page sends it; its case code."""
    answer = httpx.post(
        f"{url}/api/public/reports",
        data={
            "client_uuid": str(uuid.uuid4()),
            "category": "E06010",
            "lon": point.x,
            "lat": point.y,
            "description": description,
        },
        files=[("photos", ("p.jpg", photo((120, 90, 60), "before"), "image/jpeg"))],
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["code"]


def track(page, url: str, code: str) -> None:
    page.goto(f"{url}/track/{code}")
    page.wait_for_function(
        "document.querySelector('#case').dataset.code || document.querySelector('main > .error').textContent",
        timeout=WAIT_MS,
    )


def test_a_voided_and_a_merged_case_say_what_became_of_them(web_server, phone_tab):
    page, url = phone_tab.page, web_server.url
    point = inspected_point(url)
    voided, master, merged = (reported(url, point, f"垃圾{n}") for n in range(3))
    note = "该处不属于城市管理范围"
    with logged_in(url, OPERATOR) as operator, logged_in(url, INSPECTOR) as inspector:
        act(operator, voided, "void", reason="内部：来电人说错了地址", public_note=note)
        act(operator, merged, "merge", master=master, public_note="与先前的上报一并处理")
        act(operator, master, "request_verification")
        act(inspector, master, "reply_verification", result="confirmed")
        act(operator, master, "file", public_note="已立案，正在安排处置")

    # Voided: it will not be handled, and why, as far as the staff made it public.
    track(page, url, voided)
    said = page.text_content("main > .error")
    assert said == messages.text("public.voided_with_note", case=voided, note=note)
    assert "受理中" not in said and "内部" not in page.content()

    # Merged: it says so and links to the case it joined, whose progress the citizen follows.
    track(page, url, merged)
    assert page.text_content("main > .error") == ""
    assert "已合并" in page.text_content("#case") and page.locator("#case .stages").count() == 0
    page.screenshot(path=SCREENSHOTS / "public-track-merged.png", full_page=True)
    page.click(f"#case .merged a[href='/track/{master}']")
    page.wait_for_selector(f"#case[data-code='{master}']", timeout=WAIT_MS)
    assert page.text_content(".stages li.current") == "立案"
    assert "已立案，正在安排处置" in page.text_content("#case")
    assert phone_tab.errors == []


def test_the_forms_show_their_limits_and_the_servers_words(web_server, phone_tab, tmp_path):
    page, url = phone_tab.page, web_server.url

    # A mistyped code: what a case code looks like, in words, as the server says it.
    page.goto(f"{url}/track")
    page.fill("#lookup [name=code]", "3701022026")
    page.click("#lookup button[type=submit]")
    page.wait_for_function("document.querySelector('main > .error').textContent", timeout=WAIT_MS)
    answer = httpx.get(f"{url}/api/public/cases/3701022026").json()
    assert answer["code"] == "public.code_format"
    assert page.text_content("main > .error") == answer["detail"]
    assert re.match(r"案件编号形如 [0-9]{6}-[0-9]{8}-0001（", answer["detail"])

    # The report form: the description's limit and a counter, the phone's, the photos'.
    page.goto(f"{url}/report")
    page.wait_for_selector("#report .counter", timeout=WAIT_MS)
    description = page.locator("#report [name=description]")
    assert description.get_attribute("maxlength") == "500"
    assert page.locator("#report [name=phone]").get_attribute("maxlength") == "21"
    assert "最多 4 张" in page.text_content("#report")
    description.fill("垃圾" * 10)
    assert page.text_content("#report .counter") == "20/500 字"
    description.fill("脏" * 600)  # pasted: the form keeps what the server takes
    assert page.text_content("#report .counter") == "500/500 字"

    # Latitude and longitude pasted the wrong way round: the server's words, as they are.
    before = tmp_path / "before.jpg"
    before.write_bytes(photo((150, 100, 50), "before"))
    page.set_input_files("#report [name=photos]", str(before))
    page.select_option("#report [name=category]", "E06010")
    page.fill("#report [name=coords]", "36.6753,117.0231")
    page.dispatch_event("#report [name=coords]", "change")
    with page.expect_response("**/api/public/reports") as refused:
        page.click("#report button[type=submit]")
    page.wait_for_function("document.querySelector('#report .error').textContent", timeout=WAIT_MS)
    assert refused.value.status == 422
    said = page.text_content("#report .error")
    assert said == refused.value.json()["detail"] and said.startswith("纬度超出范围：应不大于 90")
    assert phone_tab.errors == []


def test_a_citizen_finds_the_place_by_its_name(web_server, demo_clone_url, phone_tab, tmp_path):
    """The report page finds a place in the address register by part of its name; the address goes with the
    report and the case says what it is near."""
    page, url = phone_tab.page, web_server.url
    with logged_in(url, INSPECTOR) as inspector:
        features = inspector.get("/api/sync/grids").json()["features"]
    unit = next(f for f in features if f["properties"]["level"] == "unit")
    point = shape_of(url, unit["properties"]["code"]).representative_point()
    add_addresses(demo_clone_url, point.x, point.y)
    page.goto(f"{url}/report")
    page.wait_for_selector("#report[data-ready]", timeout=WAIT_MS)
    before = tmp_path / "before.jpg"
    before.write_bytes(photo((150, 100, 50), "before"))
    page.set_input_files("#report [name=photos]", str(before))
    page.fill("#report [name=address]", "测试大")
    page.click("#address-results button[data-address='T-POI']", timeout=WAIT_MS)
    page.wait_for_selector("#where[data-lon]", timeout=WAIT_MS)
    assert page.input_value("#report [name=address]") == "测试大厦（济南市历下区测试西路20号）"
    assert (
        float(page.get_attribute("#where", "data-lon")),
        float(page.get_attribute("#where", "data-lat")),
    ) == (
        pytest.approx(point.x),
        pytest.approx(point.y),
    )
    page.select_option("#report [name=category]", "E06010")
    page.fill("#report [name=description]", "大厦门口井盖缺失")
    page.screenshot(path=SCREENSHOTS / "public-report-address.png", full_page=True)
    page.click("#report button[type=submit]")
    page.wait_for_selector("#done[data-code]", timeout=WAIT_MS)
    code = page.get_attribute("#done", "data-code")
    with logged_in(url, OPERATOR) as operator:
        case = operator.get(f"/api/cases/{code}").json()
    assert case["address"] == "测试大厦（济南市历下区测试西路20号）"
    assert case["near_address"] == "测试大厦"
    assert phone_tab.errors == []
    assert phone_tab.hosts() == {"127.0.0.1"}


def test_the_description_suggests_a_category(web_server, phone_tab, tmp_path):
    """As the citizen types the description, the page suggests the categories it offers (可能是：…) and a tap
    picks one; when the suggestions cannot be had, it shows none and the report goes as before."""
    page, url = phone_tab.page, web_server.url
    page.goto(f"{url}/report")
    page.wait_for_selector("#report [name=category] option[value=E06010]", state="attached", timeout=WAIT_MS)
    description = page.locator("#report [name=description]")
    description.press_sequentially("暴露")  # too short to ask about
    description.press_sequentially("垃圾堆在小区门口三天了")
    hint = page.locator("#category-hints button[data-code=E06010]")
    hint.wait_for(timeout=WAIT_MS)
    assert page.text_content("#category-hints").startswith("可能是：")
    assert hint.text_content() == "垃圾堆放"  # the everyday name the form offers
    assert page.locator("#category-hints button").count() <= 3
    hint.click()
    assert page.input_value("#report [name=category]") == "E06010"
    description.fill("")
    description.dispatch_event("input")
    page.wait_for_function("!document.querySelector('#category-hints').childNodes.length", timeout=WAIT_MS)

    # The suggestions' route refuses: no suggestion, no error, and the report is taken.
    page.route("**/api/public/triage", lambda route: route.fulfill(status=503, body="{}"))
    with page.expect_response("**/api/public/triage") as refused:
        description.fill("路边垃圾没人清运")
        description.dispatch_event("input")
    assert refused.value.status == 503
    before = tmp_path / "before.jpg"
    before.write_bytes(photo((150, 100, 50), "before"))
    page.set_input_files("#report [name=photos]", str(before))
    page.select_option("#report [name=category]", "E03006")
    with logged_in(url, INSPECTOR) as inspector:
        unit = next(
            f
            for f in inspector.get("/api/sync/grids").json()["features"]
            if f["properties"]["level"] == "unit"
        )
    point = shape_of(url, unit["properties"]["code"]).representative_point()
    page.fill("#report [name=coords]", f"{point.x},{point.y}")
    page.dispatch_event("#report [name=coords]", "change")
    page.click("#report button[type=submit]")
    page.wait_for_selector("#done[data-code]", timeout=WAIT_MS)
    assert page.text_content("#category-hints") == "" and page.text_content("#report .error") == ""
    assert phone_tab.errors == []
