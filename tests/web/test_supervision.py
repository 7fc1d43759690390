"""Supervision (督办) on the desk in Debian's Chromium, each person in their own browser: the dispatcher
issues a 重点督办 on a dispatched case, the lead department finds it in its 督办 queue, acknowledges and
answers it, and a second 督办 goes a level up to 挂牌督办; each step shows at once in the other's browser."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.web.conftest import logged_in
from tests.web.test_desk import (  # noqa: F401 (fixtures)
    DEPARTMENT,
    INSPECTOR,
    OPERATOR,
    act_on_panel,
    browsers,
    call,
    department_user,
    open_from_queue,
)
from tests.web.test_map import SCREENSHOTS, WAIT_MS

DEPARTMENT_NAME = "历下区环境卫生服务中心"


def dispatched(server_url: str, code: str) -> None:
    """The call verified on site, filed and dispatched to its category's department, through the API."""
    with logged_in(server_url, OPERATOR) as operator, logged_in(server_url, INSPECTOR) as inspector:

        def act(who, action: str, **fields) -> None:
            version = who.get(f"/api/cases/{code}").json()["version"]
            answer = who.post(f"/api/cases/{code}/actions/{action}", json={"version": version, **fields})
            assert answer.status_code == 200, answer.text

        act(operator, "request_verification")
        act(inspector, "reply_verification", result="confirmed", note="现场属实")
        act(operator, "file")
        act(operator, "dispatch")


def queue_count(page: Page) -> int:
    page.wait_for_selector("#queues [data-queue=supervision] .count", timeout=WAIT_MS)
    return int(page.text_content("#queues [data-queue=supervision] .count"))


def counts_to(page: Page, count: int) -> None:
    """The 督办 queue's count reaches ``count`` without a reload (the live stream re-reads it)."""
    page.wait_for_function(
        "(n) => document.querySelector('#queues [data-queue=supervision] .count')?.textContent === String(n)",
        arg=count,
        timeout=WAIT_MS,
    )


def test_a_supervision_issued_acknowledged_answered_and_raised(web_server, call, browsers):  # noqa: F811
    code = call["code"]
    dispatched(web_server.url, code)
    department = browsers(web_server.url, DEPARTMENT)
    dept = department.page
    dept.click("#tabs [data-view=desk-view]")
    before = queue_count(dept)  # the demo city's own overdue cases are supervised too

    operator = browsers(web_server.url, OPERATOR)
    page = operator.page
    open_from_queue(page, "handle", code)
    assert page.locator("#case-panel .supervision-box").count() == 0
    act_on_panel(
        page, "supervise", ".supervision-box[data-level='2'][data-status=issued]",
        note="市民多次来电，请今天内清运", level="2",
    )  # fmt: skip
    assert page.text_content("#case-panel h2 .supervision-level") == "重点督办"
    assert "督办意见：市民多次来电，请今天内清运" in page.text_content("#case-panel .supervision-box")
    assert f"致 {DEPARTMENT_NAME}" in page.text_content("#case-panel .supervision-box")
    assert page.text_content("#case-panel .timeline li[data-action=supervise] strong").strip() == "重点督办"

    # The department finds it in its 督办 queue, with its level and who holds the case.
    counts_to(dept, before + 1)
    open_from_queue(dept, "supervision", code)
    row = dept.locator(f"#case-list tr[data-code='{code}']")
    assert row.locator(".supervision-level").text_content() == "重点督办"
    assert DEPARTMENT_NAME in row.text_content()
    assert dept.locator("#case-panel .actions button[data-action=answer_supervision]").is_disabled()
    act_on_panel(dept, "acknowledge_supervision", ".supervision-box[data-status=acknowledged]")
    page.wait_for_selector("#case-panel .supervision-box[data-status=acknowledged]", timeout=WAIT_MS)
    act_on_panel(
        dept,
        "answer_supervision",
        ".supervision-box[data-status=answered]",
        answer="已派车，下午三点前清运完毕",
    )
    assert dept.locator("#case-panel h2 .supervision-level").count() == 0  # answered: no level waits
    counts_to(dept, before)
    page.wait_for_selector("#case-panel .supervision-box[data-status=answered]", timeout=WAIT_MS)
    assert "已派车，下午三点前清运完毕" in page.text_content(
        "#case-panel .timeline li[data-action=answer_supervision]"
    )

    # Not done by three: a second 督办 goes above the first, to 挂牌督办, back in the department's queue.
    act_on_panel(page, "supervise", ".supervision-box[data-level='3']", note="仍未清运，挂牌督办", level="1")
    assert page.text_content("#case-panel h2 .supervision-level") == "挂牌督办"
    raised = page.locator("#case-panel .timeline li[data-action=supervise]").last.locator("strong")
    assert raised.text_content().strip() == "挂牌督办（由重点督办升级）"
    counts_to(dept, before + 1)
    dept.wait_for_selector(
        "#case-panel .supervision-box[data-level='3'][data-status=issued]", timeout=WAIT_MS
    )

    # The operator's 督办 queue, for the record.
    page.click("#queues [data-queue=supervision]")
    page.wait_for_selector(
        f"#case-list tr[data-code='{code}'] .supervision-level[data-level='3']", timeout=WAIT_MS
    )
    page.screenshot(path=SCREENSHOTS / "desk-supervision.png")

    # The dashboard lists returns per department for the dispatcher (none returned here).
    page.click("#tabs [data-view=dashboard-view]")
    page.wait_for_selector("#dashboard-view [data-table=returns] th", timeout=WAIT_MS)
    for tab in (operator, department):
        assert tab.errors == []
        assert tab.hosts() == {"127.0.0.1"}
