"""Dashboard figures on a seeded set of cases with known answers, made through the real services with
back-dated clocks across the 2026 National Day holiday; each figure checked against SQL over the raw
tables written here from issue 6's definitions, the summaries against their rebuild, and the API's scope,
CSV and errors."""

from __future__ import annotations

import csv
import io
import os
from datetime import date, datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from geoalchemy2.shape import to_shape
from sqlalchemy import select, text, update

from grids.levels import LABELS as LEVELS
from server import messages, migrate
from server.auth.principal import ADMINISTRATOR
from server.category.models import Department
from server.database import get_engine, new_session
from server.grid.models import CURRENT, Grid, GridAssignment, today
from server.stats import export as stats_export
from server.stats import request as stats_request
from server.stats import service, sql
from server.stats.schemas import TABLES
from tests.server.case_world import act, make_user, photo, report
from tests.server.test_case_http import login
from tests.server.test_cli import CHINESE, gridops

SH = ZoneInfo("Asia/Shanghai")
START, END = date(2026, 9, 25), date(2026, 10, 24)
A, B = "370102", "370103"  # 历下区, 市中区
FILED = "('filed','dispatched','returned','suspended','handled','checking','checked','closed')"


def local(text_: str) -> datetime:
    return datetime.fromisoformat(text_).replace(tzinfo=SH)


def village_of_street(db, district: str, street_index: int) -> tuple[str, float, float]:
    """The first village of the ``street_index``-th street of ``district`` and a point well inside it."""
    streets = list(
        db.scalars(select(Grid.code).where(CURRENT, Grid.parent_code == district).order_by(Grid.code))
    )
    village = db.scalar(
        select(Grid).where(CURRENT, Grid.parent_code == streets[street_index]).order_by(Grid.code).limit(1)
    )
    point = to_shape(village.geom).representative_point()
    return village.code, point.x, point.y


def inspector(db, village: str):
    who = make_user(db, ["inspector"], inspects=village)
    db.execute(
        update(GridAssignment).where(GridAssignment.user_id == who.user_id).values(starts_on=date(2026, 1, 1))
    )
    return who


@pytest.fixture
def world(demo_db):
    return make_world(demo_db)


