"""Unusual counts, as :class:`server.anticipate.signals.Signal`:

- 突增高频 (SURGE), per area x category at the village, street and district levels: the week's count
  against the model's expected count from the days before the week (``server.anticipate.model``: the
  recent weeks, last year's same weeks, the calendar, the area's long-run share, so a long-standing hot spot
  is its own baseline and does not fire every week); flagged when the negative binomial chance of that many
  or more is below ``warning_false_alarm_rate`` and the count is at least ``warning_min_count``.
- 长期高频 (PERSISTENT), per village x category: the last ``warning_persistent_weeks`` weeks against the
  area's peers, i.e. the category's count in the other villages scaled by this village's part of all other
  categories' reports (a large community reports more of everything, which is no problem of one category);
  flagged by the same test, the same minimum count and at least ``warning_persistent_ratio`` times the
  peers' count. One surging week in twelve does not reach that ratio.

The counting lives in :func:`surges` and :func:`persistent` over a model in memory, so that the
measurement (``server.anticipate.evaluate``) replays every week without a query per week."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from scipy import stats
from sqlalchemy.orm import Session

from server.anticipate.forecast import HISTORY_DAYS, model_for
from server.anticipate.model import Model
from server.anticipate.series import LEVEL_NAMES
from server.anticipate.signals import PERSISTENT, SURGE, Signal
from server.config import get_settings

SURGE_LEVELS = ("village", "street", "district")
PERSISTENT_LEVELS = ("village",)


@dataclass(frozen=True)
class Rules:
    false_alarm_rate: float
    min_count: int
    persistent_weeks: int
    persistent_ratio: float

    @classmethod
    def from_settings(cls) -> Rules:
        s = get_settings()
        return cls(
            s.warning_false_alarm_rate,
            s.warning_min_count,
            s.warning_persistent_weeks,
            s.warning_persistent_ratio,
        )


def chance(p: float) -> str:
    """The chance of a count as people say it."""
    for bound, words in ((0.0001, "小于万分之一"), (0.001, "小于千分之一"), (0.01, "小于百分之一")):
        if p < bound:
            return words
    return f"约 {p:.0%}"


def _days(start: date, end: date) -> str:
    return f"{start.month}月{start.day}日至{end.month}月{end.day}日"


def surges(m: Model, t: int, rules: Rules, days: int = 7) -> list[Signal]:
    """SURGE signals of days ``[t, t + days)`` of the model's series: a week, or the days of the current
    week so far, against what the days before them expect."""
    s = m.s
    exp = m.expect(t, t, t + days)
    y = m.observed(t, t + days)
    p = exp.tail(y)
    hits = np.flatnonzero((p < rules.false_alarm_rate) & (y >= rules.min_count))
    start, end = s.day(t), s.day(t + days - 1)
    return [
        _signal(
            m, i, SURGE, start, end, int(y[i]), float(exp.mu[i]), float(p[i]),
            f"{s.area_name[i]} {s.category_name[i]} {_days(start, end)} {int(y[i])} 件，"
            f"按往年同期和近几周应为约 {exp.mu[i]:.0f} 件（偶然出现的概率{chance(float(p[i]))}）",
        )
        for i in hits
    ]  # fmt: skip


def persistent(m: Model, t: int, rules: Rules) -> list[Signal]:
    """PERSISTENT signals over the ``persistent_weeks`` weeks ending with the week ``[t, t + 7)``."""
    s = m.s
    end = t + 7
    start = end - 7 * rules.persistent_weeks
    if start < 0:
        return []
    y = m.observed(start, end)
    category = np.zeros(len(s.categories))
    np.add.at(category, s.category, y)
    area = np.zeros(len(s.areas))
    np.add.at(area, s.area, y)
    others = category[s.category] - y  # the category's count in the other areas
    share = (area[s.area] - y) / np.maximum(y.sum() - category[s.category], 1.0)  # of the other categories
    peers = others * share / np.maximum(1 - share, 1e-9)
    alpha = _spread(y, peers, s.category, len(s.categories))
    n = 1 / alpha
    p = stats.nbinom.sf(y - 1, n, n / (n + np.maximum(peers, 1e-9)))
    hits = np.flatnonzero(
        (p < rules.false_alarm_rate) & (y >= rules.min_count) & (y >= rules.persistent_ratio * peers)
    )
    first, last = s.day(start), s.day(end - 1)
    return [
        _signal(
            m, i, PERSISTENT, first, last, int(y[i]), float(peers[i]), float(p[i]),
            f"{s.area_name[i]} {s.category_name[i]} 近{rules.persistent_weeks}周 {int(y[i])} 件，"
            f"为按同类{LEVEL_NAMES[s.level]}和本{LEVEL_NAMES[s.level]}规模应有的约 {peers[i]:.0f} 件的 "
            f"{y[i] / max(peers[i], 1e-9):.1f} 倍（偶然出现的概率{chance(float(p[i]))}），属长期高频",
        )
        for i in hits
    ]  # fmt: skip


def _spread(y: np.ndarray, mu: np.ndarray, category: np.ndarray, n: int) -> np.ndarray:
    """Per cell: its category's spread between areas, the median cell's (a few hot spots do not set it)."""
    out = np.full(n, 0.01)
    for c in range(n):
        sel = (category == c) & (mu >= 1)
        if sel.sum() >= 3:
            out[c] = max(float(np.median(((y[sel] - mu[sel]) ** 2 - y[sel]) / mu[sel] ** 2)), 0.01)
    return out[category]


def _signal(m: Model, i: int, kind: str, start, end, observed, expected, p, message) -> Signal:
    s = m.s
    return Signal(
        kind=kind,
        level=s.level,
        area_code=s.area_code[i],
        area_name=s.area_name[i],
        category_id=s.category_id[i],
        category_code=s.category_code[i],
        category_name=s.category_name[i],
        period_start=start,
        period_end=end,
        observed=observed,
        expected=round(expected, 2),
        p_value=p,
        message=message,
    )


def scan(db: Session, week_start: date, through: date | None = None) -> list[Signal]:
    """The signals of the week from ``week_start`` (a Monday) to the Sunday after, or only to ``through``
    while the week runs: surges at each level, persistent problems at the village level (whole weeks: the
    weeks up to the one before a running week); the days before the week make the expectation."""
    if week_start.weekday() != 0:
        raise ValueError("week_start must be a Monday")
    rules = Rules.from_settings()
    last = week_start + timedelta(days=6)
    through = min(through or last, last)
    first = week_start - timedelta(days=HISTORY_DAYS)
    out: list[Signal] = []
    for level in SURGE_LEVELS:
        m = model_for(db, level, first, through, last)
        t = m.s.index(week_start)
        out += surges(m, t, rules, days=(through - week_start).days + 1)
        if level in PERSISTENT_LEVELS:
            out += persistent(m, t if through == last else t - 7, rules)
    return out
