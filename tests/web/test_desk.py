"""The case desk in Debian's Chromium on a clone of the demo city: a citizen's call worked from registration
to closing by the right person at each step (operator, inspector, department), each from their own browser
and their own queue; a leader's browser follows every step live without reloading; and an action on a case
that changed meanwhile is told, then refused with the server's conflict message."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator

import httpx
import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Page
from shapely.geometry import shape

from server.auth.passwords import DEMO_PASSWORD
from tests.web.conftest import VIEWPORT, BrowserTab, first_grid, logged_in
from tests.web.test_map import SCREENSHOTS, WAIT_MS

OPERATOR = "zhaomin"  # acceptor, shift lead and dispatcher
INSPECTOR = "13900000001"  # 张伟, inspector of the first village of 历下区's first street
DEPARTMENT = "sunli"  # 历下区 sanitation, the department of exposed garbage in 历下区 (added below)
LEADER = "wangjg"  # 王建国, city leader: sees everything, acts on nothing


def photo(color: tuple[int, int, int], text: str) -> bytes:
    image = Image.new("RGB", (640, 480), color)
    ImageDraw.Draw(image).text((20, 20), text, fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def department_user(web_server, admin_headers) -> None:
    """A user of 历下区 sanitation, added by the administrator."""
    answer = httpx.post(
        f"{web_server.url}/api/users",
        headers=admin_headers,
        json={
            "name": "孙丽",
            "phone": "13800000021",
            "username": DEPARTMENT,
            "roles": ["department"],
            "department_code": "sanitation_lx",
            "password": DEMO_PASSWORD,
        },
    )
    assert answer.status_code == 201, answer.text


@pytest.fixture
def call(web_server, department_user) -> dict:
    """A citizen's call about garbage in the demo inspector's first unit grid, registered by the operator
    with the caller's photo."""
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
                "description": "市民来电：小区门口垃圾堆放三天无人清运",
                "address": "泉城路 1 号附近",
            },
        )
        assert answer.status_code == 201, answer.text
        case = answer.json()
        uploaded = operator.post(
            f"/api/cases/{case['code']}/photos",
            params={"role": "before"},
            files={"file": ("before.jpg", photo((120, 90, 60), "before"), "image/jpeg")},
        )
        assert uploaded.status_code == 201, uploaded.text
    return case


@pytest.fixture
def browsers(browser) -> Iterator:
    """Open a logged-in tab for a user: each in its own browser context (its own session storage)."""
    contexts = []

    def open_as(server_url: str, login: str) -> BrowserTab:
        # a command center's computer in the city: it shows times in the city's zone
        context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai")
        contexts.append(context)
        tab = BrowserTab(context.new_page())
        tab.page.goto(f"{server_url}/")
        tab.page.fill("#login [name=login]", login)
        tab.page.fill("#login [name=password]", DEMO_PASSWORD)
        tab.page.click("#login button")
        tab.page.wait_for_selector("#live.on", timeout=WAIT_MS)  # the live stream is connected
        return tab

    yield open_as
    for context in contexts:
        context.close()


def open_from_queue(page: Page, queue: str, code: str) -> None:
    """On the desk, pick ``queue`` and open ``code`` from its list."""
    page.click("#tabs [data-view=desk-view]")
    page.click(f"#queues [data-queue={queue}]")
    page.click(f"#case-list tr[data-code='{code}']", timeout=WAIT_MS)
    page.wait_for_selector(f"#case-panel[data-code='{code}']:not([data-loading])", timeout=WAIT_MS)


def take(page: Page, action: str, state: str, **fields) -> None:
    """Take ``action`` from the open case panel, filling its form, and wait for ``state``."""
    act_on_panel(page, action, f"[data-state={state}]", **fields)


