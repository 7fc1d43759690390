"""改类 from the case panel in Debian's Chromium: the operator picks the right category from the list of leaf
categories (typed to filter, as on the hotline desk), gives the reason, and the case moves to it and to its
department; a name not from the list is refused in the form."""

from __future__ import annotations

import uuid

from shapely.geometry import shape

from tests.web.conftest import first_grid, logged_in
from tests.web.test_desk import INSPECTOR, OPERATOR, browsers, open_from_queue  # noqa: F401 (a fixture)
from tests.web.test_map import WAIT_MS


def test_reclassify_from_the_case_panel(web_server, browsers):  # noqa: F811
    url = web_server.url
    point = shape(first_grid(url, INSPECTOR, "unit")["geometry"]).centroid
    with logged_in(url, INSPECTOR) as inspector:
        answer = inspector.post(
            "/api/cases",
            json={
                "client_uuid": str(uuid.uuid4()),
                "category": "E06010",
                "lon": point.x,
                "lat": point.y,
                "description": "路边停了一排车，把人行道堵死了",
            },
        )
        assert answer.status_code == 201, answer.text
        code = answer.json()["code"]
    with logged_in(url, OPERATOR) as lead:
        version = lead.get(f"/api/cases/{code}").json()["version"]
        assert lead.post(f"/api/cases/{code}/actions/file", json={"version": version}).status_code == 200

    page = browsers(url, OPERATOR).page
    open_from_queue(page, "dispatch", code)
    page.click("#case-panel .actions button[data-action=reclassify]")
    form = page.locator("#case-panel form[data-action=reclassify]")
    category = form.locator("input[name=category]")
    options = form.locator("datalist option[value='机动车乱停放（E09009）']")
    options.wait_for(state="attached", timeout=WAIT_MS)
    assert form.locator("datalist option[value^='暴露垃圾']").count() == 1
    category.fill("乱停车")
    form.locator("[name=reason]").fill("现场是机动车乱停放，不是垃圾")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#case-panel .message:has-text('请从列表中选择类别')", timeout=WAIT_MS)
    category.fill("机动车乱停放（E09009）")
    form.locator("button[type=submit]").click()
    moved = "#case-panel .timeline li[data-action=reclassify]"
    page.wait_for_selector(moved, timeout=WAIT_MS)
    assert page.text_content(f"{moved} .reclassified") == "改类：暴露垃圾 → 机动车乱停放"
    assert page.text_content(f"{moved} .reason") == "原因：现场是机动车乱停放，不是垃圾"
    with logged_in(url, OPERATOR) as lead:
        case = lead.get(f"/api/cases/{code}").json()
    assert (case["state"], case["category"]["code"], case["department"]["code"]) == (
        "filed",
        "E09009",
        "traffic_police",
    )
