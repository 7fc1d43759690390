"""A warning's life in Debian's Chromium, each person in their own browser: a warning raised (through
``raise_signals``, as the weekly scan does) shows on the command center's map and dashboard; the operator
sends the reminder letter (提醒函) from the dashboard and opens it printable; the lead department, to whom it
is addressed, finds it on its dashboard and acknowledges it with a reply; each step shows at once in the
other's browser."""

from __future__ import annotations

from sqlalchemy import select

from server.database import get_engine, new_session
from server.grid.models import CURRENT, Grid
from server.users.demo import DISTRICT
from server.warning import service
from tests.server.test_warnings import signal
from tests.web.test_desk import (  # noqa: F401 (fixtures)
    DEPARTMENT,
    OPERATOR,
    browsers,
    department_user,
)
from tests.web.test_map import SCREENSHOTS, WAIT_MS
from tests.web.test_supervision import DEPARTMENT_NAME


def raise_one(database_url: str) -> int:
    """A surge of exposed garbage (E06010, 历下区 sanitation's) in the first village of 历下区's first
    street."""
    with new_session(database_url) as db:
        street = db.scalar(select(Grid.code).where(CURRENT, Grid.parent_code == DISTRICT).order_by(Grid.code))
        village = db.scalar(select(Grid.code).where(CURRENT, Grid.parent_code == street).order_by(Grid.code))
        (warning,) = service.raise_signals(db, [signal(db, village, category="E06010")])
        found = warning.id
    get_engine(database_url).dispose()
    return found


def in_state(page, warning: int, state: str) -> str:
    """The warning's item on the dashboard once it shows ``state`` (the stream re-reads the panel)."""
    selector = f".dash-warnings .warning-item[data-id='{warning}'][data-state='{state}']"
    page.wait_for_selector(selector, timeout=WAIT_MS)
    return selector


def test_a_warning_raised_turned_into_a_letter_and_acknowledged(
    web_server,
    demo_clone_url,
    department_user,  # noqa: F811
    browsers,  # noqa: F811
):
    operator = browsers(web_server.url, OPERATOR)
    page = operator.page
    department = browsers(web_server.url, DEPARTMENT)
    dept = department.page
    dept.click("#tabs [data-view=dashboard-view]")
    dept.wait_for_selector(".dash-warnings h3", timeout=WAIT_MS)

    warning = raise_one(demo_clone_url)
    page.wait_for_function(
        "(id) => (document.getElementById('map').dataset.warnings ?? '').split(' ').includes(String(id))",
        arg=warning,
        timeout=WAIT_MS,
    )  # its area outlined on the map, live
    page.click("#tabs [data-view=dashboard-view]")
    item = in_state(page, warning, "raised")
    assert "突增高频" in page.text_content(item) and "新预警" in page.text_content(item)
    assert dept.locator(f".warning-item[data-id='{warning}']").count() == 0  # not addressed to it yet

    page.click(f"{item} button.letter")
    item = in_state(page, warning, "letter")
    text = page.text_content(item)
    assert f"发给{DEPARTMENT_NAME}" in text and "提醒函〔" in text
    with page.context.expect_page() as opened:
        page.click(f"{item} button.open-letter")
    letter = opened.value
    letter.wait_for_selector("h1", timeout=WAIT_MS)
    assert letter.text_content("h1") == "提醒函" and DEPARTMENT_NAME in letter.text_content(".to")
    assert letter.locator("svg.weeks rect").count() == 12 and letter.locator("svg.map path").count() == 1
    letter.screenshot(path=str(SCREENSHOTS / "warning-letter.png"), full_page=True)

    # The department finds the letter on its dashboard, live, and answers it.
    mine = in_state(dept, warning, "letter")
    dept.click(f"{mine} .warning-reply button")  # an empty reply is refused in words
    dept.wait_for_selector(f"{mine} .warning-status:text('请填写核查和处理情况')", timeout=WAIT_MS)
    dept.fill(f"{mine} textarea[name=reply]", "已安排保洁员清运，并增加该社区的清运频次")
    dept.click(f"{mine} .warning-reply button")
    mine = in_state(dept, warning, "acknowledged")
    assert "反馈：已安排保洁员清运" in dept.text_content(mine)

    item = in_state(page, warning, "acknowledged")  # the operator sees the reply at once
    assert "反馈：已安排保洁员清运，并增加该社区的清运频次" in page.text_content(item)
    page.locator(".dash-warnings").screenshot(path=str(SCREENSHOTS / "dashboard-warnings.png"))
    assert not operator.errors and not department.errors
