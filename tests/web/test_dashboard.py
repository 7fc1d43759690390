"""The dashboard (统计评价) in Debian's Chromium on a clone of the demo city: a leader opens it, drills from
the city into 历下区 and one of its streets, and sees the figures the API computes in the cards, the charts
and the tables; a table's CSV download holds the rows the page shows."""

from __future__ import annotations

import csv
import io

import pytest

from server.auth.passwords import DEMO_PASSWORD
from server.case.demo import load_demo_cases
from server.database import new_session
from server.stats import export as stats_export
from server.users.demo import DISTRICT
from tests.web.conftest import logged_in, street_cases
from tests.web.test_desk import LEADER
from tests.web.test_map import SCREENSHOTS, WAIT_MS

CATEGORIES = ("E06010", "E06010", "E09009", "E06010", "E07001", "E06010")


@pytest.fixture
def cases(web_server, demo_clone_url) -> list[dict]:
    """The demo's cases of the last eight days (every state of the workflow), and six calls in six streets
    of 历下区 of which the operator sends the first for verification and voids the second."""
    with new_session(demo_clone_url) as db:
        load_demo_cases(db=db)
    made = street_cases(web_server.url, CATEGORIES)
    with logged_in(web_server.url, "zhaomin") as operator:
        for case, action, body in (
            (made[0], "request_verification", {}),
            (made[1], "void", {"reason": "重复来电"}),
        ):
            answer = operator.post(
                f"/api/cases/{case['code']}/actions/{action}", json={"version": case["version"], **body}
            )
            assert answer.status_code == 200, answer.text
    return made


def dashboard(server_url: str, grid: str) -> dict:
    with logged_in(server_url, LEADER) as leader:
        answer = leader.get("/api/stats/dashboard", params={"grid": grid})
        assert answer.status_code == 200, answer.text
        return answer.json()


def open_dashboard(page, url: str, login: str = LEADER) -> None:
    """Log in as ``login`` and open the 统计评价 tab."""
    page.goto(f"{url}/")
    page.fill("#login [name=login]", login)
    page.fill("#login [name=password]", DEMO_PASSWORD)
    page.click("#login button")
    page.wait_for_selector("#app", state="visible", timeout=WAIT_MS)
    page.click("#tabs [data-view=dashboard-view]")


def shown(page, grid: str) -> None:
    page.wait_for_selector(f"#dashboard-view[data-grid='{grid}'][data-loaded]", timeout=WAIT_MS)


def card(page, label: str) -> str:
    return page.locator(f"#dashboard-view .card:has(.label:text-is('{label}')) strong").text_content()


def table_rows(page, name: str) -> list[list[str]]:
    return page.eval_on_selector_all(
        f"#dashboard-view [data-table={name}] tbody tr",
        "rows => rows.map((r) => [...r.cells].map((c) => c.textContent))",
    )


def test_dashboard_drills_down_and_exports(web_server, cases, tab):
    page = tab.page
    open_dashboard(page, web_server.url)

    city = dashboard(web_server.url, "370100")
    shown(page, "370100")
    assert card(page, "受理") == str(city["totals"]["received"])
    assert city["totals"]["received"] > len(cases) and city["totals"]["closed"] > 0
    assert card(page, "结案率") == f"{city['totals']['closure_rate'] * 100:.1f}%"
    # the districts' ranking lists 历下区 with all the cases; a click drills into it
    rows = {row[1]: row for row in table_rows(page, "districts")}
    assert rows["历下区"][2] == str(city["totals"]["received"])
    page.click(f"#dashboard-view [data-table=districts] tr[data-code='{DISTRICT}']")
    shown(page, DISTRICT)
    district = dashboard(web_server.url, DISTRICT)
    assert card(page, "受理") == str(district["totals"]["received"])
    assert "历下区" in page.text_content("#dashboard-view .dash-trail")

    # the charts are drawn from the same figures
    charts = page.evaluate(
        "window.gridopsCharts.map((c) => ({type: c.config.type, data: c.data.datasets[0].data}))"
    )
    assert [c["type"] for c in charts] == ["line", "bar", "bar"]
    assert sum(charts[0]["data"]) == district["totals"]["received"]
    assert sum(charts[1]["data"]) == district["totals"]["received"]  # the hours of the day
    assert charts[2]["data"] == [c["received"] for c in district["categories"]]
    page.evaluate("document.getElementById('dashboard-view').scrollTo(0, 0)")
    page.screenshot(path=SCREENSHOTS / "dashboard.png")

    # the categories by major class: the chart counts each case under its top ancestor
    with logged_in(web_server.url, LEADER) as leader:
        majors = leader.get("/api/stats/dashboard", params={"grid": DISTRICT, "category_level": 1}).json()
    assert majors["categories"] and all(len(c["code"]) == 3 for c in majors["categories"])  # E06, E09 ...
    page.select_option("#dashboard-view [name=category_level]", "1")
    page.wait_for_selector("#dashboard-view[data-loaded$='|level1']", timeout=WAIT_MS)
    chart = page.evaluate("window.gridopsCharts[2].data")
    assert chart["labels"] == [c["name"] for c in majors["categories"]]
    assert chart["datasets"][0]["data"] == [c["received"] for c in majors["categories"]]
    page.select_option("#dashboard-view [name=category_level]", "")
    page.wait_for_selector(f"#dashboard-view[data-loaded$='|{district['period']['to']}|']", timeout=WAIT_MS)

    # the streets' table as the API ranks it, and its CSV download holds the same rows
    streets = table_rows(page, "streets")
    assert [row[1] for row in streets] == [s["name"] for s in district["streets"]]
    with page.expect_download() as download:
        page.click("#dashboard-view [data-csv=streets]")
    text = download.value.path().read_text(encoding="utf-8-sig")
    exported = list(csv.DictReader(io.StringIO(text)))
    headers = stats_export.HEADERS  # the columns are headed in words
    assert [row[headers["name"]] for row in exported] == [row[1] for row in streets]
    assert [row[headers["received"]] for row in exported] == [row[2] for row in streets]
    assert download.value.suggested_filename.startswith("街道排名-")

    # drill into the street of the first case: its figures replace the district's
    street = next(s for s in district["streets"] if s["received"])
    page.click(f"#dashboard-view [data-table=streets] tr[data-code='{street['code']}']")
    shown(page, street["code"])
    assert card(page, "受理") == str(street["received"])
    assert card(page, "受理") != str(district["totals"]["received"])

    # this month: the period of the monthly rankings, with the three rates of the streets
    page.click("#dashboard-view .dash-filters .month")
    page.wait_for_function(
        "document.querySelector('#dashboard-view [name=from]').value.endsWith('-01')", timeout=WAIT_MS
    )
    page.wait_for_selector("#dashboard-view[data-loaded] [data-table=three_rates_streets]", timeout=WAIT_MS)

    assert tab.errors == []
    assert tab.hosts() == {"127.0.0.1"}
