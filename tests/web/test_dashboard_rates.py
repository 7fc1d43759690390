"""The dashboard's rates and reports in Chromium, on a clone of the demo city assessed by Pingshan's three
rates: the streets' and departments' rankings (投诉率 where the population is known, "—" with the reason
where it is not, 无案件 apart), the citizens' ratings, working days with the fastest case and the returns
per department show the values the API computes."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from server.case.demo import load_demo_cases
from server.database import new_session
from server.public.models import PublicRating
from server.users.demo import DISTRICT
from tests.server.live import live_server
from tests.web.conftest import logged_in
from tests.web.test_dashboard import open_dashboard, shown, table_rows
from tests.web.test_desk import LEADER
from tests.web.test_map import SCREENSHOTS

# The columns the page shows for each table, as (field, kind) in order (dashboard.js).
RATES = [("rank", None), ("name", None), ("received", None), ("complaints", None), ("population", None),
         ("complaint_rate", "per10k"), ("completion_rate", "rate"), ("satisfaction_rate", "rate"),
         ("score", "score"), ("grade", None)]  # fmt: skip
RATINGS = [("name", None), ("ratings", None), ("mean_stars", "stars"), ("low_share", "rate")]
WORKING_DAYS = [("name", None), ("closed", None), ("mean_working_days", "days"), ("fastest_code", None),
                ("fastest_category", None), ("fastest_working_days", "days")]  # fmt: skip
RETURNS = [("name", None), ("dispatched", None), ("returned", None), ("return_rate", "rate")]


def shown_as(row: dict, columns) -> list[str]:
    """A row's cells as the page writes them."""
    out = []
    for field, kind in columns:
        value = row[field]
        if field == "rank" and value is None:
            out.append("无案件")
        elif value is None:
            out.append("—")
        elif kind == "rate":
            out.append(f"{value * 100:.1f}%")
        elif kind == "score":
            out.append(f"{value:.1f}")
        elif kind == "per10k":
            out.append(f"{value:.2f}")
        elif kind == "stars":
            out.append(f"{value:.2f} ★")
        elif kind == "days":
            out.append(f"{value:.1f}")
        else:
            out.append(str(value))
    return out


@pytest.fixture
def pingshan_server(demo_clone_url, tmp_path):
    """The demo's cases, three of its closed cases rated by their reporters, and a server assessing by
    Pingshan's three rates."""
    with new_session(demo_clone_url) as db:
        load_demo_cases(db=db)
        closed = db.execute(
            text("SELECT id, closed_at FROM case_file WHERE state = 'closed' ORDER BY id")
        ).all()
        assert len(closed) >= 2
        for (case_id, at), stars in zip(closed, ((5, 5, 5, 4), (2, 1, 2, 2), (4, 4, 3, 4)), strict=False):
            db.add(PublicRating(case_id=case_id, speed=stars[0], result=stars[1], attitude=stars[2],
                                system=stars[3], rated_at=at))  # fmt: skip
        db.commit()
    with live_server(demo_clone_url, tmp_path / "server.log", GRIDOPS_STATS_RATES="pingshan") as server:
        yield server


def test_dashboard_shows_the_rates_ratings_working_days_and_returns(pingshan_server, tab):
    url = pingshan_server.url
    with logged_in(url, LEADER) as leader:
        before = leader.get("/api/stats/dashboard", params={"grid": DISTRICT}).json()
    street = next(s for s in before["rates_streets"] if s["received"])
    with logged_in(url, "admin") as admin:
        csv = f"网格编码,常住人口\n{street['code']},42000\n".encode()
        answer = admin.post("/api/grids/population", files={"file": ("人口.csv", csv, "text/csv")})
        assert answer.status_code == 200, answer.text
    with logged_in(url, LEADER) as leader:
        data = leader.get("/api/stats/dashboard", params={"grid": DISTRICT}).json()
    assert data["rates_form"] == "pingshan"
    known = next(s for s in data["rates_streets"] if s["code"] == street["code"])
    assert known["population"] == 42_000 and known["complaint_rate"] == pytest.approx(
        10_000 * known["complaints"] / 42_000
    )

    page = tab.page
    open_dashboard(page, url)
    shown(page, "370100")
    page.click(f"#dashboard-view [data-table=districts] tr[data-code='{DISTRICT}']")
    shown(page, DISTRICT)
    assert "投诉率、办结率、满意率" in page.text_content("#dashboard-view .dash-form")

    for name, columns in (
        ("rates_streets", RATES),
        ("rates_departments", RATES),
        ("ratings_departments", RATINGS),
        ("ratings_categories", RATINGS),
        ("ratings_streets", RATINGS),
        ("working_days_streets", WORKING_DAYS),
        ("working_days_departments", WORKING_DAYS),
        ("returns", RETURNS),
    ):
        assert data[name], name  # the demo has something to show in each
        assert table_rows(page, name) == [shown_as(row, columns) for row in data[name]], name

    # streets without cases are listed last as 无案件; a missing population is said, never shown as 0
    ranks = [row[0] for row in table_rows(page, "rates_streets")]
    assert "无案件" in ranks and ranks.index("无案件") == sum(1 for r in ranks if r != "无案件")
    note = page.text_content("#dashboard-view [data-table=rates_streets] .dash-note")
    assert "没有登记常住人口" in note
    page.locator("#dashboard-view [data-table=rates_streets]").screenshot(
        path=SCREENSHOTS / "dashboard-rates.png"
    )
    assert tab.errors == []
