"""Dashboard figures over a period, a grid subtree and optionally a department (issue 6's definitions).

The figures are read from the summary tables when they hold the request's keys (an area down to streets,
inspectors' grids down to villages), else from temporary tables of the same shape rolled up from the
request's cases by the same SQL (``server.stats.sql``); the same queries then read either."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from server.auth.principal import Principal
from server.case.scope import scope_of
from server.category import service as category_service
from server.category.models import Department
from server.config import get_settings
from server.errors import Forbidden, Invalid
from server.grid import service as grid_service
from server.grid.models import CURRENT, Grid, day_start, today
from server.stats import sql
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
    ThreeRatesRow,
    WarningRow,
    WeekRow,
)

# Roles that see dashboards (inspectors see their own figures in the app).
DASHBOARD_ROLES = frozenset(
    {"admin", "leader", "grid_head", "acceptor", "shift_lead", "dispatcher", "department"}
)
COUNTS = ("received", "due", "closed", "closed_on_time", "handled_on_time", "reworked")
TOP = 10


@dataclass(frozen=True)
class Request:
    start: date
    end: date
    grid: Grid
    department: Department | None


# -- the request --------------------------------------------------------------------------------------


def resolve(
    *,
    db: Session,
    principal: Principal,
    start: date | None = None,
    end: date | None = None,
    grid: str | None = None,
    department: str | None = None,
) -> Request:
    """The request a user may make: the period (default the last 30 days ending today), the grid (default
    their top grid, else the city root) and the department, checked against their scope."""
    if not principal.has(*DASHBOARD_ROLES):
        raise Forbidden(
            "dashboards are for leaders, grid heads, the command center and departments; "
            f"you have {', '.join(sorted(principal.roles)) or 'no role'}"
        )
    end = end or today()
    start = start or end - timedelta(days=29)
    if start > end:
        raise Invalid(f"the period starts ({start}) after it ends ({end})")
    longest = get_settings().stats_max_days
    if (end - start).days + 1 > longest:
        raise Invalid(f"a period is at most {longest} days; {start}..{end} has {(end - start).days + 1}")
    scope = scope_of(db=db, principal=principal)
    if not scope.everything and not scope.grid_paths and scope.department_id is None:
        raise Forbidden("you are bound to no grid and no department: there is no dashboard for you")
    if grid is None:
        paths = sorted(scope.grid_paths, key=lambda p: (p.count("."), p))
        target = _top_grid(db) if scope.everything or not paths else _grid_at(db, paths[0])
    else:
        target = grid_service.get_grid(db=db, code=grid)
        inside = any(target.path == p or target.path.startswith(p + ".") for p in scope.grid_paths)
        if not scope.everything and scope.grid_paths and not inside:
            mine = ", ".join(p.rsplit(".", 1)[-1] for p in scope.grid_paths)
            raise Forbidden(f"grid {grid} is outside your grids ({mine})")
    dept = (
        category_service.get_department(db=db, code=department, include_inactive=True) if department else None
    )
    if not scope.everything and scope.department_id is not None:
        if dept is not None and dept.id != scope.department_id:
            raise Forbidden(f"you may see only your own department's figures, not {department}'s")
        dept = db.get(Department, scope.department_id)
    return Request(start, end, target, dept)


def _top_grid(db: Session) -> Grid:
    root = db.scalar(select(Grid).where(CURRENT, Grid.parent_code.is_(None)).order_by(Grid.code).limit(1))
    if root is None:
        raise Invalid("there are no grids yet: import them first (gridops grids import)")
    return root


def _grid_at(db: Session, path: str) -> Grid:
    return db.scalar(select(Grid).where(CURRENT, Grid.path == path))


# -- rates and scores ---------------------------------------------------------------------------------


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def weighted(parts: dict[str, float | None], weights: dict[str, float]) -> float | None:
    """0-100: the weighted mean of the rates present, their weights scaled up to 1; None without any."""
    present = {k: v for k, v in parts.items() if v is not None}
    total = sum(weights[k] for k in present)
    if not present or not total:
        return None
    return 100 * sum(weights[k] * v for k, v in present.items()) / total


def grade(score: float | None) -> str | None:
    if score is None:
        return None
    bounds = sorted(get_settings().stats_grades.items(), key=lambda kv: -kv[1])
    return next((name for name, low in bounds if score >= low), "E")


def _complement(rate: float | None) -> float | None:
    return None if rate is None else 1 - rate


def counts(row: dict) -> dict:
    """Counts with their rates, and the area score and grade."""
    c = {k: int(row.get(k) or 0) for k in COUNTS}
    due = c["due"]
    rates = {
        "closure_rate": ratio(c["closed"], due),
        "on_time_closure_rate": ratio(c["closed_on_time"], due),
        "on_time_handling_rate": ratio(c["handled_on_time"], due),
        "rework_rate": ratio(c["reworked"], due),
    }
    score = weighted(
        {
            "closure": rates["closure_rate"],
            "on_time_closure": rates["on_time_closure_rate"],
            "on_time_handling": rates["on_time_handling_rate"],
            "no_rework": _complement(rates["rework_rate"]),
        },
        get_settings().stats_area_weights,
    )
    return {**c, **rates, "score": score, "grade": grade(score)}


def ranked(rows: list[dict], due: str = "due", name: str = "code") -> list[dict]:
    """Rows numbered by score (nulls last), then ``due``, then ``name``."""
    rows.sort(key=lambda r: (r["score"] is None, -(r["score"] or 0), -r[due], r[name]))
    return [{**r, "rank": i} for i, r in enumerate(rows, 1)]


def three_rates(db: Session, request: Request, level: str) -> list[dict]:
    """Beijing's three rates for the grids of ``level`` in the area, over the cohort (received in the period,
    merged cases left out, the department's when one is asked for), from each case's latest call-back. Read
    from the cases and their events: call-backs are few."""
    rows = db.execute(
        text(
            """
            WITH latest AS (
                SELECT DISTINCT ON (e.case_id) e.case_id, c.grid_path, e.data
                FROM case_event e JOIN case_file c ON c.id = e.case_id
                WHERE e.action = 'callback' AND c.grid_path <@ CAST(:area AS ltree) AND c.state <> 'merged'
                  AND c.received_at >= :since AND c.received_at < :until
                  AND (CAST(:dept AS bigint) IS NULL OR c.department_id = :dept)
                ORDER BY e.case_id, e.id DESC
            )
            SELECT g.code, g.name, g.level,
                   count(l.case_id) AS called_back,
                   count(*) FILTER (WHERE (l.data->>'contacted')::boolean) AS contacted,
                   count(*) FILTER (WHERE (l.data->>'contacted')::boolean AND (l.data->>'solved')::boolean)
                       AS solved,
                   count(*) FILTER (WHERE l.data->>'satisfaction' = 'satisfied') AS satisfied,
                   count(*) FILTER (WHERE l.data->>'satisfaction' = 'basically_satisfied')
                       AS basically_satisfied,
                   count(*) FILTER (WHERE l.data->>'satisfaction' = 'not_satisfied') AS not_satisfied
            FROM grid g LEFT JOIN latest l ON l.grid_path <@ g.path
            WHERE g.valid_to IS NULL AND g.level = :level AND g.path <@ CAST(:area AS ltree)
            GROUP BY g.code, g.name, g.level
            """
        ),
        {
            "area": request.grid.path,
            "level": level,
            "dept": request.department.id if request.department else None,
            "since": day_start(request.start),
            "until": day_start(request.end + timedelta(days=1)),
        },
    )
    settings = get_settings()
    out = []
    for row in rows:
        r = dict(row._mapping)
        reached = r["contacted"]
        r["response_rate"] = ratio(reached, r["called_back"])
        r["resolution_rate"] = ratio(r["solved"], reached)
        pleased = r["satisfied"] + settings.stats_basically_satisfied * r["basically_satisfied"]
        r["satisfaction_rate"] = pleased / reached if reached else None
        r["score"] = weighted(
            {
                "response": r["response_rate"],
                "resolution": r["resolution_rate"],
                "satisfaction": r["satisfaction_rate"],
            },
            settings.stats_three_rate_weights,
        )
        r["grade"] = grade(r["score"])
        out.append(r)
    return ranked(out, due="called_back")


# -- where the figures come from ----------------------------------------------------------------------


@dataclass(frozen=True)
class Tables:
    area: str
    category: str
    hour: str
    inspector: str


SUMMARY_TABLES = Tables("stats_area_day", "stats_category_day", "stats_hour_day", "stats_inspector_day")
RAW_TABLES = Tables("stats_raw_area", "stats_raw_category", "stats_raw_hour", "stats_raw_inspector")


def _raw_tables(db: Session, area: str, first: date, end: date, inspectors: list[int]) -> None:
    """Temporary tables shaped like the summaries, rolled up from the cases of ``area`` received from
    ``first`` to ``end`` (and the inspectors' own reports and replies) by the summaries' own SQL."""
    tz = get_settings().timezone
    params = {
        "area": area,
        "t0": day_start(first),
        "t1": day_start(end + timedelta(days=1)),
        "users": inspectors,
    }
    cases = (
        "(SELECT 1 AS sign, c.* FROM case_file AS c WHERE c.grid_path <@ CAST(:area AS ltree) "
        "AND c.received_at >= :t0 AND c.received_at < :t1)"
    )
    for summary, table in ((sql.AREA, RAW_TABLES.area), (sql.CATEGORY, RAW_TABLES.category),
                           (sql.HOUR, RAW_TABLES.hour)):  # fmt: skip
        rollup = summary.rollup(cases, tz, sql.RAW_DEPTH)
        db.execute(text(f"CREATE TEMP TABLE {table} ON COMMIT DROP AS {rollup}"), params)
    db.execute(
        text(
            f"CREATE TEMP TABLE {RAW_TABLES.inspector} (LIKE stats_inspector_day INCLUDING ALL) "
            "ON COMMIT DROP"
        )
    )
    reports = (
        "(SELECT 1 AS sign, c.* FROM case_file AS c WHERE c.reporter_id = ANY(CAST(:users AS bigint[])) "
        "AND c.received_at >= :t0 AND c.received_at < :t1)"
    )
    replies = (
        "(SELECT 1 AS sign, e.* FROM case_event AS e WHERE e.actor_id = ANY(CAST(:users AS bigint[])) "
        "AND e.at >= :t0 AND e.at < :t1)"
    )
    for summary, source in ((sql.REPORTER, reports), (sql.EVENTS, replies)):
        db.execute(text(summary.upsert(source, tz, sql.RAW_DEPTH, RAW_TABLES.inspector)), params)
    for table in (RAW_TABLES.area, RAW_TABLES.category, RAW_TABLES.hour, RAW_TABLES.inspector):
        db.execute(text(f"ANALYZE {table}"))  # temporary tables get no statistics otherwise


def _drop_raw_tables(db: Session) -> None:
    for table in (RAW_TABLES.area, RAW_TABLES.category, RAW_TABLES.hour, RAW_TABLES.inspector):
        db.execute(text(f"DROP TABLE IF EXISTS pg_temp.{table}"))


def _sums(names=COUNTS) -> str:
    return ", ".join(f"coalesce(sum(s.{n}), 0)::int AS {n}" for n in names)


# -- the dashboard ------------------------------------------------------------------------------------


def dashboard(*, db: Session, request: Request, source: str | None = None) -> Dashboard:
    """Every figure of the dashboard. ``source`` forces "summary" or "cases" (the benchmark compares
    them); by default the summaries answer whenever they hold the request's keys."""
    settings = get_settings()
    area = request.grid
    depth = area.path.count(".") + 1
    inspectors = _inspectors(db, request)
    deepest = max((p.count(".") + 1 for i in inspectors for p in i["paths"]), default=0)
    fits = depth <= sql.DETAIL_DEPTH and deepest <= sql.AREA_DEPTH
    source = source or ("summary" if fits else "cases")
    if source == "summary" and not fits:
        raise Invalid(
            f"the summaries hold areas down to grid depth {sql.DETAIL_DEPTH} and inspectors' grids down to "
            f"depth {sql.AREA_DEPTH}: grid {area.code}'s figures come from the cases"
        )
    recent, baseline = settings.stats_warning_recent_days, settings.stats_warning_baseline_days
    window_start = request.end - timedelta(days=recent + baseline - 1)
    first = min(request.start, window_start)
    if source == "cases":
        _raw_tables(db, area.path, first, request.end, [i["user_id"] for i in inspectors])
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
            warnings=[WarningRow(**w) for w in q.warnings(window_start)],
            three_rates_districts=[ThreeRatesRow(**r) for r in three_rates(db, request, "district")],
            three_rates_streets=[ThreeRatesRow(**r) for r in three_rates(db, request, "street")],
        )
    finally:
        if source == "cases":
            _drop_raw_tables(db)


