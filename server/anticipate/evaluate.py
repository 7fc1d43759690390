"""The detection measured on a synthetic history (``gridops demo history``) against its ground truth
(table ``demo_history``): the history replayed week by week, the surge test of ``server.anticipate.detect``
and the old ratio rule (the last 7 days against the mean week of the 28 days before, at least 5 reports
and at least twice max(that mean, 1): the dashboard's former rule) on the same area x category x
week cells at the village, street and district levels, and the persistent test at the village level.

A planted surge is caught when a signal names its village (an area-wide surge: its district) and category
in one of its weeks; the delay is the weeks from its first week to that signal. A false alarm is a signal on
an area x category x week that no planted surge touches (a surge's village, the street and district holding
it, or every area under an area-wide surge's district)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.anticipate.backtest import MIN_HISTORY
from server.anticipate.detect import PERSISTENT_LEVELS, SURGE_LEVELS, Rules, persistent, surges
from server.anticipate.forecast import model_for
from server.anticipate.model import Model
from server.case.models import DemoHistory
from server.grid.models import CURRENT, Grid

OLD_DAYS, OLD_MIN, OLD_FACTOR = 28, 5, 2.0
RATES = (0.0001, 0.001, 0.01)  # false-alarm rates the replay also tries, beside the setting's


def methods(rules: Rules) -> dict[str, float | None]:
    """The methods replayed: the test at the setting's false-alarm rate and at ``RATES``, and the old rule
    (None)."""
    rates = sorted({rules.false_alarm_rate, *RATES})
    return {f"model:{r:g}": r for r in rates} | {"ratio": None}


def method_name(method: str, rules: Rules) -> str:
    if method == "ratio":
        return "原比值规则"
    rate = float(method.split(":")[1])
    return f"负二项检验，误报率 {rate:.2%}" + ("（当前设置）" if rate == rules.false_alarm_rate else "")


def ratio_rule(m: Model, t: int) -> np.ndarray:
    """The old rule's flags on every cell for the week ``[t, t + 7)``."""
    recent = m.observed(t, t + 7)
    baseline = m.observed(t - OLD_DAYS, t) / (OLD_DAYS / 7)
    return (recent >= OLD_MIN) & (recent >= OLD_FACTOR * np.maximum(baseline, 1))


@dataclass
class Caught:
    grid: str
    category: str
    start: date
    end: date
    factor: float
    delay: dict[str, int | None] = field(default_factory=dict)  # method -> weeks after its first week


@dataclass
class Outcome:
    weeks: int
    first_week: date
    last_week: date
    surges: list[Caught]
    false_alarms: dict[tuple[str, str], int]  # (method, level) -> signals outside planted surges
    true_signals: dict[tuple[str, str], int]
    rules: Rules
    hot_spots: list[dict]  # grid, category, factor, first (week found or None), last_week (flagged then)
    other_persistent: int  # distinct village x category cells flagged persistent that are no hot spot
    other_persistent_last: int

    def per_week(self, method: str, level: str | None = None) -> float:
        total = sum(n for (m, lv), n in self.false_alarms.items() if m == method and level in (None, lv))
        return total / max(self.weeks, 1)


def run(
    db: Session,
    *,
    rules: Rules | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> Outcome:
    history = db.scalar(select(DemoHistory).order_by(DemoHistory.id.desc()).limit(1))
    if history is None:
        raise LookupError("no synthetic history")
    rules = rules or Rules.from_settings()
    truth = history.truth
    paths = dict(
        db.execute(
            select(Grid.code, Grid.path).where(
                CURRENT,
                Grid.code.in_({s["grid"] for s in truth["surges"]} | {h["grid"] for h in truth["hot_spots"]}),
            )
        ).all()
    )
    models = {
        lv: model_for(db, lv, history.first_day, history.last_day, history.last_day) for lv in SURGE_LEVELS
    }
    return replay(models, truth, paths, rules, progress)


def replay(
    models: dict[str, Model],
    truth: dict,
    paths: dict[str, str],
    rules: Rules,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> Outcome:
    """The replay over models of the whole history (one per level, same days)."""
    any_model = next(iter(models.values()))
    start = max(MIN_HISTORY, OLD_DAYS)
    weeks = [t for t in range(start, any_model.s.days - 6) if any_model.s.day(t).weekday() == 0]
    planted = [
        Caught(
            s["grid"],
            s["category"],
            date.fromisoformat(s["start"]),
            date.fromisoformat(s["end"]),
            s["factor"],
        )
        for s in truth["surges"]
    ]
    hot = {(h["grid"], h["category"]): {**h, "first": None, "last_week": False} for h in truth["hot_spots"]}
    false_alarms: dict[tuple[str, str], int] = {}
    true_signals: dict[tuple[str, str], int] = {}
    others: set[tuple[str, str]] = set()
    others_last: set[tuple[str, str]] = set()
    for done, t in enumerate(weeks, 1):
        monday = any_model.s.day(t)
        for level, m in models.items():
            s = m.s
            touched = _touched(s, planted, paths, monday)
            flagged = {method: _flagged(m, t, rules, rate) for method, rate in methods(rules).items()}
            for method, cells in flagged.items():
                inside = cells & touched
                false_alarms[(method, level)] = false_alarms.get((method, level), 0) + len(cells - touched)
                true_signals[(method, level)] = true_signals.get((method, level), 0) + len(inside)
                for c in planted:
                    own_level = "district" if c.grid == truth["district"] else "village"
                    in_weeks = c.start - timedelta(days=c.start.weekday()) <= monday <= c.end
                    hit = level == own_level and in_weeks and (c.grid, c.category) in cells
                    if hit and c.delay.get(method) is None:
                        c.delay[method] = (monday - c.start).days // 7
            if level in PERSISTENT_LEVELS:
                found = {(x.area_code, x.category_code) for x in persistent(m, t, rules)}
                for key in found:
                    if key in hot:
                        hot[key]["first"] = hot[key]["first"] or monday
                    else:
                        others.add(key)
                if t == weeks[-1]:
                    others_last = found - set(hot)
                    for key in hot:
                        hot[key]["last_week"] = key in found
        progress(done, len(weeks))
    return Outcome(
        weeks=len(weeks),
        first_week=any_model.s.day(weeks[0]),
        last_week=any_model.s.day(weeks[-1]),
        surges=planted,
        false_alarms=false_alarms,
        true_signals=true_signals,
        rules=rules,
        hot_spots=list(hot.values()),
        other_persistent=len(others),
        other_persistent_last=len(others_last),
    )


def _flagged(m: Model, t: int, rules: Rules, rate: float | None) -> set[tuple[str, str]]:
    """The cells the test at ``rate`` (the old rule when None) flags in the week ``[t, t + 7)``."""
    if rate is None:
        return {(m.s.area_code[i], m.s.category_code[i]) for i in np.flatnonzero(ratio_rule(m, t))}
    return {(x.area_code, x.category_code) for x in surges(m, t, replace(rules, false_alarm_rate=rate))}


def _touched(s, planted: list[Caught], paths: dict[str, str], monday: date) -> set[tuple[str, str]]:
    """The area x category cells of this level a planted surge touches in the week from ``monday``."""
    out = set()
    sunday = monday + timedelta(days=6)
    for c in planted:
        if c.start > sunday or c.end < monday:
            continue
        grid_path = paths.get(c.grid, c.grid).split(".")
        for i, code in enumerate(s.area_code):
            if s.category_code[i] == c.category and (
                code in grid_path or c.grid in s.area_path[i].split(".")
            ):
                out.add((code, c.category))
    return out
