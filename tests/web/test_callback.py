"""The call-back (回访) on the desk in Debian's Chromium on a clone of the demo city: the operator (an
acceptor) opens a citizen's closed call, sees the caller masked, shows the number with one click (recorded
on the server), sees the case's history and the caller's other calls, one of which this call repeats
(重复投诉), and records the call-back; a leader's browser sees the caller masked, with nothing to show the
number with."""

from __future__ import annotations

import httpx
import pytest

from server.case.states import State
from server.database import get_engine, new_session
from tests.server.case_world import report, village_point
from tests.server.test_case_transitions import ADMIN, advance
from tests.web.conftest import VIEWPORT
from tests.web.test_desk import LEADER, OPERATOR, browsers  # noqa: F401 (a fixture)
from tests.web.test_map import SCREENSHOTS, WAIT_MS

CALLER, PHONE = "李秀英", "13855550000"
MASKED = "李** 138****0000"


@pytest.fixture
def calls(web_server, demo_clone_url) -> dict[str, str]:
    """Three calls of one caller in the first village of 历下区: garbage about 70 m away, a blocked drain
    beside it, then garbage again (a repeat of the first), taken to closing."""
    with new_session(demo_clone_url) as db:
        _, lon, lat = village_point(db)

        def call(east: float, north: float, category: str, description: str):
            return report(
                db, ADMIN, lon + east, lat + north, category=category, description=description,
                channel="hotline", reporter_name=CALLER, reporter_phone=PHONE,
            )  # fmt: skip

        first = call(0.0008, 0.0, "E06010", "市民来电：小区东门垃圾堆放")
        drain = call(0.0, 0.0005, "E09009", "市民来电：路边雨水井堵塞")
        again = call(0.0, 0.0, "E06010", "市民再次来电：小区门口垃圾又堆起来了")
        advance(db, again, State.CLOSED)
        codes = {"first": first.code, "drain": drain.code, "again": again.code}
    get_engine(demo_clone_url).dispose()
    return codes


def open_case(page, code: str) -> None:
    page.click("#tabs [data-view=desk-view]")
    page.evaluate("(code) => import('/static/case.js').then((m) => m.openCase(code))", code)
    page.wait_for_selector(f"#case-panel[data-code='{code}']:not([data-loading])", timeout=WAIT_MS)


def test_an_acceptor_calls_the_caller_back(web_server, calls, browsers, admin_headers):  # noqa: F811
    code = calls["again"]
    operator = browsers(web_server.url, OPERATOR)
    page = operator.page
    open_case(page, code)
    facts = page.locator("#case-panel .facts")
    assert facts.locator(".caller").text_content() == MASKED
    assert facts.locator(f"a[data-case='{calls['first']}']").text_content() == f"见 {calls['first']}"

    page.click("#case-panel .actions button[data-action=callback]")
    form = page.locator("#case-panel form[data-action=callback]")
    assert form.locator(".caller").text_content() == MASKED
    form.locator(".timeline li[data-action=close]").wait_for(timeout=WAIT_MS)  # the case's history
    others = form.locator(".caller-cases li")
    others.first.wait_for(timeout=WAIT_MS)
    listed = others.evaluate_all("items => items.map((i) => i.dataset.code)")
    assert listed == [calls["drain"], calls["first"]]  # newest first
    assert PHONE not in page.text_content("#case-panel")

    form.locator("button.reveal").click()
    page.wait_for_selector("#case-panel form .caller[data-revealed]", timeout=WAIT_MS)
    assert form.locator(".caller").text_content() == f"{CALLER} {PHONE}"
    assert facts.locator(".caller").text_content() == f"{CALLER} {PHONE}"  # shown once for the panel
    assert page.locator("#case-panel button.reveal").count() == 0
    form.locator("[name=contacted]").select_option("true")
    form.locator("[name=solved]").select_option("true")
    form.locator("[name=satisfaction]").select_option("satisfied")
    page.set_viewport_size({**VIEWPORT, "height": 1250})  # the whole form, down to its buttons
    page.screenshot(path=SCREENSHOTS / "desk-callback.png")
    page.set_viewport_size(VIEWPORT)
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#case-panel .timeline li[data-action=callback]", timeout=WAIT_MS)
    assert page.text_content("#case-panel .message") == "已回访"

    reveals = httpx.get(f"{web_server.url}/api/cases/{code}/caller/reveals", headers=admin_headers).json()
    assert [(r["user"], r["role"]) for r in reveals] == [("赵敏", "acceptor")]

    # the earlier call opens from the link
    facts.locator(f"a[data-case='{calls['first']}']").click()
    page.wait_for_selector(f"#case-panel[data-code='{calls['first']}']:not([data-loading])", timeout=WAIT_MS)

    leader = browsers(web_server.url, LEADER)
    open_case(leader.page, code)
    assert leader.page.locator("#case-panel .facts .caller").text_content() == MASKED
    assert leader.page.locator("#case-panel button.reveal").count() == 0
    assert PHONE not in leader.page.text_content("#case-panel")
    for tab in (operator, leader):
        assert tab.errors == []
        assert tab.hosts() == {"127.0.0.1"}
