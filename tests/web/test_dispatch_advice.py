"""The dispatch form's advice in Debian's Chromium on a clone of the demo city: under the lead department's
list it names the department suggested for the case's category (建议：…), and warns while the chosen
department is one that returned such cases often lately (here 3 of 3 exposed-garbage cases of 历下区)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from shapely.geometry import shape

from server.auth.passwords import DEMO_PASSWORD
from tests.web.conftest import first_grid, logged_in
from tests.web.test_desk import OPERATOR, browsers, open_from_queue  # noqa: F401 (a fixture)
from tests.web.test_map import WAIT_MS

INSPECTOR = "13900000001"  # 张伟, inspector of the first village of 历下区's first street
ENFORCEMENT = "zhifa"  # a user of the city's enforcement detachment, added below


@pytest.fixture
def garbage(web_server, admin_headers) -> list[str]:
    """Four exposed-garbage cases of 历下区 reported by its inspector and filed; the first three dispatched
    to the enforcement detachment and returned by it (not its own)."""
    url = web_server.url
    user = {
        "name": "执法支队值班员",
        "phone": "13800000032",
        "username": ENFORCEMENT,
        "roles": ["department"],
        "department_code": "enforcement",
        "password": DEMO_PASSWORD,
    }
    answer = httpx.post(f"{url}/api/users", headers=admin_headers, json=user)
    assert answer.status_code == 201, answer.text
    codes = []
    point = shape(first_grid(url, INSPECTOR, "unit")["geometry"]).representative_point()
    with logged_in(url, INSPECTOR) as inspector:
        for n in range(4):
            body = {"client_uuid": str(uuid.uuid4()), "category": "E06010", "lon": point.x, "lat": point.y}
            answer = inspector.post("/api/cases", json={**body, "description": f"路边垃圾堆放{n}"})
            assert answer.status_code == 201, answer.text
            codes.append(answer.json()["code"])
    with logged_in(url, OPERATOR) as operator, logged_in(url, ENFORCEMENT) as enforcement:

        def act(client: httpx.Client, code: str, action: str, **fields) -> None:
            version = client.get(f"/api/cases/{code}").json()["version"]
            answer = client.post(f"/api/cases/{code}/actions/{action}", json={"version": version, **fields})
            assert answer.status_code == 200, answer.text

        for code in codes:
            act(operator, code, "file")
        for code in codes[:3]:
            act(operator, code, "dispatch", lead_department="enforcement")
            act(enforcement, code, "return", reason="非本单位职责，应由环卫部门处置")
    return codes


def test_the_dispatch_form_suggests_and_warns(web_server, garbage, browsers):  # noqa: F811
    page = browsers(web_server.url, OPERATOR).page
    open_from_queue(page, "dispatch", garbage[3])
    page.click("#case-panel .actions button[data-action=dispatch]")
    form = page.locator("#case-panel form[data-action=dispatch]")
    advice = form.locator(".advice")
    advice.wait_for(timeout=WAIT_MS)
    assert advice.text_content() == "建议：历下区环境卫生服务中心"
    warning = form.locator(".advice-warning")
    assert warning.is_hidden()  # the category's own department: it handles them

    form.locator("select[name=lead_department]").select_option("enforcement")
    warning.wait_for(timeout=WAIT_MS)
    assert warning.text_content() == (
        "该部门近180天回退此类案件 3 次（100%），请确认后再派遣，或改选建议的部门"
    )
    form.locator("select[name=lead_department]").select_option("sanitation_lx")
    warning.wait_for(state="hidden", timeout=WAIT_MS)
