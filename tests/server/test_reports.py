"""The reports (日报 / 周报 / 月报, server/report): made from the dashboard's figures over a short synthetic
history, as HTML and as a PDF whose Chinese text reads back; made once on schedule however many sessions
try; listed and downloaded within the caller's grids; made on demand by leaders, shift leads, admins."""

from __future__ import annotations

import io
import os
import re
from datetime import date, datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pypdf
import pytest
from sqlalchemy import func, select, text

from server.anticipate.models import Forecast
from server.anticipate.signals import Signal
from server.auth.passwords import DEMO_PASSWORD
from server.case import history
from server.category.models import Category
from server.database import new_session
from server.grid.models import CURRENT, Grid
from server.grid.population import load_demo_populations
from server.report import document, service
from server.report.models import Report
from server.stats import service as stats_service
from server.stats.request import Request
from server.users.demo import DISTRICT
from server.warning import service as warning_service
from tests.conftest import api_client, demo_clone
from tests.server.test_cli import gridops

NOW = datetime(2026, 10, 24, 20, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
DAYS = 30  # from 2026-09-25
WEEK = date(2026, 10, 14)  # in the week 10-12 .. 10-18, the week before it wholly in the history too


@pytest.fixture(scope="module")
def city(pg_cluster, demo_engine, owner_url):
    """A clone of the demo city with a 30-day history and its summaries; the URL."""
    with demo_clone(pg_cluster, demo_engine, prefix="reports") as url:
        with new_session(owner_url(url)) as db:
            load_demo_populations(db=db, seed=5)
            db.commit()
            history.generate(db=db, days=DAYS, seed=11, now=NOW)
            stats_service.rebuild(db=db)
        yield url


@pytest.fixture
def db(city):
    """A session on the clone; the reports it made are removed afterwards."""
    with new_session(city) as session:
        yield session
        session.rollback()
        session.execute(text("DELETE FROM report"))
        session.commit()


def root(db) -> Grid:
    return db.scalar(select(Grid).where(CURRENT, Grid.parent_code.is_(None)).order_by(Grid.code))


def grid(db, code: str) -> Grid:
    return db.scalar(select(Grid).where(CURRENT, Grid.code == code))


def plain(html: str) -> str:
    """The document's text without its markup."""
    return re.sub(r"<[^>]+>", "", html)


def test_week_report_has_every_section_with_the_dashboards_figures(db):
    area = grid(db, DISTRICT)
    report = service.make(db, "week", area, WEEK, replace=False)
    assert (report.period_start, report.period_end) == (date(2026, 10, 12), date(2026, 10, 18))
    html = db.scalar(select(Report.html).where(Report.id == report.id))
    board = stats_service.dashboard(
        db=db, request=Request(report.period_start, report.period_end, area, None)
    )
    before = stats_service.dashboard(
        db=db, request=Request(date(2026, 10, 5), date(2026, 10, 11), area, None)
    )
    assert board.totals.received > 100 and before.totals.received > 100  # the history is there
    words = plain(html)

    assert "历下区城市管理周报（2026年10月12日至2026年10月18日）" in words
    for n, heading in enumerate(
        [
            "受理与办结概况",
            "每日受理量走势（与上期对比）",
            "问题类别前十",
            "各街道每万人受理数分布图",
            "三率考核（响应率、解决率、满意率）",
            "街道与部门综合排名",
            "服务质量",
        ],
    ):
        assert f"{document.NUMERALS[n]}、{heading}" in words
    t = board.totals
    assert f"本期共受理案件 {t.received} 件" in words
    assert f"（上期 {before.totals.received} 件）" in words
    assert f"已结案 {t.closed} 件，结案率 {document.pct(t.closure_rate)}" in words
    # by channel: every case once
    channels = document.channels(document.figures(db, "week", area, report.period_start, report.period_end))
    assert sum(n for _, n in channels) == t.received
    assert {name for name, _ in channels} <= {"网格员上报", "热线", "市民上报", "Open311"}
    # each day against the same day of the week before
    for d, p in zip(board.trend_day, before.trend_day, strict=True):
        assert f"{document.day_text(d.date)}{d.received}{d.closed}{p.received}" in words
    for i, c in enumerate(board.categories, 1):
        assert f"{i}{c.name}{c.received}" in words
    # the map: one outline per street of the district, shaded by cases per 10,000 residents
    assert html.count("<path ") == len(board.streets) and "每万人受理数：" in words
    first = next(r for r in board.streets if r.rank == 1)
    assert f"1{first.name}{first.received}{first.due}{first.closed}" in words
    best = next(r for r in board.rates_streets if r.rank == 1)
    assert f"1{best.name}{best.received}{best.called_back}" in words
    assert "<script" not in html and "http" not in words


def test_day_report_shows_hours_and_an_empty_period_says_so(db):
    area = root(db)
    day = service.make(db, "day", area, date(2026, 10, 20), replace=False)
    words = plain(db.scalar(select(Report.html).where(Report.id == day.id)))
    assert "日报（2026年10月20日）" in words and "二、各时段受理量" in words
    empty = service.make(db, "month", area, date(2026, 6, 1), replace=False)  # before the history
    words = plain(db.scalar(select(Report.html).where(Report.id == empty.id)))
    assert "月报（2026年6月）" in words and "本期共受理案件 0 件" in words
    assert "本期没有受理案件" in words


def test_the_pdf_reads_back_in_chinese_with_numbered_pages(db):
    report = service.make(db, "month", grid(db, DISTRICT), date(2026, 10, 1), replace=False)
    data = db.scalar(select(Report.pdf).where(Report.id == report.id))
    assert data.startswith(b"%PDF-")
    pdf = pypdf.PdfReader(io.BytesIO(data))
    pages = [p.extract_text() for p in pdf.pages]
    assert len(pages) >= 2
    assert "历下区城市管理月报（2026年10月）" in re.sub(r"\s+", "", pages[0])
    assert "受理与办结概况" in re.sub(r"\s+", "", pages[0])
    assert f"第{len(pages)}页，共{len(pages)}页" in re.sub(r"\s+", "", pages[-1])


def test_the_schedule_makes_each_due_report_once(db, city, setting):
    day = date(2026, 10, 25)  # a Sunday: yesterday, the week of 10-12, September
    made = service.make_due(db, day)
    assert sorted((r.kind, r.period_start) for r in made) == [
        ("day", date(2026, 10, 24)), ("month", date(2026, 9, 1)), ("week", date(2026, 10, 12))
    ]  # fmt: skip
    assert service.make_due(db, day) == []
    setting("GRIDOPS_REPORT_DISTRICTS", "true")
    districts = db.scalar(
        select(func.count()).select_from(Grid).where(CURRENT, Grid.parent_code == root(db).code)
    )
    assert len(service.make_due(db, day)) == 3 * districts
    assert db.scalar(select(func.count()).select_from(Report)) == 3 * (1 + districts)

    # Another server making the same report holds its lock: this one leaves it; the rows stay one each.
    key = f"report:day:{DISTRICT}:2026-10-20"
    with new_session(city) as other:
        other.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})
        assert service.make(db, "day", grid(db, DISTRICT), date(2026, 10, 20), replace=False) is None
        db.commit()
        other.rollback()
    assert service.make(db, "day", grid(db, DISTRICT), date(2026, 10, 20), replace=False) is not None
    assert service.make(db, "day", grid(db, DISTRICT), date(2026, 10, 20), replace=False) is None
    again = service.make(db, "day", grid(db, DISTRICT), date(2026, 10, 20), replace=True)
    assert (
        db.scalar(
            select(func.count()).select_from(Report).where(Report.kind == "day", Report.grid_code == DISTRICT)
        )
        == 2
    )
    assert again.period_start == date(2026, 10, 20)


