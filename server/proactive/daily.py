"""The day's anticipation (未诉先办), once a day from the first tick after midnight (the server's periodic
job) or by hand (``gridops forecast daily``): the forecasts from the days up to yesterday, the warnings of
the week so far (a Monday: the week just ended), then the proactive patrol tasks the rule makes of them
(``server.proactive.plan``) from today on.

Several server workers may tick at once: a session-level advisory lock lets one of them do the day's work,
and the forecasts' cutoff tells the others (and the next ticks) that it is done: the warnings are raised
before it (a run that failed is retried whole at the next tick), the tasks planned after it from today's
forecasts."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.anticipate import detect, forecast
from server.anticipate.models import Forecast
from server.grid.models import today
from server.proactive import plan
from server.tenant import each_city
from server.warning import service as warnings

log = logging.getLogger(__name__)
LOCK = "gridops-anticipation"


@dataclass
class Day:
    """What one day's run did."""

    through: date
    forecasts: list[forecast.Run] = field(default_factory=list)
    signals: int = 0
    warnings_new: int = 0
    warnings_updated: int = 0
    tasks: int = 0


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def run(db: Session, *, through: date | None = None, force: bool = False) -> Day | None:
    """The day's work from the days up to ``through`` (default yesterday); None when another worker holds
    it or (unless ``force``) it is already done."""
    through = through or today() - timedelta(days=1)
    if not db.scalar(select(func.pg_try_advisory_lock(func.hashtext(LOCK)))):
        return None
    try:
        done = db.scalar(select(func.max(Forecast.cutoff)))
        if done is not None and done >= through and not force:
            return None
        day = Day(through)
        signals = detect.scan(db, week_of(through), through)
        raised = warnings.raise_signals(db, signals)  # the same findings again change nothing
        day.signals = len(signals)
        day.warnings_new = sum(1 for w in raised if w.resignalled == 0)
        day.warnings_updated = len(raised) - day.warnings_new
        day.forecasts = forecast.refresh(db, cutoff=through)  # its cutoff marks the day done
        day.tasks = len(plan.plan(db, starts_on=today()))
        return day
    finally:
        db.rollback()  # whatever failed is undone; the lock is the session's and outlives it
        db.execute(select(func.pg_advisory_unlock(func.hashtext(LOCK))))
        db.commit()


def tick() -> None:
    """The server's periodic job: the day's anticipation when it is due, in every city."""
    each_city(_tick)


def _tick(db: Session) -> None:
    day = run(db)
    if day is not None:
        log.info(
            "anticipation through %s: %d forecast rows, %d signals, %d new warnings, %d patrol tasks",
            day.through,
            sum(r.rows for r in day.forecasts),
            day.signals,
            day.warnings_new,
            day.tasks,
        )
