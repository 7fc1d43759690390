"""The three rates in both forms (Beijing's and Pingshan's), street and department rankings by them, the
citizens' ratings, working days per closed case and the fastest case, returns per department: every figure
against a direct computation over the raw cases, events and ratings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from server import messages
from server.auth.principal import ADMINISTRATOR
from server.case.clock import calendar
from server.grid.models import CURRENT, Grid
from server.grid.population import import_populations
from server.public.models import PublicRating
from server.stats import export as stats_export
from server.stats import request as stats_request
from server.stats import service as stats
from tests.server.case_world import DISTRICT, act, make_user
from tests.server.test_three_rates import closed_call, villages_of_two_streets


@pytest.fixture
def world(demo_db):
    db = demo_db
    people = {
        "acceptor": make_user(db, ["acceptor"], grid=DISTRICT),
        "lead": make_user(db, ["shift_lead"], grid=DISTRICT),
        "dispatcher": make_user(db, ["dispatcher"], grid=DISTRICT),
        "department": make_user(db, ["department"], department="sanitation_lx"),
    }
    villages = villages_of_two_streets(db)
    inspectors = [make_user(db, ["inspector"], inspects=v) for v in villages]
    acceptor = people["acceptor"]
    a = [closed_call(db, people, villages[0], inspectors[0]) for _ in range(3)]
    b = [closed_call(db, people, villages[1], inspectors[1]) for _ in range(2)]
    act(db, acceptor, a[0], "callback", contacted=True, solved=True, satisfaction="satisfied")
    act(db, acceptor, a[1], "callback", contacted=True, solved=False, satisfaction="basically_satisfied")
    act(db, acceptor, a[2], "callback", contacted=False)
    act(db, acceptor, b[0], "callback", contacted=True, solved=True, satisfaction="satisfied")
    # one of them is a request for help, not a complaint (投诉率 counts complaints only)
    db.execute(text("UPDATE case_file SET request_type = 'help' WHERE id = :id"), {"id": b[1].id})
    for case, stars in ((a[0], (5, 5, 4, 5)), (a[1], (1, 2, 2, 1)), (b[0], (3, 3, 3, 3))):
        db.add(PublicRating(case_id=case.id, speed=stars[0], result=stars[1], attitude=stars[2],
                            system=stars[3], rated_at=case.closed_at))  # fmt: skip
    db.flush()
    streets = [v[:9] for v in villages]
    return db, streets


def board(db):
    return stats.dashboard(
        db=db, request=stats_request.resolve(db=db, principal=ADMINISTRATOR, grid=DISTRICT)
    )


def raw_rates(db, where: str, **params) -> dict:
    """The counts of both forms straight from the cases and each one's latest call-back."""
    row = db.execute(
        text(
            f"""
            SELECT count(*) AS received,
                   count(*) FILTER (WHERE c.request_type = 'complaint') AS complaints,
                   count(*) FILTER (WHERE c.state = 'closed') AS closed,
                   count(l.case_id) AS called_back,
                   count(*) FILTER (WHERE (l.data->>'contacted')::boolean) AS contacted,
                   count(*) FILTER (WHERE (l.data->>'contacted')::boolean AND (l.data->>'solved')::boolean)
                       AS solved,
                   coalesce(sum(CASE l.data->>'satisfaction' WHEN 'satisfied' THEN 1
                                WHEN 'basically_satisfied' THEN 0.9 ELSE 0 END), 0) AS pleased
            FROM case_file c LEFT JOIN case_event l ON l.case_id = c.id AND l.action = 'callback'
             AND l.id = (SELECT max(x.id) FROM case_event x WHERE x.case_id = c.id AND x.action = 'callback')
            WHERE c.state <> 'merged' AND {where}
            """
        ),
        params,
    ).one()
    return dict(row._mapping)


def weigh(parts: dict, weights: dict) -> float | None:
    present = {k: v for k, v in parts.items() if v is not None}
    return (
        100 * sum(weights[k] * v for k, v in present.items()) / sum(weights[k] for k in present)
        if present
        else None
    )


