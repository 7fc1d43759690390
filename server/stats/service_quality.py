"""How the citizens were served, as Pingshan's reports give it (docs/DOMAIN.md section 8): their five-star
ratings per department, category and street; the mean working days from receiving to closing and the
fastest case, per street and department; and the returns (回退) per department."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import text
from sqlalchemy.orm import Session

from server.case.clock import calendar
from server.case.scope import Scope
from server.case.supervision import returns_by_department
from server.stats.figures import ancestor_join
from server.stats.request import Request
from server.stats.three_rates import COHORT, cohort_params

# A rating's stars: the mean of its four aspects (speed, result, attitude, system); low at 2 or below.
STARS = "(r.speed + r.result + r.attitude + r.system) / 4.0"
LOW_STARS = 2
# What a rating, or a closed case, is counted under: its department, its category, its street.
KEYS = {
    "department": ("JOIN department k ON k.id = p.department_id", "k.code", "k.name"),
    "category": (f"JOIN category kc ON kc.id = p.category_id {ancestor_join('kc', 'k')}", "k.code", "k.name"),
    "street": (
        "JOIN grid k ON k.valid_to IS NULL AND k.level = 'street' AND k.path = p.area_key",
        "k.code",
        "k.name",
    ),
}


def ratings(db: Session, request: Request, by: str) -> list[dict]:
    """The citizens' ratings of the cohort's cases per ``by`` (department, category or street): how many,
    their mean stars, and the share of low ones (2 stars or fewer); most rated first."""
    join, code, name = KEYS[by]
    rows = db.execute(
        text(
            f"""{COHORT}
            SELECT {code} AS code, {name} AS name, count(*) AS ratings, avg({STARS})::float AS mean_stars,
                   count(*) FILTER (WHERE {STARS} <= {LOW_STARS}) AS low
            FROM p JOIN public_rating r ON r.case_id = p.id {join}
            GROUP BY 1, 2 ORDER BY ratings DESC, code
            """
        ),
        cohort_params(request, "street"),
    )
    return [{**r._mapping, "low_share": r.low / r.ratings} for r in rows]


def working_days(db: Session, request: Request, by: str) -> list[dict]:
    """Per street or department (``by``), the cohort's closed cases: how many, their mean working days from
    received to closed on the city's calendar, and the fastest (fewest working minutes, then code); the
    quickest mean first."""
    join, code, name = KEYS[by]
    rows = db.execute(
        text(
            f"""{COHORT}
            SELECT {code} AS code, {name} AS name, p.code AS case_code, c.name AS category,
                   p.received_at, p.closed_at
            FROM p JOIN category c ON c.id = p.category_id {join}
            WHERE p.state = 'closed' AND p.closed_at IS NOT NULL
            """
        ),
        cohort_params(request, "street"),
    ).all()
    cal = calendar("work")
    day = cal.day_minutes()
    groups: dict[tuple[str, str], list[tuple[float, str, str]]] = defaultdict(list)
    for row in rows:
        minutes = cal.between(row.received_at, row.closed_at)
        groups[(row.code, row.name)].append((minutes / day, row.case_code, row.category))
    out = []
    for (key, label), cases in groups.items():
        days, case_code, category = min(cases)
        out.append(
            {
                "code": key,
                "name": label,
                "closed": len(cases),
                "mean_working_days": sum(d for d, _, _ in cases) / len(cases),
                "fastest_code": case_code,
                "fastest_category": category,
                "fastest_working_days": days,
            }
        )
    return sorted(out, key=lambda r: (r["mean_working_days"], r["code"]))


def returns(db: Session, request: Request) -> list[dict]:
    """The returns per department (``returns_by_department``) of the cases of the area in the period; only
    the request's department when it names one."""
    scope = Scope(user_id=None, everything=False, grid_paths=(request.grid.path,), department_id=None)
    rows = returns_by_department(db=db, scope=scope, since=request.start, until=request.end)
    wanted = request.department.code if request.department else None
    return [
        {"code": r.department.code, "name": r.department.name, "dispatched": r.dispatched,
         "returned": r.returned, "return_rate": r.ratio}
        for r in rows
        if wanted in (None, r.department.code)
    ]  # fmt: skip
