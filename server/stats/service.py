"""Dashboard figures over a period, a grid subtree and optionally a department (docs/DOMAIN.md section 8).

The figures are read from the summary tables when they hold the request's keys (an area down to streets,
inspectors' grids down to villages), else from temporary tables of the same shape rolled up from the
request's cases by the same SQL (``server.stats.sql``); the same queries (``server.stats.figures``) then read
either. ``rebuild`` recomputes the summaries from the cases and events."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.orm import Session

from server.config import get_settings
from server.errors import Invalid
from server.stats import proactive, sql
from server.stats.figures import RAW_TABLES, SUMMARY_TABLES, Query, drop_raw_tables, inspectors_of, raw_tables
from server.stats.request import Request
from server.stats.schemas import (
    AreaRow,
    CategoryRow,
    Counts,
    Dashboard,
    DayRow,
    DepartmentRef,
    DepartmentRow,
    GridRef,
    HotGridRow,
    HourRow,
    InspectorRow,
    Period,
    ProactiveRow,
    RatingRow,
    ReturnsRow,
    ThreeRatesRow,
    WeekRow,
    WorkingDaysRow,
)
from server.stats.scores import COUNTS, counts
from server.stats.service_quality import ratings, returns, working_days
from server.stats.three_rates import three_rates


def dashboard(
    *, db: Session, request: Request, source: str | None = None, primary: Session | None = None
) -> Dashboard:
    """Every figure of the dashboard. ``source`` forces "summary" or "cases" (the benchmark compares
    them); by default the summaries answer whenever they hold the request's keys. ``db`` may be a read
    replica's session: the figures from the cases need temporary tables, which only the primary can make,
    so they are read from ``primary`` when given."""
    settings = get_settings()
    area = request.grid
    depth = area.path.count(".") + 1
    inspectors = inspectors_of(db, request)
    deepest = max((p.count(".") + 1 for i in inspectors for p in i["paths"]), default=0)
    fits = depth <= sql.DETAIL_DEPTH and deepest <= sql.AREA_DEPTH
    source = source or ("summary" if fits else "cases")
    if source == "summary" and not fits:
        raise Invalid(
            "stats.beyond_summaries", detail_depth=sql.DETAIL_DEPTH, area_depth=sql.AREA_DEPTH, grid=area.code
        )
    if source == "cases":
        db = primary or db
        raw_tables(db, area.path, request.start, request.end, [i["user_id"] for i in inspectors])
        tables = RAW_TABLES
    else:
        tables = SUMMARY_TABLES
    try:
        q = Query(db, tables, request, depth)
        days = q.days()
        return Dashboard(
            period=Period(from_=request.start, to=request.end),
            grid=GridRef(code=area.code, name=area.name, level=area.level),
            department=DepartmentRef(code=request.department.code, name=request.department.name)
            if request.department
            else None,
            source=source,
            totals=Counts(**counts({k: sum(d[k] for d in days) for k in COUNTS})),
            districts=[AreaRow(**r) for r in q.areas("district")],
            streets=[AreaRow(**r) for r in q.areas("street")],
            departments=[DepartmentRow(**r) for r in q.departments()],
            inspectors=[InspectorRow(**r) for r in q.inspectors(inspectors)],
            trend_day=[DayRow(**d) for d in days],
            trend_week=[WeekRow(**w) for w in weeks(days)],
            categories=[CategoryRow(**r) for r in q.categories()],
            grids=[HotGridRow(**r) for r in q.hot_grids()],
            hours=[HourRow(**r) for r in q.hours()],
            three_rates_districts=[
                ThreeRatesRow(**r) for r in three_rates(db, request, "district", "beijing")
            ],
            three_rates_streets=[ThreeRatesRow(**r) for r in three_rates(db, request, "street", "beijing")],
            rates_form=settings.stats_rates,
            rates_streets=[ThreeRatesRow(**r) for r in three_rates(db, request, "street")],
            rates_departments=[ThreeRatesRow(**r) for r in three_rates(db, request, "department")],
            ratings_departments=[RatingRow(**r) for r in ratings(db, request, "department")],
            ratings_categories=[RatingRow(**r) for r in ratings(db, request, "category")],
            ratings_streets=[RatingRow(**r) for r in ratings(db, request, "street")],
            working_days_streets=[WorkingDaysRow(**r) for r in working_days(db, request, "street")],
            working_days_departments=[WorkingDaysRow(**r) for r in working_days(db, request, "department")],
            returns=[ReturnsRow(**r) for r in returns(db, request)],
            proactive_streets=[ProactiveRow(**r) for r in proactive.by_street(db, request)],
        )
    finally:
        if source == "cases":
            drop_raw_tables(db)


def weeks(days: list[dict]) -> list[dict]:
    out: dict[str, dict] = {}
    for d in days:
        year, week, _ = d["date"].isocalendar()
        row = out.setdefault(f"{year}-W{week:02d}", {"received": 0, "due": 0, "closed": 0})
        for k in row:
            row[k] += d[k]
    return [{"week": w, **row} for w, row in out.items()]


def rebuild(
    *, db: Session, chunk: int = 500_000, progress: Callable[[int, int], None] = lambda done, total: None
) -> int:
    """Recompute the summaries from the cases and events (after a bulk load with the triggers off), in
    chunks of ``chunk`` ids, calling ``progress(done, total)``; renews the trigger functions from the
    current code and settings first, so ``db`` must be the schema owner's (``gridops stats rebuild``). Case
    writes wait meanwhile (a SHARE lock on the cases and events); one commit at the end. Returns how many
    summary rows there are."""
    tz = get_settings().timezone
    db.execute(text("LOCK TABLE case_file, case_event IN SHARE MODE"))
    for statement in sql.function_sql(tz):
        db.execute(text(statement))
    db.execute(text(f"TRUNCATE {', '.join(sql.TABLES)}"))
    cases, events = (
        db.execute(text(f"SELECT coalesce(max(id), 0) FROM {t}")).scalar()
        for t in ("case_file", "case_event")
    )
    total = cases + events
    done = 0
    for last, alias in ((cases, "c"), (events, "e")):
        for low in range(1, last + 1, chunk):
            where = f"{alias}.id BETWEEN {low} AND {low + chunk - 1}"
            for statement in sql.fill_sql(tz, where, events=alias == "e"):
                db.execute(text(statement))
            done += min(chunk, last - low + 1)
            progress(done, total)
    rows = sum(db.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in sql.TABLES)
    db.execute(text(f"ANALYZE {', '.join(sql.TABLES)}"))  # the planner sees the new contents at once
    db.commit()
    return rows