def make_world(db) -> dict:
    """Cases with known answers (period 2026-09-25..10-24; 8 in the cohort):

    1 holiday: reported 09-30 by inspector a, 1-day limit over the holiday, handled 10-08 in time, closed
    2 rework: hotline, verified by c in time, reworked once, handled in time, closed normal
    3 suspended: filed, dispatched, returned, re-dispatched, extension asked and refused, suspended
    4 overdue: handled late, checked late (red), closed overdue
    5 voided: hotline, verification late (red), voided
    6 master (市中区, hotline, verified by b) with 6b merged into it (left out)
    7 b's own report of another category (water), filed; 8 b's own report left registered
    and one case received before the period."""
    v1, v1x, v1y = village_of_street(db, A, 0)
    v2, v2x, v2y = village_of_street(db, A, 1)
    w1, w1x, w1y = village_of_street(db, B, 0)
    a, b, c = inspector(db, v1), inspector(db, w1), inspector(db, v2)
    adm = ADMINISTRATOR
    cases = {}

    def handled(case, at: str):
        photo(db, adm, case, "after")
        return act(db, adm, case, "report_handling", at=local(at))

    def checked(case, who, at_request: str, at_reply: str, result: str = "pass"):
        act(db, adm, case, "request_check", at=local(at_request), inspector_id=who.user_id)
        photo(db, who, case, "check")
        return act(db, who, case, "reply_check", at=local(at_reply), result=result)

    # 1 the holiday case
    case = report(db, a, v1x, v1y, category="E06011", at=local("2026-09-30 15:50"))
    act(db, adm, case, "file", at=local("2026-09-30 15:55"))
    act(db, adm, case, "dispatch", at=local("2026-09-30 16:00"))
    assert case.handle_due_at == local("2026-10-08 16:00")
    handled(case, "2026-10-08 10:00")
    checked(case, a, "2026-10-08 10:10", "2026-10-08 10:30")
    cases["holiday"] = act(db, adm, case, "close", at=local("2026-10-08 11:00"))

    # 2 reworked
    case = report(db, adm, v2x, v2y, channel="hotline", at=local("2026-10-09 09:00"))
    act(db, adm, case, "request_verification", at=local("2026-10-09 09:05"), inspector_id=c.user_id)
    act(db, c, case, "reply_verification", at=local("2026-10-09 09:20"), result="confirmed")
    act(db, adm, case, "file", at=local("2026-10-09 09:30"))
    act(db, adm, case, "dispatch", at=local("2026-10-09 09:40"))
    handled(case, "2026-10-09 10:30")
    checked(case, c, "2026-10-09 10:40", "2026-10-09 11:00", result="rework")
    handled(case, "2026-10-09 14:00")
    checked(case, c, "2026-10-09 14:10", "2026-10-09 14:30")
    cases["rework"] = act(db, adm, case, "close", at=local("2026-10-09 15:00"))

    # 3 suspended, after a return and a refused extension; tagged and untagged
    case = report(db, a, v1x, v1y, category="E06011", at=local("2026-10-12 09:00"))
    act(db, adm, case, "tag", at=local("2026-10-12 09:01"), tag="key_supervision")
    act(db, adm, case, "file", at=local("2026-10-12 09:05"))
    act(db, adm, case, "dispatch", at=local("2026-10-12 09:10"), lead_department="enforcement")
    act(db, adm, case, "return", at=local("2026-10-12 09:20"), reason="不属本部门")
    act(db, adm, case, "dispatch", at=local("2026-10-12 09:25"), lead_department="sanitation", reason="环卫")
    act(db, adm, case, "request_extension", at=local("2026-10-12 09:26"), extension="1d", reason="量大")
    act(db, adm, case, "refuse_extension", at=local("2026-10-12 09:27"), reason="不批")
    act(db, adm, case, "untag", at=local("2026-10-12 09:28"), tag="key_supervision")
    cases["suspended"] = act(db, adm, case, "suspend", at=local("2026-10-12 09:30"), reason="等待施工")

    # 4 overdue
    case = report(db, a, v1x, v1y, at=local("2026-10-13 09:00"))
    act(db, adm, case, "file", at=local("2026-10-13 09:05"))
    act(db, adm, case, "dispatch", at=local("2026-10-13 09:10"))
    handled(case, "2026-10-15 10:00")
    checked(case, a, "2026-10-15 10:05", "2026-10-15 16:00")  # the check limit (1 h, rural 2 h) passed
    cases["overdue"] = act(db, adm, case, "close", at=local("2026-10-15 16:30"))
    assert case.close_kind == "overdue"

    # 5 voided after a late verification
    case = report(db, adm, v1x, v1y, category="E09006", channel="hotline", at=local("2026-10-14 09:00"))
    act(db, adm, case, "request_verification", at=local("2026-10-14 09:05"), inspector_id=a.user_id)
    act(db, a, case, "reply_verification", at=local("2026-10-14 12:00"), result="not_found")
    cases["voided"] = act(db, adm, case, "void", at=local("2026-10-14 12:10"), reason="未发现")

    # 6 a master in 市中区 and its merged duplicate
    master = report(db, adm, w1x, w1y, channel="hotline", at=local("2026-10-16 09:00"))
    act(db, adm, master, "request_verification", at=local("2026-10-16 09:05"), inspector_id=b.user_id)
    act(db, b, master, "reply_verification", at=local("2026-10-16 09:20"), result="confirmed")
    act(db, adm, master, "file", at=local("2026-10-16 09:30"))
    dup = report(db, adm, w1x, w1y, channel="citizen", at=local("2026-10-16 10:00"))
    assert dup.duplicate_of_id == master.id
    cases["merged"] = act(db, adm, dup, "merge", at=local("2026-10-16 10:05"), master=master.code)
    cases["master"] = master

    # 7, 8 b's own reports
    case = report(db, b, w1x, w1y, category="C01002", at=local("2026-10-17 09:00"))
    cases["water"] = act(db, adm, case, "file", at=local("2026-10-17 09:05"))
    cases["registered"] = report(db, b, w1x, w1y, at=local("2026-10-18 09:00"))
    # before the period
    cases["early"] = report(db, a, v1x, v1y, at=local("2026-09-10 09:00"))
    return {"db": db, "cases": cases, "a": a, "b": b, "c": c, "v1": v1, "v2": v2, "w1": w1}


