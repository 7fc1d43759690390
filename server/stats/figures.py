"""The figure queries of the dashboard, over the summary tables or over temporary tables of the same shape
rolled up from the request's cases by the summaries' own SQL (``server.stats.sql``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from server.config import get_settings
from server.grid.models import day_start
from server.grid.subtree import path_within, within_sql
from server.stats import sql
from server.stats.request import Request
from server.stats.scores import COUNTS, complement, counts, grade, ranked, ratio, weighted

TOP = 10


def ancestor_join(category: str, ancestor: str) -> str:
    """Join as ``ancestor`` the category a case's ``category`` is ranked under: its ancestor at
    :category_level (1: the top), itself when the level is NULL or not above it."""
    level = f"{category}.lineage[CAST(:category_level AS int)]"
    return f"JOIN category {ancestor} ON {ancestor}.code = coalesce({level}, {category}.code)"


@dataclass(frozen=True)
class Tables:
    area: str
    category: str
    hour: str
    inspector: str


SUMMARY_TABLES = Tables("stats_area_day", "stats_category_day", "stats_hour_day", "stats_inspector_day")
RAW_TABLES = Tables("stats_raw_area", "stats_raw_category", "stats_raw_hour", "stats_raw_inspector")


def raw_tables(db: Session, area: str, first: date, end: date, inspectors: list[int]) -> None:
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
        f"(SELECT 1 AS sign, c.* FROM case_file AS c WHERE {within_sql('c.grid_path', ':area')} "
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


def drop_raw_tables(db: Session) -> None:
    for table in (RAW_TABLES.area, RAW_TABLES.category, RAW_TABLES.hour, RAW_TABLES.inspector):
        db.execute(text(f"DROP TABLE IF EXISTS pg_temp.{table}"))


def _sums(names=COUNTS) -> str:
    return ", ".join(f"coalesce(sum(s.{n}), 0)::int AS {n}" for n in names)


def inspectors_of(db: Session, request: Request) -> list[dict]:
    """Users with the inspector role assigned, in the period, to grids of the area; their grids' paths
    (a grid inside another of theirs left out: its cases are counted there)."""
    rows = db.execute(
        text(
            f"""
            SELECT u.id, u.name, array_agg(DISTINCT g.code ORDER BY g.code), array_agg(DISTINCT g.path::text)
            FROM app_user u
            JOIN grid_assignment a ON a.user_id = u.id AND a.role = 'inspector'
            JOIN grid g ON g.code = a.grid_code AND g.valid_to IS NULL
            WHERE 'inspector' = ANY(u.roles) AND a.starts_on <= :end
              AND (a.ends_on IS NULL OR a.ends_on >= :start) AND {within_sql("g.path", ":area")}
            GROUP BY u.id, u.name
            """
        ),
        {"start": request.start, "end": request.end, "area": request.grid.path},
    ).all()
    out = []
    for user_id, name, codes, paths in rows:
        outer = [p for p in paths if not path_within(p, [o for o in paths if o != p])]
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
            "category_level": request.category_level,
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
            WHERE g.valid_to IS NULL AND g.level = :level AND {within_sql("g.path", ":area")}
            GROUP BY g.code, g.name, g.level
            """,
            level=level,
        )
        return ranked([{**r, **counts(r)} for r in rows], cases="received")

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
                    "no_rework": complement(row["rework_rate"]),
                },
                weights,
            )
            row["grade"] = grade(row["score"])
            out.append(row)
        return ranked(out, cases="received")

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
                    "no_miss": complement(row["miss_rate"]),
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
            SELECT a.code, a.name, sum(s.received)::int AS received
            FROM {self.t.category} s JOIN category c ON c.id = s.category_id {ancestor_join("c", "a")}
            WHERE s.path = CAST(:area AS ltree) AND s.depth = :depth AND s.department_id = :dept
              AND s.day BETWEEN :start AND :end
            GROUP BY a.code, a.name HAVING sum(s.received) > 0
            ORDER BY received DESC, a.code LIMIT {TOP}
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
