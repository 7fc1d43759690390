"""The dashboard's 报告 list in Chromium: a report made on demand is listed; its page opens in a new tab and
its PDF downloads under its Chinese title."""

from __future__ import annotations

from tests.web.conftest import logged_in
from tests.web.test_dashboard import open_dashboard, shown
from tests.web.test_desk import LEADER
from tests.web.test_map import WAIT_MS


def test_the_dashboard_lists_a_report_and_opens_it(web_server, tab):
    with logged_in(web_server.url, LEADER) as leader:
        answer = leader.post("/api/reports", json={"kind": "week"})
        assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["title"].startswith("济南市城市管理周报")

    page = tab.page
    open_dashboard(page, web_server.url)
    shown(page, "370100")
    item = page.locator(f"#dashboard-view .dash-reports li[data-report='{report['id']}']")
    item.wait_for(timeout=WAIT_MS)
    assert report["title"] in item.text_content()

    with page.expect_popup(timeout=WAIT_MS) as opened:
        item.get_by_role("button", name="网页").click()
    document = opened.value
    document.wait_for_load_state()
    assert document.title() == report["title"]
    assert "受理与办结概况" in document.text_content("body")

    with page.expect_download(timeout=WAIT_MS) as saved:
        item.get_by_role("button", name="PDF").click()
    assert saved.value.suggested_filename == f"{report['title']}.pdf"
    assert tab.errors == []