def weeks(days: list[dict]) -> list[dict]:
    out: dict[str, dict] = {}
    for d in days:
        year, week, _ = d["date"].isocalendar()
        row = out.setdefault(f"{year}-W{week:02d}", {"received": 0, "due": 0, "closed": 0})
        for k in row:
            row[k] += d[k]
    return [{"week": w, **row} for w, row in out.items()]


def _inspectors(db: Session, request: Request) -> list[dict]:
    """Users with the inspector role assigned, in the period, to grids of the area; their grids' paths
    (a grid inside another of theirs left out: its cases are counted there)."""
    rows = db.execute(
        text(
            """
            SELECT u.id, u.name, array_agg(DISTINCT g.code ORDER BY g.code), array_agg(DISTINCT g.path::text)
            FROM app_user u
            JOIN grid_assignment a ON a.user_id = u.id AND a.role = 'inspector'
            JOIN grid g ON g.code = a.grid_code AND g.valid_to IS NULL
            WHERE 'inspector' = ANY(u.roles) AND a.starts_on <= :end
              AND (a.ends_on IS NULL OR a.ends_on >= :start) AND g.path <@ CAST(:area AS ltree)
            GROUP BY u.id, u.name
            """
        ),
        {"start": request.start, "end": request.end, "area": request.grid.path},
    ).all()
    out = []
    for user_id, name, codes, paths in rows:
        outer = [p for p in paths if not any(p != o and p.startswith(o + ".") for o in paths)]
        out.append({"user_id": user_id, "name": name, "grid_codes": codes, "paths": sorted(outer)})
    return out


