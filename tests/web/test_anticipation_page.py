"""The command center with a history, in Chromium: a demo city with 120 days of synthetic cases up to now,
after the day's anticipation (forecasts, warnings, proactive patrol tasks) and a weekly report. A leader's
dashboard shows the forecast's communities (next week, then next month), the open warnings, the report
and the street table of 未诉先办; the report opens with its sections. Its pictures are the README's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from server.anticipate.models import Forecast
from server.case import history
from server.database import get_engine, new_session
from server.proactive import daily
from server.report import service as reports
from server.stats import service as stats_service
from server.warning.models import Warning
from tests.conftest import demo_clone
from tests.server.live import live_server
from tests.web.test_dashboard import open_dashboard, shown
from tests.web.test_map import SCREENSHOTS, WAIT_MS

DAYS = 120


@pytest.fixture(scope="module")
def city_with_history(pg_cluster, demo_engine, owner_url, tmp_path_factory) -> Iterator[dict]:
    with demo_clone(pg_cluster, demo_engine, prefix="history_page") as url:
        with new_session(owner_url(url)) as owner:
            history.generate(db=owner, days=DAYS, seed=19, now=datetime.now(UTC))
            stats_service.rebuild(db=owner)
        with new_session(url) as db:
            day = daily.run(db)
            week = reports.make_now(db, "week", reports.area(db, "370102"), None)
            facts = {
                "warnings": db.scalar(select(func.count()).select_from(Warning)),
                "forecasts": db.scalar(select(func.count()).select_from(Forecast)),
                "report": (week.id, reports.name(week)),
                "day": day,
            }
        get_engine(url).dispose()
        with live_server(url, tmp_path_factory.mktemp("history") / "server.log") as server:
            yield {"url": server.url, **facts}


def test_the_dashboard_of_a_city_with_a_history(city_with_history, tab):
    city = city_with_history
    assert city["day"] is not None and city["warnings"] > 0 and city["forecasts"] > 0
    page = tab.page
    open_dashboard(page, city["url"])
    shown(page, "370100")

    rows = page.locator("#dashboard-view .dash-forecast tbody tr")
    rows.first.wait_for(timeout=WAIT_MS)
    heading = page.locator("#dashboard-view .dash-forecast h3").text_content()
    assert heading.startswith("预测（") and 1 <= rows.count() <= 10
    expected = [float(rows.nth(i).locator("td").nth(2).text_content()) for i in range(rows.count())]
    assert expected == sorted(expected, reverse=True) and expected[0] > 0
    page.locator("#dashboard-view .dash-forecast").screenshot(path=SCREENSHOTS / "dashboard-forecast.png")
    page.select_option("#dashboard-view .dash-forecast select", "month")
    page.wait_for_function(  # the panel drawn again, for the month: its heading names the month's days
        "(week) => { const h = document.querySelector('#dashboard-view .dash-forecast h3');"
        " return h.textContent !== week && h.querySelector('select').value === 'month'"
        " && document.querySelectorAll('#dashboard-view .dash-forecast tbody tr').length > 0; }",
        arg=heading,
        timeout=WAIT_MS,
    )
    month = float(page.locator("#dashboard-view .dash-forecast tbody tr td").nth(2).text_content())
    assert month > expected[0]  # a month holds more than a week

    page.locator("#dashboard-view .dash-warnings .warning-item").first.wait_for(timeout=WAIT_MS)
    report_id, title = city["report"]
    page.locator(f"#dashboard-view .dash-reports li[data-report='{report_id}']").wait_for(timeout=WAIT_MS)
    proactive = page.locator("#dashboard-view .dash-table[data-table=proactive_streets] tbody tr")
    proactive.first.wait_for(timeout=WAIT_MS)
    page.locator("#dashboard-view .dash-table[data-table=proactive_streets]").screenshot(
        path=SCREENSHOTS / "dashboard-proactive.png"
    )
    page.screenshot(path=SCREENSHOTS / "dashboard-history.png", full_page=True)

    with page.expect_popup(timeout=WAIT_MS) as opened:
        page.locator(f"#dashboard-view .dash-reports li[data-report='{report_id}']").get_by_role(
            "button", name="网页"
        ).click()
    document = opened.value
    document.wait_for_load_state()
    assert document.title() == title
    body = document.text_content("body")
    for section in ("受理与办结概况", "预警", "预测"):
        assert section in body, section
    document.set_viewport_size({"width": 900, "height": 1400})
    document.screenshot(path=SCREENSHOTS / "report-week.png")
    assert tab.errors == []
