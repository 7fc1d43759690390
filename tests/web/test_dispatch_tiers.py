"""Dispatch in two tiers in Debian's Chromium on a clone of the demo city: a street's sub-center dispatcher,
in their own browser, dispatches a case inside the street to the street's own team with a co-handling (协办)
department, and sends another up (上报上级), which then waits in the top dispatcher's 待派遣 queue (zhaomin,
city-wide) with the reason in its timeline."""

from __future__ import annotations

import uuid

import httpx
import pytest
from shapely.geometry import shape

from server.auth.passwords import DEMO_PASSWORD
from server.users.demo import DISTRICT
from tests.web.conftest import logged_in
from tests.web.test_desk import OPERATOR, browsers, open_from_queue  # noqa: F401 (a fixture)
from tests.web.test_map import SCREENSHOTS, WAIT_MS

INSPECTOR = "13900000001"  # 张伟, inspector of the first village of 历下区's first street
STREET_DISPATCHER = "jiedao"
TEAM = "team_street_one"


@pytest.fixture
def street(web_server, admin_headers) -> dict:
    """历下区's first street with its sub-center, its own team and its dispatcher, added by the administrator;
    and two cases inside it reported by its inspector and filed by the shift lead (so, the street's)."""
    url = web_server.url
    first = httpx.get(f"{url}/api/grids", params={"parent": DISTRICT}).json()[0]
    made = [
        ("/api/dispatch-centers", {"grid_code": first["code"], "name": f"{first['name']}分中心"}),
        (
            "/api/departments",
            {"code": TEAM, "name": f"{first['name']}综合执法队", "grid_code": first["code"]},
        ),
        (
            "/api/users",
            {
                "name": "街道派遣员",
                "phone": "13800000031",
                "username": STREET_DISPATCHER,
                "roles": ["dispatcher"],
                "grid_code": first["code"],
                "password": DEMO_PASSWORD,
            },
        ),
    ]
    for path, body in made:
        answer = httpx.post(f"{url}{path}", headers=admin_headers, json=body)
        assert answer.status_code == 201, answer.text
    with logged_in(url, INSPECTOR) as inspector:
        grids = inspector.get("/api/sync/grids").json()["features"]
        unit = next(f for f in grids if f["properties"]["level"] == "unit")
        point = shape(unit["geometry"]).representative_point()
        codes = []
        for category, description in (("E06010", "路边垃圾堆放"), ("E07002", "墙面小广告成片")):
            answer = inspector.post(
                "/api/cases",
                json={
                    "client_uuid": str(uuid.uuid4()),
                    "category": category,
                    "lon": point.x,
                    "lat": point.y,
                    "description": description,
                },
            )
            assert answer.status_code == 201, answer.text
            codes.append(answer.json()["code"])
    with logged_in(url, OPERATOR) as lead:
        for code in codes:
            version = lead.get(f"/api/cases/{code}").json()["version"]
            answer = lead.post(f"/api/cases/{code}/actions/file", json={"version": version})
            assert answer.status_code == 200, answer.text
    return {"name": first["name"], "center": f"{first['name']}分中心", "cases": codes}


def dispatch_queue(url: str, login: str) -> set[str]:
    with logged_in(url, login) as user:
        return {c["code"] for c in user.get("/api/cases", params={"queue": "dispatch"}).json()["items"]}


def test_a_street_sub_center_dispatches_inside_its_street_and_sends_up_the_rest(
    web_server,
    street,
    browsers,  # noqa: F811
):
    url = web_server.url
    inside, beyond = street["cases"]
    assert dispatch_queue(url, STREET_DISPATCHER) >= {inside, beyond}
    assert not dispatch_queue(url, OPERATOR) & {inside, beyond}  # the street's, not the top's

    page = browsers(url, STREET_DISPATCHER).page
    open_from_queue(page, "dispatch", inside)
    page.click("#case-panel .actions button[data-action=dispatch]")
    form = page.locator("#case-panel form[data-action=dispatch]")
    lead = form.locator("select[name=lead_department]")
    lead.locator(f"option[value={TEAM}]").wait_for(state="attached", timeout=WAIT_MS)
    assert lead.locator(f"option[value={TEAM}]").text_content() == (
        f"{street['name']}综合执法队（街道队伍·{street['name']}）"
    )
    lead.select_option(TEAM)
    co = form.locator("fieldset[data-list=parallel_departments]")
    assert co.locator("legend").text_content() == "协办部门"
    co.locator("input[value=enforcement]").check()
    page.screenshot(path=str(SCREENSHOTS / "dispatch-tiers-street-form.png"))
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#case-panel[data-state=dispatched]", timeout=WAIT_MS)
    with logged_in(url, STREET_DISPATCHER) as dispatcher:
        dispatches = dispatcher.get(f"/api/cases/{inside}").json()["dispatches"]
    sent_to = [(d["department"]["code"], d["lead"]) for d in dispatches]
    assert sent_to == [(TEAM, True), ("enforcement", False)]

    # The other case needs the district: the street sends it up, with the reason.
    open_from_queue(page, "dispatch", beyond)
    page.click("#case-panel .actions button[data-action=escalate]")
    form = page.locator("#case-panel form[data-action=escalate]")
    form.locator("[name=reason]").fill("涉及相邻街道，需区级统筹")
    form.locator("button[type=submit]").click()
    escalated = "#case-panel .timeline li[data-action=escalate]"
    page.wait_for_selector(escalated, timeout=WAIT_MS)
    assert page.text_content(f"{escalated} .escalated") == f"{street['center']} → 上级指挥中心"
    # no longer the street's to dispatch: the panel says who dispatches it now
    page.wait_for_selector("#case-panel .actions button[data-action=dispatch][disabled]", timeout=WAIT_MS)
    assert "由上级指挥中心派遣" in page.text_content("#case-panel .why[data-why=dispatch]")

    operator = browsers(url, OPERATOR).page
    open_from_queue(operator, "dispatch", beyond)
    reason = operator.locator(f"{escalated} .reason")
    assert reason.text_content() == "原因：涉及相邻街道，需区级统筹"
    assert operator.locator("#case-panel .actions button[data-action=dispatch]:not([disabled])").count() == 1
    operator.screenshot(path=str(SCREENSHOTS / "dispatch-tiers-escalated.png"))
    assert beyond not in dispatch_queue(url, STREET_DISPATCHER)
