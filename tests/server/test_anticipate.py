"""The forecasts and the detection of unusual counts (server/anticipate): the model on series drawn here from
known rates (interval coverage, last year's season, the days off of the calendar), the surge and persistent
tests on planted cells, and on a short synthetic history in the database the forecasts' refresh, their route
(who may call it, whose areas it shows, its limits) and the backtest and the warnings' measurement."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import func, select

from server.anticipate import backtest, detect, evaluate, forecast
from server.anticipate.detect import SURGE_LEVELS, Rules, persistent, surges
from server.anticipate.model import HOLIDAY, WEEKEND, WORK, Model
from server.anticipate.models import Forecast
from server.anticipate.series import Series
from server.anticipate.signals import PERSISTENT, SURGE, Signal
from server.auth.passwords import DEMO_PASSWORD
from server.auth.schemas import UserCreate
from server.case import history
from server.case.models import DemoHistory
from server.category.models import Category, Department
from server.database import new_session
from server.grid.models import CURRENT, Grid, GridAssignment, today
from server.patrol.models import PatrolTask
from server.proactive import daily
from server.users import service as users
from server.users.demo import DISTRICT
from server.warning import service as warning_service
from server.warning.models import Warning
from tests.conftest import ADMIN_TOKEN, api_client, demo_clone
from tests.server.test_cli import CHINESE

MONDAY = date(2024, 1, 1)
RULES = Rules(false_alarm_rate=0.001, min_count=5, persistent_weeks=12, persistent_ratio=2.0)


def make_series(counts: np.ndarray, areas: int, categories: int) -> Series:
    """A series of ``areas`` x ``categories`` cells (cell ``a * categories + c``) from ``MONDAY``."""
    cells = [(a, c) for a in range(areas) for c in range(categories)]
    assert counts.shape[0] == len(cells)
    return Series(
        level="village",
        first=MONDAY,
        counts=counts.astype(np.int64),
        area_code=[f"V{a:03d}" for a, _ in cells],
        area_name=[f"社区{a}" for a, _ in cells],
        area_path=[f"1.2.3.V{a:03d}" for a, _ in cells],
        category_id=[c + 1 for _, c in cells],
        category_code=[f"E0000{c}" for _, c in cells],
        category_name=[f"类别{c}" for _, c in cells],
        category=np.array([c for _, c in cells], dtype=np.int64),
        area=np.array([a for a, _ in cells], dtype=np.int64),
        categories=list(range(1, categories + 1)),
        areas=[f"V{a:03d}" for a in range(areas)],
    )


def weekend_kinds(days: int) -> np.ndarray:
    return np.array([WEEKEND if (MONDAY + timedelta(days=d)).weekday() >= 5 else WORK for d in range(days)])


# -- the model on known rates ----------------------------------------------------------------------------


def test_intervals_cover_about_their_level():
    """Three Poisson categories and three negative binomial ones (a gamma factor per cell-week, alpha 0.2):
    the 80% intervals of next week hold about 80% of the weeks drawn, the overdispersed categories get the
    wider spread, and the expectation is close to the true rate."""
    rng = np.random.default_rng(1)
    areas, days, k = 60, 420, 6
    alphas = [0, 0, 0, 0.2, 0.2, 0.2]
    scale = rng.uniform(0.5, 3.0, areas)
    rate = np.repeat(scale, k) * np.tile([1.0, 2.0, 0.5] * 2, areas)  # reports per day
    weekly = np.ones((k * areas, days // 7))
    for c in (3, 4, 5):
        weekly[c::k] = rng.gamma(1 / alphas[c], alphas[c], (areas, days // 7))
    mean = rate[:, None] * np.repeat(weekly, 7, axis=1)
    m = Model(make_series(rng.poisson(mean), areas, k), weekend_kinds(days))
    hits, errors = {c: [] for c in range(k)}, []
    for t in range(371, days - 6, 7):
        exp = m.expect(t, t, t + 7)
        low, high = exp.interval(0.8)
        y = m.observed(t, t + 7)
        for c in range(k):
            sel = m.s.category == c
            hits[c] += list((y[sel] >= low[sel]) & (y[sel] <= high[sel]))
        errors += list(np.abs(exp.mu - 7 * rate) / (7 * rate))
    coverage = {c: float(np.mean(h)) for c, h in hits.items()}
    assert 0.78 <= np.mean(list(coverage.values())) <= 0.9, coverage
    # each category within reach of its level (the spread is pooled across categories: see the report)
    assert all(0.72 <= v <= 0.96 for v in coverage.values()), coverage
    assert np.median(errors) < 0.1, np.median(errors)
    alpha = m.alpha(days - 7, 7)
    assert alpha[3:].min() > alpha[:3].max() and 0.08 < alpha[3:].mean() < 0.3, alpha


def test_season_comes_from_last_year():
    """A category three times as frequent from day 200 to 234 of every year: a week into that season the
    model expects three times the recent weeks' rate (more than twice at its first day, last year's padding
    days before it included), and no season where last year was flat."""
    rng = np.random.default_rng(2)
    areas, days = 100, 364 + 240
    day = np.arange(days)
    season = np.where((day % 364 >= 200) & (day % 364 < 235), 3.0, 1.0)
    m = Model(make_series(rng.poisson(np.ones((areas, 1)) * season), areas, 1), np.zeros(days, dtype=int))
    week = areas * 7  # a week's reports out of season

    def expected(t: int) -> float:
        return m.totals_expected(t, t, t + 7)[0] / week

    assert expected(364 + 207) == pytest.approx(3.0, rel=0.1)
    assert 2.0 < expected(364 + 200) < 3.0
    assert expected(364 + 130) == pytest.approx(1.0, rel=0.1)


def test_days_off_follow_the_calendar():
    """Category 0 (inspectors' reports) gets 0.3 of a working day's reports on days off, category 1
    (citizens') 1.6: both factors come out of the counts, and a week of holidays is expected accordingly."""
    rng = np.random.default_rng(3)
    areas, days = 50, 364 + 130
    kinds = weekend_kinds(days)
    for start in (100, 250, 364 + 100):  # three weeks off (国庆-like), the last one a year after the first
        kinds[start : start + 7] = HOLIDAY
    off = np.array([0.3, 1.6])
    factor = np.where(kinds[None, :] == WORK, 1.0, off[:, None])  # categories x days
    mean = np.tile(factor, (areas, 1)) * 2.0
    m = Model(make_series(rng.poisson(mean), areas, 2), kinds)
    t = 364 + 100  # a Monday: the week off starts
    f = m.factors(t)
    for c in (0, 1):
        assert f[c, WEEKEND] == pytest.approx(off[c], rel=0.12), f
        assert f[c, HOLIDAY] == pytest.approx(off[c], rel=0.2), f
    week_off = m.totals_expected(t, t, t + 7)
    ordinary = m.totals_expected(t, t + 7, t + 14)
    for c in (0, 1):
        want = 7 * off[c] / (5 + 2 * off[c])
        assert week_off[c] / ordinary[c] == pytest.approx(want, rel=0.15), (c, week_off, ordinary)


def test_model_beats_last_week_on_a_steady_series():
    """On steady Poisson cells the backtest's table holds each baseline, and the model's error is below
    last week's (which carries a whole week's noise) and its coverage near its level."""
    rng = np.random.default_rng(4)
    areas, days = 40, 140
    m = Model(make_series(rng.poisson(np.full((areas * 2, days), 0.8)), areas, 2), weekend_kinds(days + 40))
    result = backtest.run({"village": m}, interval=0.8)
    week = {method: result.overall[("village", "week", method)] for method in ("model", "last", "mean4")}
    assert week["model"].mae < week["last"].mae and week["model"].mae <= week["mean4"].mae * 1.02
    assert 0.75 <= week["model"].coverage <= 0.97
    assert ("village", "week", "last_year") not in result.overall  # less than a year: no such baseline


# -- detection on planted cells -----------------------------------------------------------------------------

SURGED, NEIGHBOUR, HOT, RARE = (0, 0), (1, 0), (2, 0), (7, 2)  # (area, category)


@pytest.fixture(scope="module")
def planted() -> tuple[Model, int]:
    """30 areas x 3 categories for 400 days (one report a day per cell, category 2 one in 50 days); area 2's
    category 0 four times as frequent throughout; in the last week area 0's category 0 four times its rate
    and four reports of the rare category in area 7."""
    rng = np.random.default_rng(5)
    areas, days = 30, 400
    rate = np.tile([1.0, 1.0, 0.02], areas)
    mean = np.repeat(rate[:, None], days, axis=1)
    cell = {key: key[0] * 3 + key[1] for key in (SURGED, NEIGHBOUR, HOT, RARE)}
    mean[cell[HOT]] *= 4
    t = 392  # a Monday; the last week is [392, 399)
    mean[cell[SURGED], t : t + 7] *= 4
    counts = rng.poisson(mean)
    counts[cell[RARE], t : t + 7] = [1, 0, 1, 0, 1, 1, 0]
    return Model(make_series(counts, areas, 3), weekend_kinds(days)), t


def cells(signals) -> set[tuple[int, int]]:
    return {(int(s.area_code[1:]), s.category_id - 1) for s in signals}


def test_a_planted_surge_is_flagged_and_its_neighbour_is_not(planted):
    m, t = planted
    found = surges(m, t, RULES)
    assert SURGED in cells(found) and NEIGHBOUR not in cells(found)
    assert len(found) <= 2, [s.message for s in found]
    signal = next(s for s in found if cells([s]) == {SURGED})
    assert signal.kind == "surge" and signal.observed >= 3 * signal.expected and signal.p_value < 0.001
    assert signal.period_start == MONDAY + timedelta(days=t) and CHINESE.search(signal.message)


def test_a_long_standing_hot_spot_is_persistent_not_a_surge_every_week(planted):
    m, t = planted
    found = persistent(m, t, RULES)
    assert HOT in cells(found) and SURGED not in cells(found)
    assert {s.kind for s in found} == {"persistent"}
    weeks = range(t - 7 * 20, t + 1, 7)
    surging = sum(HOT in cells(surges(m, w, RULES)) for w in weeks)
    assert surging <= 1, surging


def test_below_the_minimum_count_nothing_fires(planted):
    """Four reports of a category seen once in 50 days are unlikely, but under the minimum of five."""
    m, t = planted
    assert RARE not in cells(surges(m, t, RULES))
    fewer = Rules(RULES.false_alarm_rate, 4, RULES.persistent_weeks, RULES.persistent_ratio)
    assert RARE in cells(surges(m, t, fewer))


# -- on a short synthetic history ----------------------------------------------------------------------

NOW = datetime(2026, 10, 24, 20, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
DAYS = 77


@pytest.fixture(scope="module")
def city(pg_cluster, demo_engine, owner_url):
    """A clone of the demo city with a 77-day history and the forecasts refreshed from its last day; the
    application's session on it and an API client."""
    with demo_clone(pg_cluster, demo_engine, prefix="anticipate") as url:
        with new_session(owner_url(url)) as owner:
            made = history.generate(db=owner, days=DAYS, seed=11, now=NOW)
        with new_session(url) as db, api_client(db) as client:
            runs = forecast.refresh(db, cutoff=made.last_day)
            yield {"db": db, "client": client, "made": made, "runs": runs}


def headers(client, phone: str) -> dict[str, str]:
    body = {"login": phone, "password": DEMO_PASSWORD, "device_id": f"anticipate-{phone}"}
    resp = client.post("/api/auth/login", json=body)
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
LEADER, STREET_HEAD, INSPECTOR = "13800000001", "13800000003", "13900000001"


def test_refresh_writes_both_horizons_per_level(city):
    db, made = city["db"], city["made"]
    assert [(r.horizon, r.cutoff) for r in city["runs"]] == [(h, made.last_day) for h in ("week", "month")]
    week, month = city["runs"]
    assert week.period_start == date(2026, 10, 26) and week.period_end == date(2026, 11, 1)
    assert month.period_start == date(2026, 11, 1) and month.period_end == date(2026, 11, 30)
    rows = db.execute(
        select(Forecast.horizon, Forecast.level, func.count(), func.sum(Forecast.expected))
        .group_by(Forecast.horizon, Forecast.level)
    ).all()  # fmt: skip
    counts = {(h, lv): (n, total) for h, lv, n, total in rows}
    assert set(counts) == {(h, lv) for h in ("week", "month") for lv in SURGE_LEVELS}
    # every level adds up to the same district: the expected totals agree, and a week is about the last one
    for h in ("week", "month"):
        totals = [counts[(h, lv)][1] for lv in SURGE_LEVELS]
        assert max(totals) / min(totals) < 1.1, totals
    last_week = db.scalar(
        select(func.sum(Forecast.last_observed)).where(
            Forecast.horizon == "week", Forecast.level == "district"
        )
    )
    assert 0.6 < counts[("week", "district")][1] / last_week < 1.6
    bad = db.scalar(select(func.count()).where(Forecast.low > Forecast.expected + 1))
    assert bad == 0


def test_route_who_may_call(city):
    client = city["client"]
    assert client.get("/api/forecasts").status_code == 401
    refused = client.get("/api/forecasts", headers=headers(client, INSPECTOR))
    assert refused.status_code == 403 and CHINESE.search(refused.json()["detail"])


def test_route_lists_most_expected_first(city):
    client = city["client"]
    body = client.get("/api/forecasts", params={"limit": 500}, headers=headers(client, LEADER)).json()
    assert body["made_at"] is not None and body["cutoff"] == city["made"].last_day.isoformat()
    assert body["period_start"] == "2026-10-26" and body["interval"] == 0.8
    items = body["items"]
    assert len(items) == 500
    assert [i["expected"] for i in items] == sorted((i["expected"] for i in items), reverse=True)
    assert all(i["low"] <= i["high"] and CHINESE.search(i["area_name"]) for i in items)
    top = items[0]["category_code"]
    only = client.get("/api/forecasts", params={"category": top, "horizon": "month"}, headers=ADMIN).json()
    assert only["items"] and {i["category_code"] for i in only["items"]} == {top}
    assert only["period_start"] == "2026-11-01"


def test_route_shows_only_the_scope(city):
    """A street's grid head sees the areas within their street, and nothing of another street."""
    db, client = city["db"], city["client"]
    streets = list(
        db.scalars(select(Grid).where(CURRENT, Grid.parent_code == DISTRICT).order_by(Grid.code).limit(2))
    )
    mine, other = streets
    head = headers(client, STREET_HEAD)
    own = client.get("/api/forecasts", params={"limit": 500}, headers=head).json()["items"]
    everyone = client.get("/api/forecasts", params={"limit": 500}, headers=ADMIN).json()["items"]
    assert own and all(i["area_code"].startswith(mine.code) for i in own)
    assert any(not i["area_code"].startswith(mine.code) for i in everyone)
    by_street = client.get("/api/forecasts", params={"level": "street"}, headers=head).json()["items"]
    assert [i["area_code"] for i in by_street] == [mine.code] * len(by_street) and by_street
    district = client.get("/api/forecasts", params={"level": "district"}, headers=head).json()
    assert district["items"] == [] and district["made_at"] is not None  # the district is not within it
    outside = client.get("/api/forecasts", params={"grid": other.code}, headers=head)
    assert outside.status_code == 403 and other.code in outside.json()["detail"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"horizon": "year"}, "horizon"),
        ({"level": "unit"}, "level"),
        ({"category": "垃圾"}, "category"),
    ],
)
def test_route_refuses_out_of_bounds(city, params, field):
    resp = city["client"].get("/api/forecasts", params=params, headers=ADMIN)
    assert resp.status_code == 422
    body = resp.json()
    assert [e["loc"][-1] for e in body["errors"]] == [field]
    assert CHINESE.search(body["detail"]) and field not in body["detail"]


