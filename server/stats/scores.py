"""Rates, scores and grades from counts (docs/DOMAIN.md section 8; the settings' weights and grade bounds)."""

from __future__ import annotations

from server.config import get_settings

COUNTS = ("received", "due", "closed", "closed_on_time", "handled_on_time", "reworked")


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


def complement(rate: float | None) -> float | None:
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
            "no_rework": complement(rates["rework_rate"]),
        },
        get_settings().stats_area_weights,
    )
    return {**c, **rates, "score": score, "grade": grade(score)}


def ranked(rows: list[dict], due: str = "due", name: str = "code", cases: str | None = None) -> list[dict]:
    """Rows numbered by score (nulls last), then ``due``, then ``name``. With ``cases``, rows where that
    count is 0 had nothing to be ranked on: they come last, unnumbered (rank None, shown as 无案件), so an
    area without cases never ranks above one with some."""
    rows.sort(
        key=lambda r: (bool(cases) and not r[cases], r["score"] is None, -(r["score"] or 0), -r[due], r[name])
    )
    return [{**r, "rank": i if not cases or r[cases] else None} for i, r in enumerate(rows, 1)]