def test_street_and_department_rates_in_both_forms(world, setting):
    db, (first, second) = world
    district_path = db.scalar(select(Grid.path).where(CURRENT, Grid.code == DISTRICT))
    # the first street's residents are known, the second's are not
    assert import_populations(db=db, data=f"网格编码,常住人口\n{first},25000\n".encode()).changed == 1

    for form in ("beijing", "pingshan"):
        setting("GRIDOPS_STATS_RATES", form)
        got = board(db)
        assert got.rates_form == form
        rows = {r.code: r for r in got.rates_streets}
        streets = db.execute(
            select(Grid.code, Grid.path).where(CURRENT, Grid.level == "street", Grid.parent_code == DISTRICT)
        ).all()
        assert set(rows) == {code for code, _ in streets}
        for code, path in streets:
            raw = raw_rates(db, "c.grid_path <@ CAST(:p AS ltree)", p=path)
            row = rows[code]
            assert (row.received, row.complaints, row.closed, row.called_back, row.contacted, row.solved) == (
                raw["received"], raw["complaints"], raw["closed"], raw["called_back"], raw["contacted"],
                raw["solved"],
            ), code  # fmt: skip
            reached = raw["contacted"]
            satisfaction = float(raw["pleased"]) / reached if reached else None
            assert row.satisfaction_rate == pytest.approx(satisfaction)
            assert row.completion_rate == pytest.approx(
                raw["closed"] / raw["received"] if raw["received"] else None
            )
            if form == "beijing":
                parts = {
                    "response": reached / raw["called_back"] if raw["called_back"] else None,
                    "resolution": raw["solved"] / reached if reached else None,
                    "satisfaction": satisfaction,
                }
                score = weigh(parts, {"response": 0.1, "resolution": 0.45, "satisfaction": 0.45})
            else:
                parts = {"completion": row.completion_rate, "satisfaction": satisfaction}
                score = weigh(parts, {"completion": 0.5, "satisfaction": 0.5})
            assert row.score == pytest.approx(score), code
            assert row.form == form
            # a street without cases is listed apart (无案件), after every street with cases
            assert (row.rank is None) == (raw["received"] == 0)
        ranks = [r.rank for r in got.rates_streets]
        active = [r for r in ranks if r is not None]
        assert active == list(range(1, len(active) + 1)) and ranks == active + [None] * (
            len(ranks) - len(active)
        )

        # 投诉率: complaints per 10,000 residents where the population is known, never 0 where it is not
        one, two = rows[first], rows[second]
        assert one.population == 25_000 and one.complaint_rate == pytest.approx(
            10_000 * one.complaints / 25_000
        )
        assert (one.complaints, two.complaints, two.received) == (3, 1, 2)
        assert two.population is None and two.complaint_rate is None
        assert two.complaint_rate_note == messages.text("stats.no_population")
        assert all(r.complaint_rate is None for r in got.rates_streets if r.population is None)

        # departments: only those with cases, same counts as the cases they lead
        departments = {r.code: r for r in got.rates_departments}
        expected = db.execute(
            text(
                "SELECT DISTINCT d.code, d.id FROM case_file c JOIN department d ON d.id = c.department_id "
                "WHERE c.state <> 'merged' AND c.grid_path <@ CAST(:area AS ltree)"
            ),
            {"area": district_path},
        ).all()
        assert set(departments) == {code for code, _ in expected}
        for code, dept_id in expected:
            where = "c.grid_path <@ CAST(:area AS ltree) AND c.department_id = :d"
            raw = raw_rates(db, where, area=district_path, d=dept_id)
            row = departments[code]
            assert (row.received, row.closed, row.called_back, row.contacted) == (
                raw["received"], raw["closed"], raw["called_back"], raw["contacted"],
            )  # fmt: skip
            assert row.complaint_rate is None and row.complaint_rate_note
            assert row.rank is not None

    # the Beijing three rates of the existing tables stay Beijing's whatever the setting
    assert all(r.form == "beijing" for r in got.three_rates_streets)


