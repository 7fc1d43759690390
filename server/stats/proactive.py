"""未诉先办, per street: the cases inspectors found (and of those, the ones found on a proactive patrol task,
主动发现, server/patrol/tasks.py) against those citizens reported (the hotline, the citizens' pages and
Open311), over the dashboard's period, area and department; in one query."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from server.grid.subtree import within_sql
from server.stats.request import Request
from server.stats.three_rates import cohort_params

CITIZEN_CHANNELS = ("citizen", "hotline", "open311")

BY_STREET = text(
    f"""
    SELECT k.code, k.name,
        count(*) FILTER (WHERE c.channel = 'inspector') AS found,
        count(*) FILTER (WHERE c.channel = 'inspector' AND c.patrol_task_id IS NOT NULL) AS proactive,
        count(*) FILTER (WHERE c.channel IN {CITIZEN_CHANNELS}) AS citizens
    FROM case_file c
    JOIN grid k ON k.valid_to IS NULL AND k.level = 'street'
        AND k.path = subpath(c.grid_path, 0, least(CAST(:depth AS int), nlevel(c.grid_path)))
    WHERE {within_sql("c.grid_path", ":area")} AND c.state <> 'merged'
      AND c.received_at >= :since AND c.received_at < :until
      AND (CAST(:dept AS bigint) IS NULL OR c.department_id = :dept)
    GROUP BY k.code, k.name
    ORDER BY k.code
    """
)


def by_street(db: Session, request: Request) -> list[dict]:
    """Per street of the area with cases: found by inspectors, found on proactive tasks, reported by
    citizens, and the share found by inspectors (of those two sources; None without either)."""
    out = []
    for row in db.execute(BY_STREET, cohort_params(request, "street")):
        both = row.found + row.citizens
        out.append({**row._mapping, "found_share": row.found / both if both else None})
    return out