def board(db, grid=None, department=None, source=None, start=START, end=END, category_level=None):
    request = stats_request.resolve(
        db=db,
        principal=ADMINISTRATOR,
        start=start,
        end=end,
        grid=grid,
        department=department,
        category_level=category_level,
    )
    return service.dashboard(db=db, request=request, source=source)


# -- the oracle: SQL over the raw tables, from the definitions --------------------------------------------


def raw_counts(db, where: str = "true", start=START, end=END, **params) -> dict:
    row = db.execute(
        text(
            f"""
            SELECT count(*) AS received,
                   count(*) FILTER (WHERE state IN {FILED}) AS due,
                   count(*) FILTER (WHERE state = 'closed') AS closed,
                   count(*) FILTER (WHERE state = 'closed' AND close_kind = 'normal') AS closed_on_time,
                   count(*) FILTER (WHERE handled_at <= handle_due_at) AS handled_on_time,
                   count(*) FILTER (WHERE rework_count > 0) AS reworked
            FROM case_file
            WHERE state <> 'merged' AND (received_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN :s AND :e
              AND ({where})
            """
        ),
        {"s": start, "e": end, **params},
    ).one()
    return dict(row._mapping)


def expected_row(c: dict, weights=(0.3, 0.3, 0.2, 0.2)) -> dict:
    due = c["due"]
    rates = [c[k] / due if due else None for k in ("closed", "closed_on_time", "handled_on_time", "reworked")]
    parts = [*rates[:3], None if rates[3] is None else 1 - rates[3]]
    score = weigh(parts, weights)
    return {
        **c,
        "closure_rate": rates[0],
        "on_time_closure_rate": rates[1],
        "on_time_handling_rate": rates[2],
        "rework_rate": rates[3],
        "score": score,
        "grade": letter(score),
    }


def weigh(parts, weights) -> float | None:
    present = [(p, w) for p, w in zip(parts, weights, strict=True) if p is not None]
    if not present:
        return None
    return 100 * sum(p * w for p, w in present) / sum(w for _, w in present)


def letter(score):
    if score is None:
        return None
    return "A" if score >= 90 else "B" if score >= 75 else "C" if score >= 60 else "D" if score >= 40 else "E"


def same(actual: dict, expected: dict) -> None:
    for key, value in expected.items():
        if isinstance(value, float):
            assert actual[key] == pytest.approx(value), key
        else:
            assert actual[key] == value, key


def expected_ranking(rows: list[dict], due="due", name="code", cases: str | None = None) -> list:
    """The order of a ranking; with ``cases``, rows without cases come after every row with some."""
    rows.sort(
        key=lambda r: (bool(cases) and not r[cases], r["score"] is None, -(r["score"] or 0), -r[due], r[name])
    )
    return [r[name] for r in rows]


