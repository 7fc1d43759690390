"""The hotline desk's triage (docs/DOMAIN.md section 5, "The knowledge base") in Debian's Chromium on a clone
of the demo city: as the operator types the description, categories are suggested and one accepted; a 咨询
is answered from a knowledge-base template and closed in one step."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.web.conftest import first_grid, logged_in
from tests.web.test_desk import INSPECTOR, OPERATOR
from tests.web.test_map import WAIT_MS, log_in


def open_desk(page, url: str):
    """The hotline form, placed in the first village of the inspector's (by its name)."""
    page.goto(f"{url}/")
    log_in(page)  # the operator
    page.click("#tabs [data-view=desk-view]")
    page.click("#hotline-open")
    page.wait_for_selector("#hotline[data-ready]", timeout=WAIT_MS)
    dialog = page.locator("#hotline")
    village = first_grid(url, INSPECTOR, "village")["properties"]
    dialog.locator("[name=place]").fill(village["name"][:4])
    dialog.locator(f".results button[data-grid='{village['code']}']").click(timeout=WAIT_MS)
    page.wait_for_function(
        f"document.querySelector('#hotline .where').dataset.grid?.startsWith('{village['code']}')",
        timeout=WAIT_MS,
    )
    dialog.locator("[name=caller]").fill("王先生")
    dialog.locator("[name=phone]").fill("13912345678")
    return dialog


def test_the_desk_suggests_categories_and_the_operator_accepts_one(web_server, tab):
    page = tab.page
    dialog = open_desk(page, web_server.url)
    dialog.locator("[name=description]").fill("井盖没了，晚上很危险")
    first = dialog.locator(".triage .suggested-category").first
    expect(first).to_be_visible(timeout=WAIT_MS)
    code = first.get_attribute("data-code")
    assert code.startswith(("E01", "C01"))  # a manhole cover's
    assert "%" in first.text_content()
    first.click()
    expect(first).to_have_attribute("aria-pressed", "true")
    assert dialog.locator("[name=category]").input_value().endswith(f"（{code}）")
    dialog.locator("button[type=submit]").click()
    page.wait_for_selector("#hotline[data-code]", timeout=WAIT_MS)
    case_code = page.get_attribute("#hotline", "data-code")
    with logged_in(web_server.url, OPERATOR) as operator:
        case = operator.get(f"/api/cases/{case_code}").json()
    assert case["category"]["code"] == code and case["state"] == "verifying"
    assert tab.errors == []


def test_a_consult_is_answered_from_a_template_in_one_step(web_server, tab):
    with logged_in(web_server.url, OPERATOR) as lead:
        made = lead.post(
            "/api/answers",
            json={
                "title": "生活垃圾清运时间",
                "question": "垃圾几点来收？垃圾什么时候清运？",
                "body": "{来电人}您好，生活垃圾每天清运，您的咨询已答复（{案件编号}）。",
                "category": "E06010",
                "request_type": "consult",
            },
        )
        assert made.status_code == 201, made.text
        template = made.json()
    page = tab.page
    dialog = open_desk(page, web_server.url)
    dialog.locator("[name=request_type]").select_option(label="咨询")
    assert dialog.locator("button[type=submit]").text_content() == "登记并答复办结"
    dialog.locator("[name=category]").fill("暴露垃圾（E06010）")
    dialog.locator("[name=description]").fill("市民咨询小区垃圾什么时候清运")
    choice = dialog.locator(f".triage .suggested-answers [data-template='{template['id']}']")
    expect(choice).to_be_visible(timeout=WAIT_MS)
    assert "生活垃圾每天清运" in dialog.locator(".triage .suggested-answers").text_content()  # the preview
    choice.click()
    reply = dialog.locator("[name=reply]")
    assert reply.input_value() == template["body"]
    reply.fill(reply.input_value() + "如有疑问请再来电。")  # edited before answering
    dialog.locator("button[type=submit]").click()
    page.wait_for_selector("#hotline[data-code]", timeout=WAIT_MS)
    expect(dialog.locator(".result .answered")).to_contain_text("案件已办结")
    code = page.get_attribute("#hotline", "data-code")
    with logged_in(web_server.url, OPERATOR) as operator:
        case = operator.get(f"/api/cases/{code}").json()
        used = operator.get(f"/api/answers/{template['id']}").json()
    assert (case["state"], case["close_kind"]) == ("closed", "normal")
    assert used["use_count"] == 1
    answered = next(e for e in case["timeline"] if e["action"] == "answer")
    reply = f"王**您好，生活垃圾每天清运，您的咨询已答复（{code}）。如有疑问请再来电。"
    assert answered["data"]["public_note"] == reply
    assert tab.errors == []