def test_ratings_working_days_and_returns(world):
    db, (first, _) = world
    got = board(db)
    district_path = db.scalar(select(Grid.path).where(CURRENT, Grid.code == DISTRICT))
    stars = "(r.speed + r.result + r.attitude + r.system) / 4.0"
    for by, table, key in (
        ("street", got.ratings_streets, "JOIN grid k ON k.valid_to IS NULL AND k.level = 'street' "
                                        "AND c.grid_path <@ k.path"),
        ("department", got.ratings_departments, "JOIN department k ON k.id = c.department_id"),
        ("category", got.ratings_categories, "JOIN category k ON k.id = c.category_id"),
    ):  # fmt: skip
        expected = db.execute(
            text(
                f"""
                SELECT k.code, count(*), avg({stars}), count(*) FILTER (WHERE {stars} <= 2)
                FROM public_rating r JOIN case_file c ON c.id = r.case_id {key}
                WHERE c.state <> 'merged' AND c.grid_path <@ CAST(:area AS ltree)
                GROUP BY k.code
                """
            ),
            {"area": district_path},
        ).all()
        rows = {r.code: r for r in table}
        assert set(rows) == {code for code, *_ in expected}, by
        for code, count, mean, low in expected:
            assert (rows[code].ratings, rows[code].low) == (count, low)
            assert rows[code].mean_stars == pytest.approx(float(mean))
            assert rows[code].low_share == pytest.approx(low / count)
    streets = {r.code: r for r in got.ratings_streets}
    assert streets[first].ratings == 2 and streets[first].low == 1  # 4.75 stars and 1.5 stars
    assert streets[first].mean_stars == pytest.approx((4.75 + 1.5) / 2)

    cal = calendar("work")
    closed = db.execute(
        text(
            """
            SELECT g.code, c.code, c.received_at, c.closed_at FROM case_file c
            JOIN grid g ON g.valid_to IS NULL AND g.level = 'street' AND c.grid_path <@ g.path
            WHERE c.state = 'closed' AND c.grid_path <@ CAST(:area AS ltree)
            """
        ),
        {"area": district_path},
    ).all()
    per_street: dict[str, list] = {}
    for street, code, received, done in closed:
        per_street.setdefault(street, []).append((cal.between(received, done) / cal.day_minutes(), code))
    rows = {r.code: r for r in got.working_days_streets}
    assert set(rows) == set(per_street)
    for street, cases in per_street.items():
        assert rows[street].closed == len(cases)
        assert rows[street].mean_working_days == pytest.approx(sum(d for d, _ in cases) / len(cases))
        fastest = min(cases)
        assert rows[street].fastest_working_days == pytest.approx(fastest[0])
        assert rows[street].fastest_code == fastest[1]
    assert [r.mean_working_days for r in got.working_days_streets] == sorted(
        r.mean_working_days for r in got.working_days_streets
    )
    (department,) = got.working_days_departments
    assert department.closed == len(closed)

    dispatched = db.execute(
        text(
            "SELECT d.code, count(*) FROM case_dispatch x JOIN department d ON d.id = x.department_id "
            "JOIN case_file c ON c.id = x.case_id WHERE x.lead AND c.grid_path <@ CAST(:area AS ltree) "
            "GROUP BY d.code"
        ),
        {"area": district_path},
    ).all()
    assert {(r.code, r.dispatched, r.returned) for r in got.returns} == {
        (code, n, 0) for code, n in dispatched
    }


def test_new_tables_in_csv_with_chinese_headers(world):
    db, _ = world
    got = board(db)
    for table in ("rates_streets", "rates_departments", "ratings_streets", "working_days_streets", "returns"):
        rows, fields = stats_export.table_rows(got, table)
        csv = stats_export.csv_text(rows, fields)
        header = csv.lstrip("\ufeff").splitlines()[0]
        assert all(stats_export.HEADERS[f] in header for f in fields), table
        assert len(csv.splitlines()) == len(rows) + 1
    rows, fields = stats_export.table_rows(got, "rates_streets")
    body = stats_export.csv_text(rows, fields)
    assert "无案件" in body and "投诉率（每万人）" in body


def test_zero_case_streets_are_not_ranked_above_others(world):
    db, (first, _) = world
    got = board(db)
    for table in (got.streets, got.rates_streets, got.three_rates_streets):
        seen_unranked = False
        for row in table:
            if row.rank is None:
                seen_unranked = True
                assert (row.received if hasattr(row, "received") else 0) == 0
            else:
                assert not seen_unranked
    assert next(r for r in got.streets if r.code == first).rank is not None


def test_the_period_bounds_the_cohort(world):
    db, _ = world
    later = stats_request.resolve(
        db=db, principal=ADMINISTRATOR, grid=DISTRICT,
        start=stats_request.today() + timedelta(days=1), end=stats_request.today() + timedelta(days=2),
    )  # fmt: skip
    got = stats.dashboard(db=db, request=later)
    assert all(r.received == 0 and r.rank is None for r in got.rates_streets)
    assert got.rates_departments == [] and got.ratings_streets == [] and got.working_days_streets == []


def test_rates_command(world, monkeypatch, setting):
    from contextlib import contextmanager

    from typer.testing import CliRunner

    from server.cli import app
    from server.stats import cli as stats_cli

    db, _ = world

    @contextmanager
    def same_session():  # the command reads the test's session, rolled back afterwards
        yield db

    monkeypatch.setattr(stats_cli, "session", same_session)
    setting("GRIDOPS_STATS_RATES", "pingshan")
    runner = CliRunner()
    result = runner.invoke(app, ["stats", "rates", "--grid", DISTRICT, "--by", "street", "--csv"])
    assert result.exit_code == 0, result.output
    rows, _ = stats_export.table_rows(board(db), "rates_streets")
    lines = result.output.splitlines()
    assert lines[0].split(",")[:4] == ["名次", "编码", "名称", "受理数"] and "投诉率（每万人）" in lines[0]
    assert [line.split(",")[1] for line in lines[1:]] == [r["code"] for r in rows]
    result = runner.invoke(
        app, ["stats", "rates", "--grid", DISTRICT, "--by", "department"], env={"COLUMNS": "250"}
    )
    assert result.exit_code == 0, result.output
    assert "投诉率、办结率、满意率" in result.output and "部门三率考核排名" in result.output
    assert runner.invoke(app, ["stats", "rates", "--by", "village"]).exit_code != 0
