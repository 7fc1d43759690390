"""Every page, as every role, speaks Chinese: in Debian's Chromium on a clone of the demo city, each demo
person logs in, opens every tab the header offers them, a case from their desk and an action form on it, and
every visible text (and placeholder, title, label and option) is read: a word in Latin letters that is not
a code value (case and grid codes, numbers, units, names of formats and standards) fails the test. The
citizens' pages and the login form's refusal are read the same way."""

from __future__ import annotations

import re

import pytest

from server.auth.passwords import DEMO_PASSWORD
from server.case.demo import load_demo_cases
from server.database import new_session
from tests.web.test_map import WAIT_MS

# Words in Latin letters a person may read on a page: the product's name, formats, units and standards.
ALLOWED = {
    "GridOps", "Open311", "MapLibre", "JPEG", "PNG", "WebP", "HEIC", "MB", "KB", "km", "CSV", "WGS", "GCJ",
    "BD", "CGCS", "ID", "GPS",
}  # fmt: skip

# Everything visible on the page that a person reads: text, and the placeholder, title, label and alt text
# of visible elements, and the options of visible lists.
VISIBLE_TEXT = """() => {
  const shown = (el) => el.checkVisibility({ visibilityProperty: true });
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const text = walker.currentNode.textContent.trim();
    const parent = walker.currentNode.parentElement;
    const data = parent?.closest("[translate=no]"); // a user name or a code: data, not the page's words
    if (text && parent && !data && !["SCRIPT", "STYLE", "OPTION"].includes(parent.tagName) && shown(parent)) {
      out.push(text);
    }
  }
  for (const el of document.querySelectorAll("[placeholder], [title], [aria-label], [alt]")) {
    if (!shown(el)) continue;
    for (const name of ["placeholder", "title", "aria-label", "alt"]) {
      if (el.getAttribute(name)) out.push(el.getAttribute(name));
    }
  }
  for (const select of document.querySelectorAll("select")) {
    if (shown(select)) out.push(...Array.from(select.options, (o) => o.textContent.trim()).filter(Boolean));
  }
  return out;
}"""

# When each view has read what it shows (or shown why it cannot).
SETTLED = {
    "map-view": "window.gridopsMap?.loaded() === true",
    "desk-view": "document.getElementById('queue-title').textContent !== ''",
    "dashboard-view": "!!document.querySelector('#dashboard-view[data-loaded]') || "
    "(document.querySelector('#dashboard-view .dash-status')?.textContent ?? '') !== ''",
    "review-view": "!!document.querySelector('#review-view[data-loaded]') || "
    "(document.querySelector('#review-view .review-status')?.textContent ?? '') !== ''",
    "knowledge-view": "!!document.querySelector('#knowledge-view[data-loaded]') || "
    "(document.querySelector('#knowledge-view .message')?.textContent ?? '') !== ''",
    "admin-view": "!!document.querySelector('#admin-view[data-loaded]') || "
    "(document.getElementById('admin-status')?.textContent ?? '') !== ''",
}

# The demo's people, one of each kind, and the tabs their header offers.
PEOPLE = {
    "wangjg": ("网格长兼领导", {"map-view", "desk-view", "dashboard-view", "review-view", "knowledge-view"}),
    "chenjing": ("街道网格长", {"map-view", "desk-view", "dashboard-view", "review-view"}),
    "zhaomin": (
        "受理员、值班长、派遣员",
        {"map-view", "desk-view", "dashboard-view", "review-view", "knowledge-view"},
    ),
    "sunli": ("处置部门", {"map-view", "desk-view", "dashboard-view"}),
    "13900000001": ("网格员", {"map-view", "desk-view"}),
    "admin": (
        "管理员",
        {"map-view", "desk-view", "dashboard-view", "review-view", "knowledge-view", "admin-view"},
    ),
}


def latin_words(texts: list[str]) -> dict[str, list[str]]:
    """The texts holding a word in Latin letters that is not allowed, with those words."""
    found = {}
    for text in texts:
        # a word with its digits (Open311), allowed as such or by its letters (CGCS2000)
        found_words = re.findall(r"[A-Za-z]{2,}[0-9]*", text)
        words = [w for w in found_words if w not in ALLOWED and w.rstrip("0123456789") not in ALLOWED]
        if words:
            found[text] = words
    return found


