"""The case clock, the one definition: a step's working-time limit, its due instant and the instant its
light turns yellow, and the light itself (red from the due instant on, yellow from the yellow instant on,
green before), in Python (``clock``) and as the SQL the queues, lists, tiles, review and the sweep use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case

from server.case.models import Case
from server.case.states import STEP_OF, TERMINAL, State, Step
from server.category.models import Category
from server.config import get_settings
from server.worktime.calendar import WorkCalendar, load_calendar, parse_step_limits


@dataclass
class Clock:
    due: datetime | None
    light: str | None  # green, yellow, red; None when no clock runs (over, or suspended)
    remaining_min: float | None
    day_minutes: int  # of a working day, to read ``remaining_min`` in working days

    @property
    def remaining_workdays(self) -> float | None:
        return None if self.remaining_min is None else self.remaining_min / self.day_minutes


def calendar() -> WorkCalendar:
    return load_calendar(get_settings())


def step_limit(case: Case, step: Step, category: Category, cal: WorkCalendar) -> float:
    settings = get_settings()
    if step == Step.HANDLE:
        return cal.parse_limit(category.handling_limit)
    if step == Step.CHECK:
        return cal.parse_limit(settings.check_limit_rural if case.rural else settings.check_limit_urban)
    spec = settings.verify_limits if step == Step.VERIFY else settings.dispatch_limits
    return cal.parse_limit(parse_step_limits(spec)[case.urgency])


def set_due(case: Case, due: datetime | None, cal: WorkCalendar) -> None:
    """The one place the step's due instant is set (None stops the clock), with the instant its light turns
    yellow: from there on at most ``yellow_fraction`` of the step's limit of working time is left."""
    yellow_minutes = get_settings().yellow_fraction * (case.step_limit_min or 0)
    case.step_due_at = due
    case.step_yellow_at = None if due is None else cal.subtract(due, yellow_minutes)


def start_clock(case: Case, category: Category, now: datetime, cal: WorkCalendar) -> None:
    step = STEP_OF.get(State(case.state))
    case.supervised_at = None
    case.step_remaining_min = None
    if step is None:
        case.step_started_at = case.step_limit_min = None
        set_due(case, None, cal)
        return
    case.step_started_at, case.step_limit_min = now, step_limit(case, step, category, cal)
    set_due(case, cal.add(now, case.step_limit_min), cal)


def overdue(now) -> ColumnElement[bool]:
    """SQL: the case's step is red at ``now`` (a datetime or a SQL expression): past its due instant."""
    return Case.step_due_at <= now


def due_soon(now) -> ColumnElement[bool]:
    """SQL: the case's step is yellow at ``now``: past its yellow instant, not yet due."""
    return and_(Case.step_yellow_at <= now, Case.step_due_at > now)


def light(now) -> ColumnElement:
    """SQL: the case's light at ``now`` (NULL when no clock runs), as ``clock`` reads it."""
    return case(
        (Case.state.in_(TERMINAL) | Case.step_due_at.is_(None), None),
        (overdue(now), "red"),
        (Case.step_yellow_at <= now, "yellow"),
        else_="green",
    )


def clock(case: Case, now: datetime, cal: WorkCalendar | None = None) -> Clock:
    """The current step's due time and light: red from the due instant on, yellow from the stored yellow
    instant on (the last part of the step's working time)."""
    cal = cal or calendar()
    day = cal.day_minutes()
    if case.state in TERMINAL or case.step_due_at is None:
        return Clock(None, None, case.step_remaining_min, day)
    if now >= case.step_due_at:
        return Clock(case.step_due_at, "red", 0.0, day)
    light = "yellow" if now >= case.step_yellow_at else "green"
    return Clock(case.step_due_at, light, cal.between(now, case.step_due_at), day)
