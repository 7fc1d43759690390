"""The desk's search box and filter bar in Debian's Chromium on a clone of the demo city: the operator finds
a caller's case by the caller's phone number and by two words in another order than the text's, opens it
from the results, and narrows the queue's list with the filter bar."""

from __future__ import annotations

import uuid

from playwright.sync_api import expect
from shapely.geometry import shape

from tests.web.conftest import first_grid, logged_in
from tests.web.test_desk import INSPECTOR, OPERATOR
from tests.web.test_map import SCREENSHOTS, WAIT_MS, log_in

PHONE = "13766661357"


def test_the_operator_finds_a_case_by_phone_and_by_words_and_filters_the_queue(web_server, tab):
    unit = first_grid(web_server.url, INSPECTOR, "unit")
    point = shape(unit["geometry"]).representative_point()
    with logged_in(web_server.url, OPERATOR) as operator:
        answer = operator.post(
            "/api/cases",
            json={
                "client_uuid": str(uuid.uuid4()),
                "category": "E06010",
                "lon": point.x,
                "lat": point.y,
                "channel": "hotline",
                "request_type": "consult",
                "description": "市民来电：北口垃圾堆放三天无人清运，问何时清运",
                "address": "山大路 99 号",
                "reporter_name": "司马青",
                "reporter_phone": PHONE,
            },
        )
        assert answer.status_code == 201, answer.text
        code = answer.json()["code"]
        complaint = operator.post(
            "/api/cases",
            json={
                "client_uuid": str(uuid.uuid4()),
                "category": "E01002",
                "lon": point.x,
                "lat": point.y,
                "channel": "hotline",
                "description": "市民来电：井盖缺失",
            },
        )
        assert complaint.status_code == 201, complaint.text

    page = tab.page
    page.goto(f"{web_server.url}/")
    log_in(page)  # the operator: acceptor, shift lead and dispatcher
    page.click("#tabs [data-view=desk-view]")
    row = page.locator(f"#search-list tr[data-code='{code}']")

    # By the caller's phone number: the case, without the number.
    page.fill("#desk-search [name=q]", PHONE)
    page.click("#desk-search button[type=submit]")
    expect(row).to_be_visible(timeout=WAIT_MS)
    assert PHONE not in page.text_content("#search-list")
    cells = row.locator("td")
    assert cells.nth(3).text_content() == answer.json()["state_label"]
    assert "山大路" in cells.nth(5).text_content()
    assert row.locator(".light").count() == 1

    # By two words, in another order than the text's: the case again; it opens from the results.
    page.click("#search-close")
    expect(page.locator("#search-results")).to_be_hidden(timeout=WAIT_MS)
    page.fill("#desk-search [name=q]", "垃圾 山大")
    page.press("#desk-search [name=q]", "Enter")
    expect(row).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#search-title")).to_contain_text("垃圾 山大")
    page.screenshot(path=SCREENSHOTS / "desk-search.png")
    row.click()
    page.wait_for_selector(f"#case-panel[data-code='{code}']:not([data-loading])", timeout=WAIT_MS)
    page.click("#case-panel .close")

    # A query too short to search is refused in words.
    page.fill("#desk-search [name=q]", "垃")
    page.press("#desk-search [name=q]", "Enter")
    expect(page.locator("#search-title.error")).to_contain_text("请至少输入两个字", timeout=WAIT_MS)

    # The filter bar narrows the queue's list: the 咨询 among the cases to register (a 投诉 is there too).
    page.click("#search-close")
    page.click("#queues [data-queue=register]")
    listed = page.locator("#case-list tbody tr")
    expect(listed.first).to_be_visible(timeout=WAIT_MS)
    page.wait_for_function("document.querySelectorAll('#case-list tbody tr').length > 1", timeout=WAIT_MS)
    page.select_option("#desk-filters [name=request_type]", "consult")
    expect(listed).to_have_count(1, timeout=WAIT_MS)
    assert listed.first.get_attribute("data-code") == code
    expect(page.locator("#queue-title")).to_contain_text("筛选出 1 个")
    page.click("#desk-filters button[type=reset]")
    page.wait_for_function("document.querySelectorAll('#case-list tbody tr').length > 1", timeout=WAIT_MS)
    assert tab.errors == []
    assert tab.hosts() == {"127.0.0.1"}