def check_board(db, got, area: str, department_id: int | None = None) -> None:
    """Every figure of ``got`` against the raw tables."""
    dept = "" if department_id is None else f" AND case_file.department_id = {department_id}"
    scope = f"grid_path <@ CAST(:area AS ltree){dept}"
    path = db.scalar(select(Grid.path).where(CURRENT, Grid.code == area))
    same(got.totals.model_dump(), expected_row(raw_counts(db, scope, area=path)))

    for name, level in (("districts", "district"), ("streets", "street")):
        grids = db.execute(
            select(Grid.code, Grid.name, Grid.path).where(
                CURRENT, Grid.level == level, Grid.path.op("<@")(path)
            )
        ).all()
        expected = [
            {
                "code": code,
                "name": gname,
                **expected_row(raw_counts(db, f"grid_path <@ CAST(:p AS ltree){dept}", p=p)),
            }
            for code, gname, p in grids
        ]
        rows = {r.code: r.model_dump() for r in getattr(got, name)}
        assert list(rows) == expected_ranking(expected, cases="received")
        for exp in expected:
            same(rows[exp["code"]], exp)
        # numbered while they have cases, then unnumbered (无案件): never a 0-case area above one with cases
        active = sum(1 for exp in expected if exp["received"])
        assert [r["rank"] for r in rows.values()] == list(range(1, active + 1)) + [None] * (
            len(rows) - active
        )

    departments = db.execute(
        text(f"SELECT DISTINCT department_id FROM case_file WHERE department_id IS NOT NULL AND {scope}"),
        {"area": path},
    ).scalars()
    expected = []
    for dept_id in departments:
        counts = raw_counts(db, f"{scope} AND department_id = :d", area=path, d=dept_id)
        if counts["received"]:
            d = db.get(Department, dept_id)
            expected.append({"code": d.code, "name": d.name, **counts})
    largest = max((r["due"] for r in expected), default=0)
    for r in expected:
        band = r["due"] / largest if largest else None
        base = expected_row(r)
        r.update(base, volume_band=band)
        r["score"] = weigh(
            [band, base["closure_rate"], base["on_time_handling_rate"],
             None if base["rework_rate"] is None else 1 - base["rework_rate"]],
            (0.1, 0.3, 0.3, 0.3),
        )  # fmt: skip
        r["grade"] = letter(r["score"])
    rows = {r.code: r.model_dump() for r in got.departments}
    assert list(rows) == expected_ranking(expected)
    for r in expected:
        same(rows[r["code"]], r)

    days = {d.date: d for d in got.trend_day}
    assert sorted(days) == [START + timedelta(days=i) for i in range((END - START).days + 1)]
    for day, row in days.items():
        c = raw_counts(db, scope, start=day, end=day, area=path)
        assert (row.received, row.due, row.closed) == (c["received"], c["due"], c["closed"])
    weeks = {}
    for day, row in days.items():
        key = f"{day.isocalendar()[0]}-W{day.isocalendar()[1]:02d}"
        weeks[key] = [
            x + y for x, y in zip(weeks.get(key, [0, 0, 0]), [row.received, row.due, row.closed], strict=True)
        ]
    assert {w.week: [w.received, w.due, w.closed] for w in got.trend_week} == weeks

    cohort = f"""state <> 'merged' AND {scope}
        AND (received_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN :s AND :e"""
    categories = db.execute(
        text(
            f"""SELECT g.code, count(*) FROM case_file JOIN category g ON g.id = category_id WHERE {cohort}
                GROUP BY g.code ORDER BY 2 DESC, 1 LIMIT 10"""
        ),
        {"area": path, "s": START, "e": END},
    ).all()
    assert [(r.code, r.received) for r in got.categories] == [tuple(r) for r in categories]
    hours = dict(
        db.execute(
            text(
                f"""SELECT extract(hour FROM received_at AT TIME ZONE 'Asia/Shanghai')::int, count(*)
                    FROM case_file WHERE {cohort} GROUP BY 1"""
            ),
            {"area": path, "s": START, "e": END},
        ).all()
    )
    assert [(h.hour, h.received) for h in got.hours] == [(h, hours.get(h, 0)) for h in range(24)]
    hot = db.execute(
        text(
            f"""SELECT g.code, count(*) FROM grid g JOIN case_file ON grid_path <@ g.path
                WHERE g.valid_to IS NULL AND g.parent_code = :code AND {cohort}
                GROUP BY g.code ORDER BY 2 DESC, 1 LIMIT 10"""
        ),
        {"area": path, "s": START, "e": END, "code": area},
    ).all()
    assert [(g.code, g.received) for g in got.grids] == [tuple(r) for r in hot]

    check_inspectors(db, got, path, dept)