def headers(client, phone: str) -> dict[str, str]:
    body = {"login": phone, "password": DEMO_PASSWORD, "device_id": f"reports-{phone}"}
    resp = client.post("/api/auth/login", json=body)
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


LEADER, DISTRICT_HEAD, STREET_HEAD, CENTER, INSPECTOR = (
    "13800000001", "13800000002", "13800000003", "13800000010", "13900000001"
)  # fmt: skip


def test_routes_list_download_and_make_within_the_callers_grids(db):
    street = db.scalar(select(Grid).where(CURRENT, Grid.parent_code == DISTRICT).order_by(Grid.code))
    made = {
        code: service.make(db, "day", grid(db, code), date(2026, 10, 20), replace=False)
        for code in (root(db).code, DISTRICT, street.code)
    }
    with api_client(db) as client:
        leader = headers(client, LEADER)
        listed = client.get("/api/reports", headers=leader).json()
        assert {r["grid_code"] for r in listed} == set(made)
        assert listed[0]["title"].endswith("日报（2026年10月20日）") and listed[0]["kind_name"] == "日报"
        # a grid head sees the reports of areas inside its grids only
        for phone, seen in ((DISTRICT_HEAD, {DISTRICT, street.code}), (STREET_HEAD, {street.code})):
            h = headers(client, phone)
            assert {r["grid_code"] for r in client.get("/api/reports", headers=h).json()} == seen
            assert client.get(f"/api/reports/{made[root(db).code].id}/html", headers=h).status_code == 404
        assert client.get("/api/reports", headers=headers(client, INSPECTOR)).status_code == 403

        report = made[DISTRICT]
        page = client.get(f"/api/reports/{report.id}/html", headers=leader)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "历下区城市管理日报" in page.text
        assert "script-src" not in page.headers["content-security-policy"]
        named = quote("历下区城市管理日报（2026年10月20日）.pdf")
        pdf = client.get(f"/api/reports/{report.id}/pdf", headers=leader)
        assert pdf.content.startswith(b"%PDF-")
        assert pdf.headers["content-disposition"] == (
            f"attachment; filename=\"report-day-{DISTRICT}-2026-10-20.pdf\"; filename*=UTF-8''{named}"
        )

        # made on demand: by a leader, a shift lead, an administrator; a whole period that has ended
        body = {"kind": "week", "period": "2026-10-14", "grid": DISTRICT}
        again = client.post("/api/reports", json=body, headers=headers(client, CENTER))
        assert again.status_code == 200, again.text
        assert (again.json()["period_start"], again.json()["period_end"]) == ("2026-10-12", "2026-10-18")
        refused = client.post("/api/reports", json=body, headers=headers(client, DISTRICT_HEAD))
        assert refused.status_code == 403 and "值班长" in refused.json()["detail"]
        village = db.scalar(select(Grid.code).where(CURRENT, Grid.parent_code == street.code).limit(1))
        for bad, words in (
            ({"kind": "month", "period": date.today().isoformat()}, "还没有结束"),
            ({"kind": "day", "grid": village}, "只按全市、区县或街道生成"),
            ({"kind": "week", "period": "0001-01-01"}, "最早从 2000-01-01 起"),
            ({"kind": "year"}, ""),
            ({"kind": "day", "grid": "37x"}, ""),
        ):
            resp = client.post("/api/reports", json=bad, headers=leader)
            assert resp.status_code == 422 and words in resp.json()["detail"], resp.text
        assert client.get("/api/reports", params={"limit": 101}, headers=leader).status_code == 422
        assert client.get(f"/api/reports/{2**63}/pdf", headers=leader).status_code == 422


