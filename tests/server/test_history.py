"""The synthetic history (server/case/history.py, ``gridops demo history``): on a clone of the demo city with
60 days of history ending in the dashboard tests' period, every case follows the workflow, the planted
surges stand out, the summaries equal SQL over the cases, a second run replaces only the history, the
ground truth is stored, and the numbering continues after it."""

from __future__ import annotations

import os
import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from server.auth.principal import ADMINISTRATOR
from server.case import history
from server.case.flows import ACTIONS
from server.case.models import Case, DemoHistory
from server.database import new_session
from server.grid.models import CURRENT, Grid
from server.stats import service
from tests.conftest import demo_clone
from tests.server.case_world import report, village_point
from tests.server.test_cli import CHINESE, gridops
from tests.server.test_stats import board, check_board

NOW = datetime(2026, 10, 24, 20, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # the end of test_stats' period
DAYS = 60
SEED = 7


@pytest.fixture(scope="module")
def city(pg_cluster, demo_engine, owner_url):
    """A clone of the demo city with one ordinary case and a 60-day history; the owner's session on it."""
    with demo_clone(pg_cluster, demo_engine, prefix="history") as url:
        with new_session(url) as db:
            _, lon, lat = village_point(db)
            ordinary = report(db, ADMINISTRATOR, lon, lat, channel="hotline", at=NOW - timedelta(days=2))
        with new_session(owner_url(url)) as db:
            started = time.monotonic()
            made = history.generate(db=db, days=DAYS, seed=SEED, now=NOW)
            service.rebuild(db=db)
            yield {
                "db": db,
                "url": url,
                "made": made,
                "ordinary": ordinary.code,
                "seconds": time.monotonic() - started,
            }


def history_cases(db) -> str:
    return f"SELECT * FROM case_file WHERE id IN ({history.HISTORY_CASES})"


def test_volume_and_mix(city):
    db, made = city["db"], city["made"]
    assert made.first_day == date(2026, 8, 26) and made.last_day == date(2026, 10, 24)
    per_day = made.cases / DAYS
    assert 150 <= per_day <= 400, per_day
    mix = dict(db.execute(text(f"SELECT channel, count(*) FROM ({history_cases(db)}) c GROUP BY 1")).all())
    assert set(mix) == set(history.CHANNELS)
    states = dict(db.execute(text(f"SELECT state, count(*) FROM ({history_cases(db)}) c GROUP BY 1")).all())
    # mostly closed, some voided, and open cases in the workflow's states near the end
    assert states["closed"] > made.cases * 0.8
    assert {"voided", "dispatched"} <= set(states) and len(set(states) - {"closed", "voided"}) >= 4, states
    types = db.scalar(text(f"SELECT count(DISTINCT request_type) FROM ({history_cases(db)}) c"))
    assert types == len(history.REQUEST_TYPES)
    words = db.scalars(text(f"SELECT description FROM ({history_cases(db)}) c LIMIT 200")).all()
    assert len(set(words)) > 100 and all(CHINESE.search(w) for w in words)


def test_every_case_follows_the_workflow(city):
    """Each case's events, in order, chain states through actions that may start from them."""
    db = city["db"]
    rows = db.execute(
        text(
            f"""SELECT e.case_id, e.action, e.state_before, e.state_after, c.state
                FROM case_event e JOIN case_file c ON c.id = e.case_id
                WHERE e.case_id IN ({history.HISTORY_CASES}) ORDER BY e.case_id, e.at, e.id"""
        )
    ).all()
    trails = defaultdict(list)
    final = {}
    for case_id, action, before, after, state in rows:
        trails[case_id].append((action, before, after))
        final[case_id] = state
    assert len(trails) == city["made"].cases
    for case_id, trail in trails.items():
        (first, before, state), *rest = trail
        assert first == "report" and before is None and state in ("reported", "registered")
        for action, before, after in rest:
            spec = ACTIONS[action]
            assert before == state, (case_id, trail)
            assert before in spec.sources, (case_id, trail)
            assert spec.target is None or after == spec.target, (case_id, trail)
            state = after
        assert state == final[case_id], (case_id, trail)


def test_clocks_are_coherent(city):
    db = city["db"]
    bad = db.scalar(
        text(
            f"""SELECT count(*) FROM ({history_cases(db)}) c WHERE
                (state IN ('closed', 'voided', 'merged')) <> (step_due_at IS NULL)
                OR step_yellow_at > step_due_at
                OR (state = 'dispatched' AND step_due_at <> handle_due_at)
                OR (dispatched_at IS NOT NULL AND receipt_due_at IS NULL)
                OR (close_kind = 'overdue') <> (state = 'closed' AND handled_at > handle_due_at)"""
        )
    )
    assert bad == 0
    # open cases near the end are in every light
    lights = db.scalars(
        text(
            f"""SELECT DISTINCT CASE WHEN step_due_at <= :now THEN 'red' WHEN step_yellow_at <= :now
                THEN 'yellow' ELSE 'green' END FROM ({history_cases(db)}) c WHERE step_due_at IS NOT NULL"""
        ),
        {"now": NOW},
    ).all()
    assert set(lights) == {"red", "yellow", "green"}


def test_surges_stand_out(city):
    """In each planted surge's weeks, its grid and category get clearly more reports than in the weeks
    before it."""
    db = city["db"]
    truth = db.scalar(select(DemoHistory.truth))
    for surge in truth["surges"]:
        start, end = date.fromisoformat(surge["start"]), date.fromisoformat(surge["end"])
        counts = {}
        for name, (since, until) in {
            "surge": (start, end + timedelta(days=1)),
            "before": (start - timedelta(days=28), start),
        }.items():
            counts[name] = (
                db.scalar(
                    text(
                        f"""SELECT count(*) FROM ({history_cases(db)}) c
                        JOIN category k ON k.id = c.category_id
                        WHERE k.code = :category AND c.grid_path ~ CAST(:pattern AS lquery)
                          AND (c.received_at AT TIME ZONE 'Asia/Shanghai')::date >= :since
                          AND (c.received_at AT TIME ZONE 'Asia/Shanghai')::date < :until"""
                    ),
                    {
                        "category": surge["category"],
                        "pattern": f"*.{surge['grid']}.*",
                        "since": since,
                        "until": until,
                    },
                )
                / (until - since).days
            )
        assert counts["surge"] > 1.8 * counts["before"] + 0.1, (surge, counts)


def test_summaries_equal_sql_over_the_cases(city):
    db = city["db"]
    root = db.scalar(select(Grid.code).where(CURRENT, Grid.parent_code.is_(None)))
    got = board(db, source="summary")
    assert got.totals.received > 1000
    check_board(db, got, root)


def test_descriptions_are_varied_and_never_the_category_names(city):
    db = city["db"]
    rows = db.execute(
        text(
            f"SELECT c.description, k.name FROM ({history_cases(db)}) c "
            "JOIN category k ON k.id = c.category_id"
        )
    ).all()
    texts = [d for d, _ in rows]
    assert len(set(texts)) > 0.6 * len(texts)
    assert not any(name in description for description, name in rows)
    vague = sum(t in history.VAGUE for t in texts) / len(texts)
    assert 0.06 < vague < 0.10, vague


def test_misfiled_cases_are_reclassified_before_dispatch(city):
    """About 6 % of the callers' cases of the related categories are registered under a wrong one and moved
    by the acceptor (改类) before filing: their final category is the event's "to"."""
    db = city["db"]
    rows = db.execute(
        text(
            f"""SELECT e.data->>'from', e.data->>'to', k.code, e.role, e.state_before
                FROM case_event e JOIN case_file c ON c.id = e.case_id JOIN category k ON k.id = c.category_id
                WHERE e.action = 'reclassify' AND e.case_id IN ({history.HISTORY_CASES})"""
        )
    ).all()
    callers = db.scalar(text(f"SELECT count(*) FROM ({history_cases(db)}) c WHERE channel <> 'inspector'"))
    assert 0.02 * callers < len(rows) < 0.06 * callers, (len(rows), callers)
    for was, now, final, role, state in rows:
        assert now == final and was in history.RELATED[now] and (role, state) == ("acceptor", "registered")


def test_some_categories_end_with_another_department(city):
    """For the rerouted categories, a share of the dispatched cases is returned by the configured department
    and re-dispatched to another, which handles them; the case's first department stays the configured."""
    db = city["db"]
    for code, (other, share) in history.REROUTES.items():
        rows = db.execute(
            text(
                f"""SELECT d.code, f.code FROM ({history_cases(db)}) c
                    JOIN category k ON k.id = c.category_id JOIN department d ON d.id = c.department_id
                    JOIN department f ON f.id = c.first_department_id
                    WHERE k.code = :code AND c.state = 'closed'"""
            ),
            {"code": code},
        ).all()
        moved = sum(final == other and first != other for final, first in rows) / len(rows)
        assert share - 0.12 < moved < share + 0.12, (code, moved, len(rows))


def test_ground_truth_stored(city):
    db = city["db"]
    (row,) = db.scalars(select(DemoHistory)).all()
    assert (row.seed, row.days, row.cases) == (SEED, DAYS, city["made"].cases)
    assert len(row.truth["surges"]) == history.SURGES + 1
    assert len(row.truth["hot_spots"]) == history.HOT_SPOTS
    assert set(row.truth["departments"]) == set(history.PERFORMANCE)


def test_codes_unique_and_numbering_continues(city):
    db = city["db"]
    assert db.scalar(text("SELECT count(*) - count(DISTINCT code) FROM case_file")) == 0
    day = NOW.date()
    last = db.scalar(
        text("SELECT last FROM case_counter WHERE district_code = :d AND day = :day"),
        {"d": history.DISTRICT, "day": day},
    )
    top = db.scalar(
        text("SELECT max(split_part(code, '-', 3)::int) FROM case_file WHERE code LIKE :p"),
        {"p": f"{history.DISTRICT}-{day:%Y%m%d}-%"},
    )
    assert last == top
    with new_session(city["url"]) as app:
        _, lon, lat = village_point(app)
        new = report(app, ADMINISTRATOR, lon, lat, channel="hotline", at=NOW + timedelta(minutes=5))
        assert new.code == f"{history.DISTRICT}-{day:%Y%m%d}-{top + 1:04d}"


def test_rerun_replaces_only_the_history_and_the_command(city, owner_url):
    """Last: the command line runs again (a shorter history), replacing the previous one; the ordinary
    case stays."""
    db, url = city["db"], city["url"]
    before = db.scalar(text("SELECT count(*) FROM case_file WHERE id NOT IN (" + history.HISTORY_CASES + ")"))
    db.rollback()  # the command's rebuild locks the summaries this session has read
    env = {**os.environ, "DATABASE_URL": url, "GRIDOPS_OWNER_DATABASE_URL": owner_url(url)}
    result = gridops("demo", "history", "--days", "10", "--seed", "3", env=env)
    assert result.returncode == 0, result.stderr
    assert "模拟历史" in result.stderr
    db.rollback()
    after = db.scalar(text("SELECT count(*) FROM case_file WHERE id NOT IN (" + history.HISTORY_CASES + ")"))
    assert after == before
    assert db.scalar(select(Case.id).where(Case.code == city["ordinary"])) is not None
    (row,) = db.scalars(select(DemoHistory)).all()
    assert (row.seed, row.days) == (3, 10)
    assert db.scalar(text(f"SELECT min(received_at) FROM ({history_cases(db)}) c")) > datetime.now(
        ZoneInfo("Asia/Shanghai")
    ) - timedelta(days=11)
    assert "模拟" in gridops("demo", "history", "--help", env=env).stdout


def test_every_column_naming_a_case_is_indexed(db):
    """Replacing a history deletes every case of the previous one, and PostgreSQL checks each deleted case
    against every column that may name it: a column without an index is read whole for each (a two-year
    history's 180,000 cases then take hours)."""
    unindexed = (
        db.execute(
            text(
                """
            SELECT c.conrelid::regclass::text || '.' || a.attname
            FROM pg_constraint c
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
            WHERE c.contype = 'f' AND c.confrelid = 'case_file'::regclass
              AND NOT EXISTS (
                  SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1])
            """
            )
        )
        .scalars()
        .all()
    )
    assert unindexed == []