def act_on_panel(page: Page, action: str, shown: str, **fields) -> None:
    """Take ``action`` from the open case panel, filling its form; wait until the panel (``#case-panel``
    and what it holds) matches the selector ``shown``, or shows an error."""
    page.click(f"#case-panel .actions button[data-action={action}]")
    form = page.locator(f"#case-panel form[data-action={action}]")
    for name, value in fields.items():
        control = form.locator(f"[name={name}]")
        if control.evaluate("e => e.tagName") == "SELECT":
            control.select_option(value)
        elif control.get_attribute("type") == "file":
            control.set_input_files(value)
        else:
            control.fill(value)
    form.locator("button[type=submit]").click()
    done = f"#case-panel{shown}" if shown.startswith("[") else f"#case-panel {shown}"
    page.wait_for_selector(f"{done}, #case-panel .message.error", timeout=WAIT_MS)
    assert page.locator(done).count() == 1, page.text_content("#case-panel .message")


def follows(page: Page, state: str) -> None:
    """The watching browser shows ``state`` without a reload."""
    page.wait_for_selector(f"#case-panel[data-state={state}]", timeout=WAIT_MS)


def test_a_case_from_registration_to_closing_on_the_desk(web_server, call, browsers, tmp_path):
    code = call["code"]
    operator = browsers(web_server.url, OPERATOR)
    leader = browsers(web_server.url, LEADER)
    watcher = leader.page
    watcher.evaluate("window.gridopsLoaded = true")  # gone if the page reloads
    watcher.click("#tabs [data-view=desk-view]")
    watcher.evaluate("(code) => import('/static/case.js').then((m) => m.openCase(code))", code)
    follows(watcher, "reported")
    # the leader works no step of the case, only supervises it (督办, 催办); a line says who works it now
    names = "buttons => buttons.map((b) => b.dataset.action)"
    assert watcher.eval_on_selector_all("#case-panel .actions button", names) == ["supervise", "urge"]
    assert watcher.text_content("#case-panel .held-by") == "由受理员办理"

    page = operator.page
    page.click("#tabs [data-view=desk-view]")
    page.wait_for_selector("#queues [data-queue=register] .count", timeout=WAIT_MS)
    assert page.text_content("#queues [data-queue=register] .count") == "1"
    open_from_queue(page, "register", code)
    assert page.locator("#case-panel .before-after img").count() == 1
    page.wait_for_function(
        "document.querySelector('#case-panel .before-after img')?.naturalWidth > 0", timeout=WAIT_MS
    )
    take(page, "request_verification", "verifying", note="请网格员现场核实")
    follows(watcher, "verifying")
    page.wait_for_function(  # the queues are read again after the action
        "document.querySelector('#queues [data-queue=register] .count')?.textContent === '0'", timeout=WAIT_MS
    )

    inspector = browsers(web_server.url, INSPECTOR).page
    open_from_queue(inspector, "tasks", code)
    take(inspector, "reply_verification", "registered", result="confirmed", note="现场属实")
    follows(watcher, "registered")

    open_from_queue(page, "file", code)
    take(page, "file", "filed", urgency="important")
    follows(watcher, "filed")

    # A stale action: while the dispatch form is open, another session tags the case. The panel says so
    # and keeps the form; sending it anyway gets the server's conflict message, and the panel shows the
    # case as it is now.
    open_from_queue(page, "dispatch", code)
    page.click("#case-panel .actions button[data-action=dispatch]")
    with logged_in(web_server.url, OPERATOR) as other:
        version = other.get(f"/api/cases/{code}").json()["version"]
        tagged = other.post(
            f"/api/cases/{code}/actions/tag", json={"version": version, "tag": "repeat_complaint"}
        )
        assert tagged.status_code == 200, tagged.text
    page.wait_for_selector("#case-panel .stale", timeout=WAIT_MS)
    page.click("#case-panel form[data-action=dispatch] button[type=submit]")
    page.wait_for_selector("#case-panel .message.error", timeout=WAIT_MS)
    assert "操作未执行" in page.text_content("#case-panel .message")
    assert "请刷新后再试" in page.text_content("#case-panel .message")
    page.wait_for_selector("#case-panel .tag[data-tag=repeat_complaint]", timeout=WAIT_MS)
    assert page.get_attribute("#case-panel", "data-state") == "filed"
    take(page, "dispatch", "dispatched")
    follows(watcher, "dispatched")

    department = browsers(web_server.url, DEPARTMENT).page
    after = tmp_path / "after.jpg"
    after.write_bytes(photo((60, 140, 80), "after"))
    open_from_queue(department, "handle", code)
    # A return with its reason: everyone who follows the case reads why; the dispatcher sends it back.
    take(department, "return", "returned", reason="需先确认是否属于本部门辖区")
    follows(watcher, "returned")
    watcher.wait_for_selector("#case-panel .timeline li[data-action=return] .reason", timeout=WAIT_MS)
    assert watcher.text_content("#case-panel .timeline li[data-action=return] .reason") == (
        "原因：需先确认是否属于本部门辖区"
    )
    open_from_queue(page, "returned", code)
    take(page, "dispatch", "dispatched")
    follows(watcher, "dispatched")
    # the department signs for the case (签收) from its queue of cases to sign for, before it handles it
    open_from_queue(department, "receive", code)
    assert "待签收" in department.text_content("#case-panel .facts")
    take(department, "receive", "dispatched")
    department.wait_for_selector("#case-panel .timeline li[data-action=receive]", timeout=WAIT_MS)
    assert "已签收" in department.text_content("#case-panel .facts")
    # the department may not close or file: those buttons are not offered in this state at all
    assert department.locator("#case-panel .actions button[data-action=close]").count() == 0
    # a handling report without its after photo is stopped by the form, before anything is sent
    sent = []
    department.on("request", lambda r: sent.append(r.url) if "/actions/" in r.url else None)
    department.click("#case-panel .actions button[data-action=report_handling]")
    department.click("#case-panel form[data-action=report_handling] button[type=submit]")
    department.wait_for_selector("#case-panel .message.error", timeout=WAIT_MS)
    assert department.text_content("#case-panel .message") == "请先选择处置后照片，再提交" and not sent
    department.click("#case-panel form[data-action=report_handling] button[type=button]")  # 取消
    take(department, "report_handling", "handled", photos=str(after), note="已清运完毕")
    follows(watcher, "handled")

    open_from_queue(page, "check", code)
    take(page, "request_check", "checking")
    follows(watcher, "checking")

    open_from_queue(inspector, "tasks", code)
    check = tmp_path / "check.jpg"
    check.write_bytes(photo((70, 150, 90), "check"))
    take(inspector, "reply_check", "checked", result="pass", photos=str(check), note="已清理干净")
    follows(watcher, "checked")

    open_from_queue(page, "close", code)
    page.wait_for_function(
        "[...document.querySelectorAll('#case-panel .before-after img')].every((i) => i.naturalWidth > 0)",
        timeout=WAIT_MS,
    )
    assert page.locator("#case-panel .before-after figure[data-roles='after check'] img").count() == 2
    page.screenshot(path=SCREENSHOTS / "desk.png")
    take(page, "close", "closed", close_kind="normal")
    follows(watcher, "closed")
    # the call-back to the citizen (回访)
    take(page, "callback", "closed", contacted="true", solved="true", satisfaction="basically_satisfied")
    watcher.wait_for_selector("#case-panel .timeline li[data-action=callback]", timeout=WAIT_MS)

    # the leader's page was never reloaded; its timeline shows every step
    assert watcher.evaluate("window.gridopsLoaded") is True
    steps = watcher.eval_on_selector_all(
        "#case-panel .timeline li", "items => items.map((i) => i.dataset.action)"
    )
    for action in ("request_verification", "reply_verification", "file", "tag", "dispatch", "receive",
                   "report_handling", "request_check", "reply_check", "close", "callback"):  # fmt: skip
        assert action in steps
    watcher.screenshot(path=SCREENSHOTS / "desk-closed.png")
    for tab in (operator, leader):
        assert tab.errors == []
        assert tab.hosts() == {"127.0.0.1"}