def check_inspectors(db, got, path: str, dept: str) -> None:
    people = db.execute(
        text(
            """SELECT u.id, u.name, array_agg(DISTINCT g.path::text) FROM app_user u
               JOIN grid_assignment a ON a.user_id = u.id AND a.role = 'inspector'
               JOIN grid g ON g.code = a.grid_code AND g.valid_to IS NULL
               WHERE 'inspector' = ANY(u.roles) AND a.starts_on <= :e AND coalesce(a.ends_on, :e) >= :s
                 AND g.path <@ CAST(:area AS ltree)
               GROUP BY u.id, u.name"""
        ),
        {"area": path, "s": START, "e": END},
    ).all()
    expected = []
    for user_id, name, paths in people:
        period = "(received_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN :s AND :e AND state <> 'merged'"
        reported, valid = db.execute(
            text(
                f"""SELECT count(*), count(*) FILTER (WHERE state IN {FILED}) FROM case_file
                    WHERE channel = 'inspector' AND reporter_id = :u AND {period}"""
            ),
            {"u": user_id, "s": START, "e": END},
        ).one()
        replies = dict(
            (k, (n, on_time))
            for k, n, on_time in db.execute(
                text(
                    """SELECT action, count(*), count(*) FILTER (WHERE coalesce(data->>'light', '') <> 'red')
                       FROM case_event WHERE actor_id = :u AND action IN ('reply_verification', 'reply_check')
                         AND (at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN :s AND :e GROUP BY action"""
                ),
                {"u": user_id, "s": START, "e": END},
            )
        )
        grid_due, others = db.execute(
            text(
                f"""SELECT count(*), count(*) FILTER (WHERE channel <> 'inspector') FROM case_file
                    WHERE state IN {FILED} AND {period} AND grid_path <@ CAST(:area AS ltree)
                      AND grid_path <@ ANY(CAST(:paths AS ltree[])){dept}"""
            ),
            {"s": START, "e": END, "area": path, "paths": paths},
        ).one()
        ver, chk = replies.get("reply_verification", (0, 0)), replies.get("reply_check", (0, 0))
        rates = [
            valid / reported if reported else None,
            1 - others / grid_due if grid_due else None,
            ver[1] / ver[0] if ver[0] else None,
            chk[1] / chk[0] if chk[0] else None,
        ]
        score = weigh(rates, (0.4, 0.2, 0.2, 0.2))
        expected.append(
            {"user_id": user_id, "name": name, "reported": reported, "valid": valid, "verifications": ver[0],
             "verifications_on_time": ver[1], "checks": chk[0], "checks_on_time": chk[1],
             "grid_due": grid_due, "found_by_others": others, "score": score, "grade": letter(score)}
        )  # fmt: skip
    rows = {r.user_id: r.model_dump() for r in got.inspectors}
    ranking = [r["name"] for r in sorted(rows.values(), key=lambda r: r["rank"])]
    assert ranking == expected_ranking(expected, due="grid_due", name="name")
    for r in expected:
        same(rows[r["user_id"]], r)


# -- the tests ------------------------------------------------------------------------------------------


def test_known_answers(world):
    db = world["db"]
    got = board(db)
    assert got.source == "summary" and got.grid.level == "city"
    t = got.totals
    assert (t.received, t.due, t.closed, t.closed_on_time, t.handled_on_time, t.reworked) == (
        8,
        6,
        3,
        2,
        2,
        1,
    )
    assert t.closure_rate == pytest.approx(3 / 6) and t.rework_rate == pytest.approx(1 / 6)
    by_user = {r.user_id: r for r in got.inspectors}
    a, b, c = (by_user[world[k].user_id] for k in "abc")
    # a: 4 own reports in the period, all filed; one late verification; checks: one in time, one late
    assert (a.reported, a.valid, a.verifications, a.verifications_on_time) == (3, 3, 1, 0)
    assert (a.checks, a.checks_on_time, a.grid_due, a.found_by_others) == (2, 1, 3, 0)
    # b: 2 own reports, one filed; the master found by others in b's village
    assert (b.reported, b.valid, b.grid_due, b.found_by_others) == (2, 1, 2, 1)
    assert (b.miss_rate, b.valid_rate, b.verification_rate) == (0.5, 0.5, 1.0)
    assert b.score == pytest.approx(100 * (0.4 * 0.5 + 0.2 * 0.5 + 0.2 * 1) / 0.8)
    assert (c.verifications, c.checks, c.checks_on_time, c.grid_due, c.found_by_others) == (1, 2, 2, 1, 1)
    assert {d.code for d in got.districts} >= {A, B}
    assert next(d for d in got.districts if d.code == A).received == 5
    holiday = got.trend_day[(date(2026, 9, 30) - START).days]
    assert (holiday.received, holiday.due, holiday.closed) == (1, 1, 1)


