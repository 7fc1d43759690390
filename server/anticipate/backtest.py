"""The forecasts' backtest: the history replayed cutoff by cutoff, each forecast made only from the days
before its cutoff, against the naive baselines, all from the daily series in memory (no query per week).

Horizons: ``week``, a cutoff every Monday (from when ``MIN_HISTORY`` days of history exist), the seven days
from it; ``month``, a cutoff on each month's first day, that calendar month. Baselines (their intervals:
Poisson quantiles around the point): the last period of the same length (``last``), the same days 364 days
before (``last_year``, only where a year exists), the last four weeks' daily mean times the period's length
(``mean4``). Each baseline is compared with the model over the same cell-periods."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from scipy import stats

from server.anticipate.model import YEAR, Model
from server.anticipate.series import Series

METHODS = {"model": "本模型", "last": "上一周期", "last_year": "去年同期", "mean4": "近4周均值"}
HORIZONS = {"week": "下周", "month": "下月"}
MIN_HISTORY = 56  # days before the first cutoff


@dataclass
class Score:
    """Sums over cell-periods: absolute error and interval hits of one method, and the model's over the
    same cell-periods."""

    n: int = 0
    periods: int = 0
    error: float = 0.0
    covered: int = 0
    model_error: float = 0.0
    model_covered: int = 0

    def add(self, err: np.ndarray, cov: np.ndarray, model_err: np.ndarray, model_cov: np.ndarray) -> None:
        self.n += len(err)
        self.periods += 1
        self.error += float(err.sum())
        self.covered += int(cov.sum())
        self.model_error += float(model_err.sum())
        self.model_covered += int(model_cov.sum())

    @property
    def mae(self) -> float:
        return self.error / max(self.n, 1)

    @property
    def model_mae(self) -> float:
        return self.model_error / max(self.n, 1)

    @property
    def coverage(self) -> float:
        return self.covered / max(self.n, 1)

    @property
    def model_coverage(self) -> float:
        return self.model_covered / max(self.n, 1)


@dataclass
class Result:
    interval: float
    # (level, horizon, method) -> Score over all categories; (level, horizon, method, category code) -> Score
    overall: dict[tuple[str, str, str], Score] = field(default_factory=dict)
    by_category: dict[tuple[str, str, str, str], Score] = field(default_factory=dict)
    category_names: dict[str, str] = field(default_factory=dict)

    def losses(self) -> list[tuple[str, str, str, str]]:
        """(level, horizon, method, category or '') where a baseline's MAE is at or below the model's."""
        out = [(*k, "") for k, s in self.overall.items() if k[2] != "model" and s.n and s.mae <= s.model_mae]
        out += [k for k, s in self.by_category.items() if k[2] != "model" and s.n and s.mae <= s.model_mae]
        return out


def cutoffs(series: Series, horizon: str, min_days: int, weeks: int | None = None) -> list[tuple[int, int]]:
    """(cutoff index, end index) of every replayed forecast: the target is ``[cutoff, end)``."""
    out = []
    for t in range(min_days, series.days):
        day = series.day(t)
        if horizon == "week" and day.weekday() == 0 and t + 7 <= series.days:
            out.append((t, t + 7))
        elif horizon == "month" and day.day == 1:
            following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
            end = t + (following - day).days
            if end <= series.days:
                out.append((t, end))
    if weeks is not None and horizon == "week":
        out = out[-weeks:]
    return out


def run(
    models: dict[str, Model],
    *,
    interval: float,
    weeks: int | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> Result:
    """Replay every level's model over its history, week and month horizons."""
    result = Result(interval=interval)
    plan = [
        (level, horizon, t, end)
        for level, m in models.items()
        for horizon in HORIZONS
        for t, end in cutoffs(m.s, horizon, MIN_HISTORY, weeks)
    ]
    lo_q, hi_q = (1 - interval) / 2, (1 + interval) / 2
    for done, (level, horizon, t, end) in enumerate(plan, 1):
        m = models[level]
        s = m.s
        length = end - t
        y = m.observed(t, end)
        exp = m.expect(t, t, end)
        low, high = exp.interval(interval)
        model_err = np.abs(y - exp.mu)
        model_cov = (y >= low) & (y <= high)
        points = {
            "model": exp.mu,
            "last": m.observed(t - length, t) if t - length >= 0 else None,
            "last_year": m.observed(t - YEAR, end - YEAR) if t - YEAR >= 0 else None,
            "mean4": m.observed(t - 28, t) / 28 * length if t >= 28 else None,
        }
        for method, point in points.items():
            if point is None:
                continue
            if method == "model":
                err, cov = model_err, model_cov
            else:
                err = np.abs(y - point)
                cov = (y >= stats.poisson.ppf(lo_q, point)) & (y <= stats.poisson.ppf(hi_q, point))
            _score(result.overall, (level, horizon, method)).add(err, cov, model_err, model_cov)
            for c, code in enumerate(_codes(s)):
                sel = s.category == c
                if sel.any():
                    result.category_names[code] = s.category_name[int(np.argmax(sel))]
                    key = (level, horizon, method, code)
                    _score(result.by_category, key).add(err[sel], cov[sel], model_err[sel], model_cov[sel])
        progress(done, len(plan))
    return result


def _codes(s: Series) -> list[str]:
    code = {}
    for i, c in enumerate(s.category):
        code.setdefault(int(c), s.category_code[i])
    return [code[c] for c in range(len(s.categories))]


def _score(table: dict, key) -> Score:
    if key not in table:
        table[key] = Score()
    return table[key]