def test_the_command_line_makes_and_lists(db, city, owner_url):
    env = {**os.environ, "DATABASE_URL": city, "GRIDOPS_OWNER_DATABASE_URL": owner_url(city)}
    made = gridops("reports", "make", "--kind", "week", "--period", "2026-10-14", "--grid", DISTRICT, env=env)
    assert "已生成：历下区城市管理周报（2026年10月12日至2026年10月18日）" in made.stdout
    assert "生成 PDF" in made.stderr  # the progress
    listed = gridops("reports", "list", env=env)
    assert "历下区城市管理周报" in listed.stdout
    wrong = gridops("reports", "make", "--kind", "year", env=env, check=False)
    assert wrong.returncode != 0 and "日报" in wrong.stderr


def test_warnings_of_the_period_and_next_weeks_forecast_are_reported(db):
    area = grid(db, DISTRICT)
    street = db.scalar(select(Grid).where(CURRENT, Grid.parent_code == DISTRICT).order_by(Grid.code))
    category = db.scalar(select(Category).where(Category.code == "E06010"))
    signal = Signal(
        kind="surge", level="street", area_code=street.code, area_name=street.name, category_id=category.id,
        category_code=category.code, category_name=category.name, period_start=date(2026, 10, 12),
        period_end=date(2026, 10, 18), observed=40, expected=12.5, p_value=1e-6,
        message=f"{street.name}{category.name}本周受理 40 件，远高于预期的 12.5 件",
    )  # fmt: skip
    (warning,) = warning_service.raise_signals(db, [signal])
    warning.raised_at = datetime(2026, 10, 14, 9, 0, tzinfo=NOW.tzinfo)  # raised during the week reported
    db.add(
        Forecast(
            horizon="week", made_at=NOW, cutoff=date(2026, 10, 18), period_start=date(2026, 10, 19),
            period_end=date(2026, 10, 25), level="street", area_code=street.code, area_path=street.path,
            category_id=category.id, expected=31.5, low=22, high=41, last_observed=40,
        )
    )  # fmt: skip
    db.commit()
    week = service.make(db, "week", area, WEEK, replace=False)
    words = plain(db.scalar(select(Report.html).where(Report.id == week.id)))
    assert "八、预警" in words and "本期内有效的预警 1 条，其中本期新提出 1 条" in words
    assert f"突增高频{street.name}{category.name}4012.52026-10-14新预警未发" in words
    assert "九、下周预测" in words and "2026年10月19日至2026年10月25日" in words
    assert f"{street.name}{category.name}31.522–4140" in words
    # a report of a period before the warning and the forecast's data shows neither
    earlier = service.make(db, "week", area, date(2026, 10, 7), replace=False)
    words = plain(db.scalar(select(Report.html).where(Report.id == earlier.id)))
    assert "本期没有预警。" in words and "下周预测" not in words
    db.execute(text("DELETE FROM forecast"))
    db.execute(text("DELETE FROM warning_event"))
    db.execute(text("DELETE FROM warning"))
    db.commit()


def test_the_pdf_maker_leaves_truncated_photos_refused():
    """WeasyPrint sets Pillow's process-wide LOAD_TRUNCATED_IMAGES on import; the report module sets it
    back, so the photo pipeline still refuses a truncated file once a server has made a report."""
    from PIL import ImageFile

    import server.report.document  # noqa: F401 (the import is what is tested)

    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