@pytest.mark.parametrize("area", [None, A, "street"])
def test_every_figure_equals_sql_over_the_raw_tables(world, area):
    db = world["db"]
    code = (
        world["v1"][:9]
        if area == "street"
        else area or db.scalar(select(Grid.code).where(CURRENT, Grid.parent_code.is_(None)))
    )
    got = board(db, grid=code)
    check_board(db, got, code)
    raw = board(db, grid=code, source="cases")
    assert raw.source == "cases"
    assert raw.model_dump(exclude={"source"}) == got.model_dump(exclude={"source"})


def test_department_filter_and_village_from_the_cases(world):
    db = world["db"]
    dept = db.scalar(select(Department).where(Department.code == "sanitation_lx"))
    got = board(db, department="sanitation_lx")
    check_board(db, got, db.scalar(select(Grid.code).where(CURRENT, Grid.parent_code.is_(None))), dept.id)
    assert got.department.code == "sanitation_lx" and [d.code for d in got.departments] == ["sanitation_lx"]
    village = board(db, grid=world["v1"])
    assert village.source == "cases"
    check_board(db, village, world["v1"])


def test_categories_are_ranked_at_any_level_of_the_tree(world, demo_client, admin_headers):
    db = world["db"]
    leaves = board(db)
    # the major classes: each case counted under its top ancestor (E06010 under E06, C01002 under C01)
    tops = db.execute(
        text(
            """SELECT t.code, t.name, count(*) FROM case_file f JOIN category c ON c.id = f.category_id
                JOIN category t ON t.code = c.lineage[1]
                WHERE f.state <> 'merged' AND (f.received_at AT TIME ZONE 'Asia/Shanghai')::date
                      BETWEEN :s AND :e
                GROUP BY t.code, t.name ORDER BY 3 DESC, 1"""
        ),
        {"s": START, "e": END},
    ).all()
    for source in ("summary", "cases"):
        got = board(db, source=source, category_level=1)
        assert [(r.code, r.name, r.received) for r in got.categories] == [tuple(r) for r in tops]
        assert {"E06", "C01"} <= {r.code for r in got.categories} and all(
            len(r.code) == 3 for r in got.categories
        )
        assert sum(r.received for r in got.categories) == sum(r.received for r in leaves.categories)
    assert board(db, category_level=2).categories == leaves.categories  # the leaves are at level 2

    deeper = demo_client.get("/api/stats/dashboard", params={"category_level": 3}, headers=admin_headers)
    assert deeper.status_code == 200  # as deep as the settings allow: the leaves above it count as themselves
    too_deep = demo_client.get("/api/stats/dashboard", params={"category_level": 4}, headers=admin_headers)
    assert too_deep.status_code == 422 and too_deep.json()["code"] == "stats.category_level"
    assert too_deep.json()["detail"].startswith("分类只有 1 到 3 层，没有第 4 层")
    exported = demo_client.get(
        "/api/stats/export/categories.csv", params={"category_level": 1}, headers=admin_headers
    )
    assert exported.status_code == 200


MEASURES = {
    "stats_area_day": list(sql.CASE_MEASURES),
    "stats_category_day": ["received"],
    "stats_hour_day": ["received"],
    "stats_inspector_day": list(sql.INSPECTOR_MEASURES),
}


def summary_rows(db) -> dict:
    """Every summary row holding a count (a key whose cases all left it keeps zeros until a rebuild)."""
    return {
        table: sorted(
            db.execute(
                text(f"SELECT * FROM {table} WHERE NOT ({' AND '.join(f'{m} = 0' for m in names)})")
            ).all()
        )
        for table, names in MEASURES.items()
    }


