"""The one expected-count model of the forecasts and the detection: how many reports an area x category
should get over a range of days after a cutoff, with a negative binomial spread around it.

For a cell (area x category ``c``) and target days ``[start, end)``, with only the days before the cutoff
``t`` known::

    mu(cell) = share(cell | c) x base_c x season_c x sum over target days of f_c(kind of day)

- ``kind`` of a day, from the city's working calendar (server/worktime): a working day (make-up working days
  调休 included), a weekend day off, or a weekday off (春节, 国庆 ...). ``f_c`` is 1 on working days and the
  category's ratio on the two kinds of days off: inspectors report far less on days off and citizens more,
  so the ratio depends on the category's mix of channels. It is measured over the last year, each day off
  against the working days within a week of it (so a season does not pass for a calendar effect), and
  shrunk toward the ratio of all categories when the category is small.
- ``base_c``: the category's reports per working-day equivalent over the recent weeks (``recent_days``):
  the current level, trend included.
- ``season_c``: last year's change from the recent weeks to the target days (364 days earlier, a few days
  of padding around the target), per working-day equivalent, shrunk toward 1 by ``season_prior`` reports;
  1 while less than a year of history exists.
- ``share(cell | c)``: the area's part of the category's reports over the longer window (``share_days``),
  shrunk toward the area's part of all reports (a large community reports more of everything) by
  ``share_prior`` reports: stable for small cells, and a long-standing hot spot is part of its own
  baseline (it is no surge).
- Spread: negative binomial with variance ``mu + alpha_c mu^2``; ``alpha_c`` per category from the model's
  own errors on the same horizon over the previous weeks (method of moments, each cell's squared error
  capped so that one planted surge does not inflate it), shrunk toward the mean over categories. Intervals
  and tail probabilities are negative binomial quantiles (scipy).

Why this and not gradient boosting: each factor is a figure a leader can read ("a day off brings 0.8 of a
working day", "last July was 2.6 times June"); it needs no training run and computes over two years of
daily counts of every cell on two cores in well under a second per cutoff, so the backtest replays every
week; seasonality comes from last year's same days and the calendar (holidays move) is explicit, which a
tree model with two years of data would have to learn from two examples of each holiday."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from scipy import stats

from server.anticipate.series import Series

WORK, WEEKEND, HOLIDAY = 0, 1, 2
YEAR = 364  # days: the same weekday a year before


@dataclass(frozen=True)
class Params:
    recent_days: int = 28
    share_days: int = 364
    share_prior: float = 20.0
    season_prior: float = 20.0
    season_pad: int = 3
    kind_prior: float = 50.0
    kind_days: int = 364
    replays: int = 8  # past forecasts of the same horizon the dispersion is measured on
    alpha_floor: float = 0.005
    alpha_prior: float = 2.0  # categories' worth of pooling toward the mean alpha


def day_kinds(cal, first: date, days: int) -> np.ndarray:
    """WORK, WEEKEND or HOLIDAY for each of ``days`` days from ``first`` on the working calendar ``cal``."""
    out = np.empty(days, dtype=np.int64)
    for i in range(days):
        day = first + timedelta(days=i)
        out[i] = WORK if cal.is_workday(day) else WEEKEND if day.weekday() >= 5 else HOLIDAY
    return out


def _cumulative(a: np.ndarray) -> np.ndarray:
    """Sums over day ranges in O(1): ``c[..., j] - c[..., i]`` is the sum of days ``i`` to ``j - 1``."""
    out = np.zeros((*a.shape[:-1], a.shape[-1] + 1), dtype=np.float64)
    np.cumsum(a, axis=-1, out=out[..., 1:])
    return out


@dataclass(frozen=True)
class Expected:
    mu: np.ndarray  # per cell
    alpha: np.ndarray  # per cell (its category's)

    def tail(self, observed: np.ndarray) -> np.ndarray:
        """P(X >= observed) under the negative binomial."""
        n, p = _nb(self.mu, self.alpha)
        return stats.nbinom.sf(np.asarray(observed) - 1, n, p)

    def interval(self, level: float) -> tuple[np.ndarray, np.ndarray]:
        n, p = _nb(self.mu, self.alpha)
        low = stats.nbinom.ppf((1 - level) / 2, n, p)
        high = stats.nbinom.ppf((1 + level) / 2, n, p)
        return np.nan_to_num(low).astype(np.int64), np.nan_to_num(high).astype(np.int64)


def _nb(mu: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = 1 / alpha
    return n, n / (n + np.maximum(mu, 1e-9))


class Model:
    """The model over one series; ``kinds`` covers the series' days and the days to forecast after them."""

    def __init__(self, series: Series, kinds: np.ndarray, params: Params | None = None) -> None:
        if len(kinds) < series.days:
            raise ValueError("the calendar must cover the series")
        self.s, self.p, self.kinds = series, params or Params(), kinds
        self.cells = _cumulative(series.counts.astype(np.float64))
        totals = series.by_category().astype(np.float64)
        self.totals = _cumulative(totals)
        self.raw_totals = totals
        self.all = _cumulative(totals.sum(axis=0))
        areas = np.zeros((len(series.areas), series.days))
        np.add.at(areas, series.area, series.counts)
        self.areas = _cumulative(areas)
        self.kind_days = np.stack(
            [_cumulative((kinds == k).astype(np.float64)) for k in (WORK, WEEKEND, HOLIDAY)]
        )
        self.work = _cumulative((kinds[: series.days] == WORK) * totals)  # categories x days
        self._factors: dict[int, np.ndarray] = {}
        self._alphas: dict[tuple[int, int], np.ndarray] = {}

    # -- day kinds ----------------------------------------------------------------------
    def factors(self, t: int) -> np.ndarray:
        """categories x 3: the reports on a day of each kind per working day, known before day ``t``."""
        if t in self._factors:
            return self._factors[t]
        lo, hi = max(0, t - self.p.kind_days), t - 7  # a day's neighbours up to a week after it are known
        out = np.ones((len(self.s.categories), 3))
        if hi - lo > 14:
            days = np.arange(lo, hi)
            a, b = np.maximum(days - 7, 0), days + 8
            work_days = self.kind_days[WORK][b] - self.kind_days[WORK][a]
            local = (self.work[:, b] - self.work[:, a]) / np.maximum(work_days, 1)  # categories x days
            kinds = self.kinds[days]
            for k in (WEEKEND, HOLIDAY):
                sel = (kinds == k) & (work_days > 0)
                if not sel.any():
                    out[:, k] = out[:, WEEKEND] if k == HOLIDAY else 1.0
                    continue
                seen = self.raw_totals[:, days[sel]].sum(axis=1)
                base = local[:, sel].sum(axis=1)
                pooled = seen.sum() / max(base.sum(), 1e-9)
                out[:, k] = (seen + self.p.kind_prior * pooled) / (base + self.p.kind_prior)
        self._factors[t] = out
        return out

    def _weights(self, t: int, start: int, end: int) -> np.ndarray:
        """categories: the working-day equivalents of days ``[start, end)`` (counts of each kind x factor)."""
        counts = self.kind_days[:, end] - self.kind_days[:, start]
        return self.factors(t) @ counts

    # -- the expectation ----------------------------------------------------------------------
    def totals_expected(self, t: int, start: int, end: int) -> np.ndarray:
        """Per category: the expected reports over ``[start, end)`` knowing the days before ``t``."""
        p = self.p
        lo = max(0, t - p.recent_days)
        base = (self.totals[:, t] - self.totals[:, lo]) / np.maximum(self._weights(t, lo, t), 1e-9)
        season = np.ones_like(base)
        a, b = start - YEAR - p.season_pad, end - YEAR + p.season_pad
        if lo - YEAR >= 0 and a >= 0:
            seen = self.totals[:, b] - self.totals[:, a]
            before = self.totals[:, t - YEAR] - self.totals[:, lo - YEAR]
            scale = self._weights(t, a, b) / np.maximum(self._weights(t, lo - YEAR, t - YEAR), 1e-9)
            season = (seen + p.season_prior) / (before * scale + p.season_prior)
        return base * season * self._weights(t, start, end)

    def shares(self, t: int) -> np.ndarray:
        """Per cell: its part of its category's reports, shrunk toward its area's part of all reports."""
        lo = max(0, t - self.p.share_days)
        own = self.cells[:, t] - self.cells[:, lo]
        total = (self.totals[:, t] - self.totals[:, lo])[self.s.category]
        area = (self.areas[:, t] - self.areas[:, lo])[self.s.area] / max(self.all[t] - self.all[lo], 1.0)
        if not area.any():
            area = np.full(len(own), 1 / max(len(self.s.areas), 1))
        return (own + self.p.share_prior * area) / (total + self.p.share_prior)

    def mean(self, t: int, start: int, end: int) -> np.ndarray:
        """Per cell: the expected reports over days ``[start, end)`` knowing the days before ``t``."""
        return self.shares(t) * self.totals_expected(t, start, end)[self.s.category]

    def observed(self, start: int, end: int) -> np.ndarray:
        return self.cells[:, end] - self.cells[:, start]

    # -- the spread ----------------------------------------------------------------------
    def alpha(self, t: int, length: int) -> np.ndarray:
        """Per category: the dispersion of the model's errors over ``length``-day ranges, from up to
        ``replays`` past forecasts made the same way (each a week apart, all ended before ``t``)."""
        key = (t, length)
        if key in self._alphas:
            return self._alphas[key]
        ncat = len(self.s.categories)
        excess, scale = np.zeros(ncat), np.zeros(ncat)
        for j in range(self.p.replays):
            tj = t - length - 7 * j
            if tj < 28:
                break
            mu = self.mean(tj, tj, tj + length)
            y = self.observed(tj, tj + length)
            err = np.minimum((y - mu) ** 2, 9 * (mu + 1) ** 2)  # no single surge rules the spread
            np.add.at(excess, self.s.category, err - mu)
            np.add.at(scale, self.s.category, mu**2)
        own = np.where(scale > 0, excess / np.maximum(scale, 1e-9), 0.0)
        pooled = max(excess.sum() / scale.sum(), 0.0) if scale.sum() > 0 else 0.1
        weight = scale / (scale + self.p.alpha_prior * (scale.mean() if scale.any() else 1.0))
        out = np.maximum(weight * own + (1 - weight) * pooled, self.p.alpha_floor)
        self._alphas[key] = out
        return out

    def expect(self, t: int, start: int, end: int) -> Expected:
        """The expected count of every cell over ``[start, end)`` knowing the days before ``t``, with its
        spread measured on past ranges of the same length."""
        return Expected(self.mean(t, start, end), self.alpha(t, end - start)[self.s.category])
