"""The three rates (三率) of districts, streets or departments, in both forms a city may be assessed by
(docs/DOMAIN.md section 8): Beijing's 响应率 / 解决率 / 满意率 from the call-backs, and the 投诉率 (complaints
per 10,000 residents) / 办结率 / 满意率 of Pingshan's. Read from the cases and their events: one query."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from server import messages
from server.config import get_settings
from server.grid.models import day_start
from server.grid.population import populations
from server.grid.subtree import within_sql
from server.stats.request import Request
from server.stats.scores import grade, ranked, ratio, weighted

PER_RESIDENTS = 10_000  # 投诉率: complaints per so many residents

# The request's cohort (received in the period in the area, merged cases left out, the department's when
# one is asked for), each case with its latest call-back's answers (NULL when it was never called back) and
# ``area_key``, its grid path cut to ``:depth`` labels (the path of its grid at that level: areas join on it
# by equality, a hash join, where "within" would compare every case with every area).
COHORT = f"""
    WITH cohort AS (
        SELECT c.id, c.code, c.grid_path, c.department_id, c.category_id, c.state, c.request_type,
               c.received_at, c.closed_at,
               subpath(c.grid_path, 0, least(CAST(:depth AS int), nlevel(c.grid_path))) AS area_key
        FROM case_file c
        WHERE {within_sql("c.grid_path", ":area")} AND c.state <> 'merged'
          AND c.received_at >= :since AND c.received_at < :until
          AND (CAST(:dept AS bigint) IS NULL OR c.department_id = :dept)
    ), latest AS (
        SELECT DISTINCT ON (e.case_id) e.case_id, e.data
        FROM case_event e JOIN cohort c ON c.id = e.case_id
        WHERE e.action = 'callback'
        ORDER BY e.case_id, e.id DESC
    ), p AS (
        SELECT c.*, l.case_id IS NOT NULL AS called, (l.data->>'contacted')::boolean AS contacted,
               (l.data->>'solved')::boolean AS solved, l.data->>'satisfaction' AS satisfaction
        FROM cohort c LEFT JOIN latest l ON l.case_id = c.id
    )
"""
_COUNTS = """
    count(p.id) AS received,
    count(*) FILTER (WHERE p.request_type = 'complaint') AS complaints,
    count(*) FILTER (WHERE p.state = 'closed') AS closed,
    count(*) FILTER (WHERE p.called) AS called_back,
    count(*) FILTER (WHERE p.contacted) AS contacted,
    count(*) FILTER (WHERE p.contacted AND p.solved) AS solved,
    count(*) FILTER (WHERE p.satisfaction = 'satisfied') AS satisfied,
    count(*) FILTER (WHERE p.satisfaction = 'basically_satisfied') AS basically_satisfied,
    count(*) FILTER (WHERE p.satisfaction = 'not_satisfied') AS not_satisfied
"""


def cohort_params(request: Request, level: str | None = None) -> dict:
    """The cohort's parameters; ``level`` names the grid level its ``area_key`` is cut to (default: the
    deepest)."""
    scheme = get_settings().scheme
    return {
        "depth": scheme.index(level or scheme.names[-1]) + 1,
        "area": request.grid.path,
        "dept": request.department.id if request.department else None,
        "since": day_start(request.start),
        "until": day_start(request.end + timedelta(days=1)),
        "category_level": request.category_level,
    }


def three_rates(db: Session, request: Request, by: str, form: str | None = None) -> list[dict]:
    """The three rates of the grids of level ``by`` in the area (every one of them), or of the departments
    with cohort cases (``by`` "department"), ranked in ``form`` (default: the settings' ``stats_rates``).
    Every row has the counts and both forms' rates; rows without cases are unranked (rank None)."""
    settings = get_settings()
    form = form or settings.stats_rates
    if by == "department":
        statement = f"""{COHORT}
            SELECT d.code, d.name, NULL AS level, {_COUNTS}
            FROM p JOIN department d ON d.id = p.department_id
            GROUP BY d.code, d.name"""
        people: dict[str, int | None] = {}
    else:
        statement = f"""{COHORT}
            SELECT g.code, g.name, g.level, {_COUNTS}
            FROM grid g LEFT JOIN p ON p.area_key = g.path
            WHERE g.valid_to IS NULL AND g.level = :level AND {within_sql("g.path", ":area")}
            GROUP BY g.code, g.name, g.level"""
        people = populations(db, request.grid.path)
    level = None if by == "department" else by
    rows = db.execute(text(statement), {**cohort_params(request, level), "level": by})
    out = []
    for row in rows:
        r = dict(row._mapping)
        reached = r["contacted"]
        pleased = r["satisfied"] + settings.stats_basically_satisfied * r["basically_satisfied"]
        r["response_rate"] = ratio(reached, r["called_back"])
        r["resolution_rate"] = ratio(r["solved"], reached)
        r["satisfaction_rate"] = pleased / reached if reached else None
        r["completion_rate"] = ratio(r["closed"], r["received"])
        r["population"] = people.get(r["code"])
        r.update(complaint_rate(r["complaints"], r["population"], by))
        if form == "beijing":
            parts = {
                "response": r["response_rate"],
                "resolution": r["resolution_rate"],
                "satisfaction": r["satisfaction_rate"],
            }
            r["score"] = weighted(parts, settings.stats_three_rate_weights)
        else:
            parts = {"completion": r["completion_rate"], "satisfaction": r["satisfaction_rate"]}
            r["score"] = weighted(parts, settings.stats_pingshan_weights)
        r["grade"] = grade(r["score"])
        r["form"] = form
        out.append(r)
    return ranked(out, due="called_back" if form == "beijing" else "received", cases="received")


def complaint_rate(complaints: int, population: int | None, by: str) -> dict:
    """投诉率 per 10,000 residents, or None with the reason in words (never 0 for an unknown population)."""
    if by == "department":
        return {"complaint_rate": None, "complaint_rate_note": messages.text("stats.department_population")}
    if not population:
        return {"complaint_rate": None, "complaint_rate_note": messages.text("stats.no_population")}
    return {"complaint_rate": PER_RESIDENTS * complaints / population, "complaint_rate_note": None}