class Query:
    """The figure queries, over the summary tables or their raw twins."""

    def __init__(self, db: Session, tables: Tables, request: Request, depth: int) -> None:
        self.db, self.t, self.r, self.depth = db, tables, request, depth
        self.params = {
            "area": request.grid.path,
            "depth": depth,
            "dept": request.department.id if request.department else 0,
            "start": request.start,
            "end": request.end,
        }

    def _all(self, statement: str, **params) -> list[dict]:
        return [dict(r._mapping) for r in self.db.execute(text(statement), {**self.params, **params})]

    def days(self) -> list[dict]:
        found = {
            r["day"]: r
            for r in self._all(
                f"""
                SELECT s.day, {_sums()} FROM {self.t.area} s
                WHERE s.path = CAST(:area AS ltree) AND s.depth = :depth AND s.department_id = :dept
                  AND s.day BETWEEN :start AND :end
                GROUP BY s.day
                """
            )
        }
        out, day = [], self.r.start
        while day <= self.r.end:
            row = found.get(day, {})
            out.append({"date": day, **{k: int(row.get(k) or 0) for k in COUNTS}})
            day += timedelta(days=1)
        return out

    def areas(self, level: str) -> list[dict]:
        rows = self._all(
            f"""
            SELECT g.code, g.name, g.level, {_sums()}
            FROM grid g LEFT JOIN {self.t.area} s
              ON s.path = g.path AND s.depth = nlevel(g.path) AND s.department_id = :dept
             AND s.day BETWEEN :start AND :end
            WHERE g.valid_to IS NULL AND g.level = :level AND g.path <@ CAST(:area AS ltree)
            GROUP BY g.code, g.name, g.level
            """,
            level=level,
        )
        return ranked([{**r, **counts(r)} for r in rows])

    def departments(self) -> list[dict]:
        rows = self._all(
            f"""
            SELECT d.code, d.name, {_sums()}
            FROM {self.t.area} s JOIN department d ON d.id = s.department_id
            WHERE s.path = CAST(:area AS ltree) AND s.depth = :depth AND s.department_id <> 0
              AND (:dept = 0 OR s.department_id = :dept) AND s.day BETWEEN :start AND :end
            GROUP BY d.code, d.name HAVING sum(s.received) > 0
            """
        )
        largest = max((r["due"] for r in rows), default=0)
        weights = get_settings().stats_department_weights
        out = []
        for r in rows:
            row = {**r, **counts(r), "volume_band": ratio(r["due"], largest)}
            row["score"] = weighted(
                {
                    "volume": row["volume_band"],
                    "closure": row["closure_rate"],
                    "on_time_handling": row["on_time_handling_rate"],
                    "no_rework": _complement(row["rework_rate"]),
                },
                weights,
            )
            row["grade"] = grade(row["score"])
            out.append(row)
        return ranked(out)

    def inspectors(self, inspectors: list[dict]) -> list[dict]:
        if not inspectors:
            return []
        own = {
            r["user_id"]: r
            for r in self._all(
                f"""
                SELECT s.user_id, {_sums(sql.INSPECTOR_MEASURES)} FROM {self.t.inspector} s
                WHERE s.user_id = ANY(CAST(:users AS bigint[])) AND s.day BETWEEN :start AND :end
                GROUP BY s.user_id
                """,
                users=[i["user_id"] for i in inspectors],
            )
        }
        pairs = [(i["user_id"], p) for i in inspectors for p in i["paths"]]
        grids = {
            r["user_id"]: r
            for r in self._all(
                f"""
                SELECT x.user_id, {_sums(("due", "due_by_others"))}
                FROM unnest(CAST(:users AS bigint[]), CAST(:paths AS ltree[])) AS x(user_id, path)
                JOIN {self.t.area} s ON s.path = x.path AND s.depth = nlevel(x.path)
                 AND s.department_id = :dept AND s.day BETWEEN :start AND :end
                GROUP BY x.user_id
                """,
                users=[u for u, _ in pairs],
                paths=[p for _, p in pairs],
            )
        }
        weights = get_settings().stats_inspector_weights
        out = []
        for i in inspectors:
            o = {k: int(v) for k, v in own.get(i["user_id"], {}).items() if k != "user_id"}
            o = {k: o.get(k, 0) for k in sql.INSPECTOR_MEASURES}
            g = grids.get(i["user_id"], {})
            grid_due, others = int(g.get("due") or 0), int(g.get("due_by_others") or 0)
            row = {
                "user_id": i["user_id"],
                "name": i["name"],
                "grid_codes": i["grid_codes"],
                **o,
                "valid_rate": ratio(o["valid"], o["reported"]),
                "verification_rate": ratio(o["verifications_on_time"], o["verifications"]),
                "check_rate": ratio(o["checks_on_time"], o["checks"]),
                "grid_due": grid_due,
                "found_by_others": others,
                "miss_rate": ratio(others, grid_due),
            }
            row["score"] = weighted(
                {
                    "valid": row["valid_rate"],
                    "no_miss": _complement(row["miss_rate"]),
                    "verification": row["verification_rate"],
                    "check": row["check_rate"],
                },
                weights,
            )
            row["grade"] = grade(row["score"])
            out.append(row)
        return ranked(out, due="grid_due", name="name")

    def categories(self) -> list[dict]:
        return self._all(
            f"""
            SELECT c.code, c.name, sum(s.received)::int AS received
            FROM {self.t.category} s JOIN category c ON c.id = s.category_id
            WHERE s.path = CAST(:area AS ltree) AND s.depth = :depth AND s.department_id = :dept
              AND s.day BETWEEN :start AND :end
            GROUP BY c.code, c.name HAVING sum(s.received) > 0
            ORDER BY received DESC, c.code LIMIT {TOP}
            """
        )

    def _children(self, columns: str, start: date, **params) -> list[dict]:
        return self._all(
            f"""
            SELECT g.code, g.name, g.level, {columns}
            FROM grid g JOIN {self.t.area} s
              ON s.path = g.path AND s.depth = :depth + 1 AND s.department_id = :dept
             AND s.day BETWEEN :from_day AND :end
            WHERE g.valid_to IS NULL AND g.parent_code = :code
            GROUP BY g.code, g.name, g.level, g.geom HAVING sum(s.received) > 0
            """,
            code=self.r.grid.code,
            from_day=start,
            **params,
        )

    def hot_grids(self) -> list[dict]:
        rows = self._children(
            "sum(s.received)::int AS received, "
            "ST_X(ST_Centroid(g.geom)) AS lon, ST_Y(ST_Centroid(g.geom)) AS lat",
            self.r.start,
        )
        return sorted(rows, key=lambda r: (-r["received"], r["code"]))[:TOP]

    def hours(self) -> list[dict]:
        found = dict(
            self.db.execute(
                text(
                    f"""
                    SELECT s.hour, sum(s.received)::int FROM {self.t.hour} s
                    WHERE s.path = CAST(:area AS ltree) AND s.depth = :depth AND s.department_id = :dept
                      AND s.day BETWEEN :start AND :end
                    GROUP BY s.hour
                    """
                ),
                self.params,
            ).all()
        )
        return [{"hour": h, "received": found.get(h, 0)} for h in range(24)]

    def warnings(self, window_start: date) -> list[dict]:
        settings = get_settings()
        cut = self.r.end - timedelta(days=settings.stats_warning_recent_days - 1)
        split = (
            "sum(s.received) FILTER (WHERE s.day >= :cut)::int AS recent, "
            "coalesce(sum(s.received) FILTER (WHERE s.day < :cut), 0)::int AS before"
        )
        categories = self._all(
            f"""
            SELECT c.code, c.name, {split}
            FROM {self.t.category} s JOIN category c ON c.id = s.category_id
            WHERE s.path = CAST(:area AS ltree) AND s.depth = :depth AND s.department_id = :dept
              AND s.day BETWEEN :from_day AND :end
            GROUP BY c.code, c.name
            """,
            cut=cut,
            from_day=window_start,
        )
        grids = self._children(split, window_start, cut=cut)
        out = [w for r in categories if (w := warning("category", r))] + [
            w for r in grids if (w := warning("grid", r))
        ]
        return sorted(out, key=lambda w: (-w["ratio"], w["kind"], w["code"]))