def test_route_refuses_an_unknown_category(city):
    resp = city["client"].get("/api/forecasts", params={"category": "E99999"}, headers=ADMIN)
    assert resp.status_code == 422 and resp.json()["code"] == "forecast.unknown_category"
    assert "E99999" in resp.json()["detail"] and "类别" in resp.json()["detail"]


def test_route_before_any_forecast(demo_client):
    body = demo_client.get("/api/forecasts", headers=ADMIN).json()
    assert body["items"] == [] and body["made_at"] is None and body["cutoff"] is None


def test_backtest_and_evaluation_on_the_history(city):
    db, made = city["db"], city["made"]
    models = {
        lv: forecast.model_for(db, lv, made.first_day, made.last_day, made.last_day) for lv in SURGE_LEVELS
    }
    result = backtest.run(models, interval=0.8)
    for level in SURGE_LEVELS:
        for method in ("model", "last", "mean4"):
            s = result.overall[(level, "week", method)]
            assert s.n > 0 and s.periods >= 2
            assert all(math.isfinite(v) for v in (s.mae, s.model_mae))
            assert s.mae >= 0 and 0 <= s.coverage <= 1 and 0 <= s.model_coverage <= 1
    village = result.overall[("village", "week", "last")]
    assert village.model_mae < village.mae  # a week of a community's counts is mostly noise
    assert set(result.category_names) and all(CHINESE.search(n) for n in result.category_names.values())

    outcome = evaluate.run(db)
    assert outcome.weeks >= 2 and outcome.first_week.weekday() == 0
    truth = db.scalar(select(DemoHistory.truth).order_by(DemoHistory.id.desc()).limit(1))
    assert len(outcome.surges) == len(truth["surges"]) and len(outcome.hot_spots) == len(truth["hot_spots"])
    tried = evaluate.methods(outcome.rules)
    assert set(tried) >= {f"model:{r:g}" for r in evaluate.RATES} | {"ratio"}
    for method in tried:
        assert 0 <= outcome.per_week(method) < 50
    # the old ratio rule raises more false alarms than the test of the expectation at the setting's rate,
    # and a lower rate never raises more than a higher one
    assert outcome.per_week(f"model:{outcome.rules.false_alarm_rate:g}") <= outcome.per_week("ratio")
    rates = [outcome.per_week(f"model:{r:g}") for r in evaluate.RATES]
    assert rates == sorted(rates)