def test_summaries_equal_their_rebuild_after_inserts_updates_and_deletes(demo_owner_db):
    """As the schema's owner: the rebuild renews the trigger functions and locks the audit trail."""
    world = make_world(demo_owner_db)
    db = world["db"]
    cases = world["cases"]
    # a statement writing several cases at once, then rows inserted, moved and deleted in SQL
    db.execute(
        text(
            "UPDATE case_file SET department_id = (SELECT id FROM department WHERE code = 'water') "
            "WHERE id = ANY(:ids)"
        ),
        {"ids": [cases["holiday"].id, cases["overdue"].id]},
    )
    db.execute(
        text(
            """INSERT INTO case_file (code, client_uuid, content_hash, channel, state, category_id, urgency,
                   location, reported_crs, grid_id, grid_code, grid_path, district_code, received_at,
                   department_id, rework_count)
               SELECT 'T-' || i, gen_random_uuid(), 'x', 'hotline', 'closed', category_id, urgency, location,
                      'wgs84', grid_id, grid_code, grid_path, district_code,
                      received_at + i * interval '1 hour',
                      department_id, 1
               FROM case_file, generate_series(1, 3) AS i WHERE id = :id"""
        ),
        {"id": cases["master"].id},
    )
    db.execute(
        text(
            "UPDATE case_file SET state = 'voided', received_at = received_at - interval '20 days' "
            "WHERE code = 'T-1'"
        )
    )
    db.execute(text("DELETE FROM case_file WHERE code IN ('T-2', 'T-3')"))
    kept = summary_rows(db)
    assert service.rebuild(db=db, chunk=4) > 0
    assert summary_rows(db) == kept
    check_board(db, board(db), db.scalar(select(Grid.code).where(CURRENT, Grid.parent_code.is_(None))))


def test_scope(world, demo_client):
    db = world["db"]
    head = make_user(db, ["grid_head"], grid=A)
    headers = login(demo_client, head)
    ok = demo_client.get("/api/stats/dashboard", params={"from": START, "to": END}, headers=headers)
    assert ok.status_code == 200 and ok.json()["grid"]["code"] == A
    other = demo_client.get("/api/stats/dashboard", params={"grid": B}, headers=headers)
    assert other.status_code == 403 and other.json()["code"] == "stats.grid_outside"
    assert other.json()["params"] == {"grid": B, "mine": A}
    missing = demo_client.get("/api/stats/dashboard", params={"grid": "999999"}, headers=headers)
    assert missing.status_code == 404 and missing.json()["code"] == "grid.not_found"
    assert "999999" in missing.json()["detail"]
    inspector = demo_client.get("/api/stats/dashboard", headers=login(demo_client, world["a"]))
    assert inspector.status_code == 403 and inspector.json()["code"] == "stats.dashboard_roles"
    clerk = make_user(db, ["department"], department="sanitation_lx")
    headers = login(demo_client, clerk)
    own = demo_client.get("/api/stats/dashboard", params={"from": START, "to": END}, headers=headers)
    assert own.status_code == 200 and own.json()["department"]["code"] == "sanitation_lx"
    foreign = demo_client.get("/api/stats/dashboard", params={"department": "water"}, headers=headers)
    assert foreign.status_code == 403 and foreign.json()["code"] == "stats.other_department"
    assert foreign.json()["detail"] == messages.text("stats.other_department", department="water")


def test_csv_equals_the_json(world, demo_client, admin_headers):
    params = {"from": str(START), "to": str(END), "grid": A}
    data = demo_client.get("/api/stats/dashboard", params=params, headers=admin_headers).json()
    assert data["period"] == {"from": str(START), "to": str(END)}
    assert set(stats_export.TITLES) == set(TABLES)  # every table has its name in words
    for table in TABLES:
        resp = demo_client.get(f"/api/stats/export/{table}.csv", params=params, headers=admin_headers)
        assert resp.status_code == 200 and resp.headers["content-type"] == "text/csv; charset=utf-8"
        disposition = resp.headers["content-disposition"]
        period = f"{A}-{START}-{END}.csv"
        named = quote(f"{stats_export.TITLES[table]}-{period}")
        assert disposition == f"attachment; filename=\"{table}-{period}\"; filename*=UTF-8''{named}"
        assert resp.content.startswith("\ufeff".encode())
        rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
        assert len(rows) == len(data[table]) + 1
        assert len(set(rows[0])) == len(rows[0]) and all(CHINESE.search(h) for h in rows[0]), rows[0]
        for line, item in zip(rows[1:], data[table], strict=True):
            assert rows[0] == [stats_export.HEADERS[field] for field in item]
            for field, value in zip(item, line, strict=True):
                want = item[field]
                if want is None:
                    assert value == ("无案件" if field == "rank" else "")  # an unranked row: no case
                elif field == "form":
                    assert value == stats_export.FORMS[want]
                elif field in ("level", "kind"):  # in words
                    assert value == {**LEVELS, "category": "类别", "grid": "网格"}[want]
                elif isinstance(want, float):
                    assert float(value) == pytest.approx(want, abs=1e-4)
                elif isinstance(want, list):
                    assert value.split() == [str(x) for x in want]
                else:
                    assert value == str(want)
    assert len(data["streets"]) > 1 and len(data["inspectors"]) == 2