def warning(kind: str, row: dict) -> dict | None:
    """The early-warning rule (settings) on one category's or grid's counts, with its message."""
    settings = get_settings()
    weeks_before = settings.stats_warning_baseline_days / 7
    recent = int(row["recent"] or 0)
    baseline = (row["before"] or 0) / weeks_before
    if recent < settings.stats_warning_min_count or recent < settings.stats_warning_factor * max(baseline, 1):
        return None
    rate = recent / max(baseline, 1)
    label = "类别" if kind == "category" else "网格"
    message = (
        f"{label} {row['name']} 近{settings.stats_warning_recent_days}天 {recent} 件，"
        f"为前{weeks_before:g}周周均 {baseline:.1f} 件的 {rate:.1f} 倍"
    )
    return {"kind": kind, "code": row["code"], "name": row["name"], "recent": recent,
            "baseline": baseline, "ratio": rate, "message": message}  # fmt: skip


# -- export -------------------------------------------------------------------------------------------


def cell(name: str, value) -> str:
    """A value as the CSV shows it: floats with 4 decimals (coordinates with 6), lists joined by spaces,
    nulls empty."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6f}" if name in ("lon", "lat") else f"{value:.4f}"
    if isinstance(value, list):
        return " ".join(map(str, value))
    return str(value)


def csv_text(rows: list[dict], fields: list[str]) -> str:
    """A table as CSV with a BOM (Excel then reads the Chinese right) and a header of the field names."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(fields)
    for row in rows:
        writer.writerow([cell(f, row.get(f)) for f in fields])
    return out.getvalue()


def table_rows(board: Dashboard, table: str) -> tuple[list[dict], list[str]]:
    rows = getattr(board, table)
    model = type(board).model_fields[table].annotation.__args__[0]
    fields = list(model.model_fields)
    return [r.model_dump(mode="json") for r in rows], fields


# -- rebuild ------------------------------------------------------------------------------------------


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
    db.commit()
    return rows
