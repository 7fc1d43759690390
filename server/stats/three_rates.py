"""Beijing's three rates (response, resolution, satisfaction) of the grids of a level, from the call-backs."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from server.config import get_settings
from server.grid.models import day_start
from server.grid.subtree import within_sql
from server.stats.request import Request
from server.stats.scores import grade, ranked, ratio, weighted


def three_rates(db: Session, request: Request, level: str) -> list[dict]:
    """Beijing's three rates for the grids of ``level`` in the area, over the cohort (received in the period,
    merged cases left out, the department's when one is asked for), from each case's latest call-back. Read
    from the cases and their events: call-backs are few."""
    rows = db.execute(
        text(
            f"""
            WITH latest AS (
                SELECT DISTINCT ON (e.case_id) e.case_id, c.grid_path, e.data
                FROM case_event e JOIN case_file c ON c.id = e.case_id
                WHERE e.action = 'callback' AND {within_sql("c.grid_path", ":area")} AND c.state <> 'merged'
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
            FROM grid g LEFT JOIN latest l ON {within_sql("l.grid_path", "g.path")}
            WHERE g.valid_to IS NULL AND g.level = :level AND {within_sql("g.path", ":area")}
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