def test_bad_periods(demo_client, admin_headers):
    backwards = demo_client.get("/api/stats/dashboard", params={"from": "2026-10-02", "to": "2026-10-01"},
                                headers=admin_headers)  # fmt: skip
    assert backwards.status_code == 422 and backwards.json()["code"] == "stats.period_reversed"
    assert (
        backwards.json()["detail"]
        == "统计时段的开始日期（2026-10-02）晚于结束日期（2026-10-01），请重新选择时段"
    )
    long = demo_client.get("/api/stats/dashboard", params={"from": "2025-01-01", "to": "2026-01-02"},
                           headers=admin_headers)  # fmt: skip
    assert long.status_code == 422 and long.json()["code"] == "stats.period_too_long"
    assert long.json()["params"] == {"longest": 366, "start": "2025-01-01", "end": "2026-01-02", "days": 367}
    bad = demo_client.get("/api/stats/export/nothing.csv", headers=admin_headers)
    assert bad.status_code == 422


def test_default_period_and_grid(demo_client, admin_headers):
    got = demo_client.get("/api/stats/dashboard", headers=admin_headers).json()
    assert got["grid"]["level"] == "city" and len(got["trend_day"]) == 30
    assert got["period"]["to"] == str(today())


def test_migration_fills_from_existing_rows_and_the_cli(demo_clone_url, owner_url):
    """Down to 0006 and up again: the summaries are filled from the stored cases and events; then the CLI
    rebuilds them (the same rows) and prints a table as CSV equal to the service's rows."""
    with new_session(demo_clone_url) as db:
        village, lon, lat = village_of_street(db, A, 0)
        who = inspector(db, village)
        db.commit()
        case = report(db, who, lon, lat, at=local("2026-10-09 09:00"))
        act(db, ADMINISTRATOR, case, "file", at=local("2026-10-09 09:05"))
        report(db, who, lon, lat, category="E09006", at=local("2026-10-10 09:00"))
        kept = summary_rows(db)
    get_engine(demo_clone_url).dispose()
    migrate.downgrade(owner_url(demo_clone_url), "0006")
    migrate.upgrade(owner_url(demo_clone_url))
    with new_session(demo_clone_url) as db:
        assert summary_rows(db) == kept and kept["stats_area_day"]
    env = {
        **os.environ,
        "DATABASE_URL": demo_clone_url,
        "GRIDOPS_OWNER_DATABASE_URL": owner_url(demo_clone_url),
        "COLUMNS": "200",
    }
    rebuilt = gridops("stats", "rebuild", env=env)
    assert "汇总表已重建" in rebuilt.stderr + rebuilt.stdout
    with new_session(demo_clone_url) as db:
        assert summary_rows(db) == kept
        rows, fields = stats_export.table_rows(board(db, grid=A), "categories")
    printed = gridops(
        "stats", "dashboard", "--from", str(START), "--to", str(END), "--grid", A, "--table", "categories",
        "--csv", env=env,
    )  # fmt: skip
    lines = list(csv.reader(io.StringIO(printed.stdout)))
    assert lines[0] == ["编码", "名称", "受理数"] == [stats_export.HEADERS[f] for f in fields]
    assert lines[1:] == [[str(r[f]) for f in fields] for r in rows] and len(lines) == 3
    shown = gridops("stats", "dashboard", "--from", str(START), "--to", str(END), "--grid", A, env=env)
    assert "总计" in shown.stdout and "街道排名" in shown.stdout and "按汇总表计算" in shown.stdout