def test_route_shows_a_department_its_categories(city):
    """A department user sees the whole city's areas, only in the categories its department handles."""
    db, client = city["db"], city["client"]
    department = db.scalar(
        select(Department)
        .join(Category, Category.department_id == Department.id)
        .join(Forecast, Forecast.category_id == Category.id)
        .order_by(Department.code)
        .limit(1)
    )
    ours = set(db.scalars(select(Category.code).where(Category.department_id == department.id)))
    phone = "13700000077"
    data = UserCreate(
        name="部门人员",
        phone=phone,
        roles=["department"],
        department_code=department.code,
        password=DEMO_PASSWORD,
    )
    users.create_user(db=db, data=data)
    db.commit()
    mine = client.get("/api/forecasts", params={"limit": 500}, headers=headers(client, phone))
    items = mine.json()["items"]
    everyone = client.get("/api/forecasts", params={"limit": 500}, headers=ADMIN).json()["items"]
    assert items and {i["category_code"] for i in items} <= ours
    assert {i["category_code"] for i in everyone} - ours


def test_the_days_run_forecasts_warns_and_sends_inspectors_once(city):
    """The day's anticipation (the server's daily job, ``gridops forecast daily``): the forecasts from the
    days up to its day, the warnings of the week so far, and the rule's patrol tasks: the open warning of a
    community with an inspector sends that inspector there; run again, it adds nothing."""
    db, made = city["db"], city["made"]
    through = made.last_day
    monday = daily.week_of(through)
    assert monday.weekday() == 0 and monday <= through < monday + timedelta(days=7)
    # a running week is scanned up to its last day, the persistent test on the whole weeks before it
    running = detect.scan(db, monday, through)
    assert all(
        s.period_end == (through if s.kind == SURGE else monday - timedelta(days=1)) for s in running
    ), running
    # a community where an inspector patrols, with a warning open there
    village, inspector = db.execute(
        select(Grid, GridAssignment.user_id)
        .join(GridAssignment, GridAssignment.grid_code == Grid.code)
        .where(CURRENT, Grid.level == "village", GridAssignment.role == "inspector")
        .where(GridAssignment.ends_on.is_(None))
        .order_by(Grid.code)
        .limit(1)
    ).one()  # fmt: skip
    category = db.scalar(select(Category).where(Category.code == "E03006"))
    signal = Signal(
        kind=PERSISTENT, level="village", area_code=village.code, area_name=village.name,
        category_id=category.id, category_code=category.code, category_name=category.name,
        period_start=through - timedelta(days=83), period_end=through, observed=40, expected=8.0,
        p_value=1e-6, message=f"{village.name} {category.name} 近12周 40 件，属长期高频",
    )  # fmt: skip
    (warning,) = warning_service.raise_signals(db, [signal])

    day = daily.run(db, through=through, force=True)
    assert [(r.horizon, r.cutoff) for r in day.forecasts] == [("week", through), ("month", through)]
    assert day.signals == len(running)
    assert day.tasks >= 1
    task = db.scalar(
        select(PatrolTask)
        .join(Grid, (Grid.code == PatrolTask.grid_code) & CURRENT)
        .where(PatrolTask.source == "warning", Grid.path.op("<@")(village.path))
    )
    staffed = select(GridAssignment.user_id).where(
        GridAssignment.role == "inspector", GridAssignment.grid_code == village.code
    )
    assert task is not None and task.assigned_by is None
    assert inspector in set(db.scalars(staffed)) and task.assignee_id in set(db.scalars(staffed))
    assert task.category_id == category.id and task.starts_on == today() and task.state == "open"
    assert task.reason.startswith(signal.message) and "请到现场巡查" in task.reason
    tasks_made = db.scalar(select(func.count()).select_from(PatrolTask))
    open_warnings = db.scalar(select(func.count()).select_from(Warning))

    assert daily.run(db, through=through) is None  # done for this day
    again = daily.run(db, through=through, force=True)
    assert again.warnings_new == 0 and again.tasks == 0  # the same findings: nothing new, no second task
    assert db.scalar(select(func.count()).select_from(PatrolTask)) == tasks_made
    assert db.scalar(select(func.count()).select_from(Warning)) == open_warnings
    db.refresh(warning)
    assert warning.resignalled == 0