def test_latin_words_are_found_outside_code_values():
    codes = ["370102-20261201-0002", "E06029", "1.2 km", "GridOps 指挥中心", "±8 m", "Open311", "CGCS2000"]
    assert latin_words(codes) == {}
    assert latin_words(["return needs the role department", "由 grid_head 办理", "第 6 版"]) == {
        "return needs the role department": ["return", "needs", "the", "role", "department"],
        "由 grid_head 办理": ["grid", "head"],
    }


def read(page) -> dict[str, list[str]]:
    return latin_words(page.evaluate(VISIBLE_TEXT))


def log_in(page, url: str, login: str) -> None:
    page.goto(url)
    page.fill("#login [name=login]", login)
    page.fill("#login [name=password]", DEMO_PASSWORD)
    page.click("#login button")
    page.wait_for_selector("#app:not([hidden]), #login .error:not(:empty)", timeout=WAIT_MS)
    assert page.is_visible("#app"), (login, page.text_content("#login .error"))


def test_every_page_as_every_role_is_chinese(web_server, demo_clone_url, browser):
    with new_session(demo_clone_url) as db:
        assert load_demo_cases(db=db) > 0  # the demo's cases and its departments' staff
    url, english = web_server.url, {}
    for login, (who, tabs) in PEOPLE.items():
        context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda error, errors=errors: errors.append(str(error)))
        log_in(page, url, login)
        offered = set(
            page.eval_on_selector_all("#tabs [role=tab]:not([hidden])", "t => t.map(x => x.dataset.view)")
        )
        assert offered == tabs, (who, offered)
        for view in sorted(offered):
            page.click(f"#tabs [data-view={view}]")
            page.wait_for_function(SETTLED[view], timeout=WAIT_MS)
            english.update({f"{who} {view}: {k}": v for k, v in read(page).items()})
        page.click("#tabs [data-view=desk-view]")
        if page.is_visible("#hotline-open"):  # the hotline desk's form, for those who take calls
            page.click("#hotline-open")
            page.wait_for_selector("#hotline[data-ready]", timeout=WAIT_MS)
            english.update({f"{who} hotline: {k}": v for k, v in read(page).items()})
            page.click("#hotline .buttons button[type=button]")  # 取消
        rows = page.locator("#case-list tbody tr")
        if rows.count():
            rows.first.click()
            page.wait_for_selector("#case-panel[data-code]:not([data-loading])", timeout=WAIT_MS)
            english.update({f"{who} case panel: {k}": v for k, v in read(page).items()})
            enabled = page.locator("#case-panel .actions button:not([disabled])")
            if enabled.count():
                enabled.first.click()
                page.wait_for_selector("#case-panel .action-form", timeout=WAIT_MS)
                english.update({f"{who} action form: {k}": v for k, v in read(page).items()})
        assert not errors, (who, errors)
        context.close()
    assert not english, english


@pytest.mark.parametrize("path", ["/report", "/track"])
def test_the_citizens_pages_are_chinese(web_server, tab, path):
    page = tab.page
    page.goto(web_server.url + path)
    page.wait_for_selector("form", timeout=WAIT_MS)
    assert not read(page)


def test_a_mistyped_code_and_a_wrong_password_are_answered_in_chinese(web_server, tab):
    page = tab.page
    page.goto(web_server.url + "/track")
    page.fill("input[name=code]", "37010-2026-12")
    page.keyboard.press("Enter")
    page.wait_for_selector(".error:not(:empty), [role=alert]:not(:empty)", timeout=WAIT_MS)
    assert not read(page)

    page.goto(web_server.url)
    page.fill("#login [name=login]", "chenjing")
    page.fill("#login [name=password]", "wrong-password")
    page.click("#login button")
    page.wait_for_function("document.querySelector('#login .error').textContent !== ''", timeout=WAIT_MS)
    assert "账号或密码不对" in page.text_content("#login .error")
    assert not read(page)
