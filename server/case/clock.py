"""The case clock, the one definition: a step's limit, its due instant and the instant its light turns
yellow, and the light itself (red from the due instant on, yellow from the yellow instant on, green before),
in Python (``clock``) and as the SQL the queues, lists, tiles, review and the sweep use.

A case's limits run on one clock (``Case.clock``): working time (the city's calendar) or natural time (24 h,
every day), as its category says, else as its urgency says (``natural_clock_urgencies``); decided again
whenever a step starts, so filing a case as urgent moves it to natural time. Lights compare instants, so
everything that reads them follows each case's own clock.

Besides the step clock, a dispatched case runs the department's receipt (签收) clock: from dispatch to the
lead department's acknowledgement, within the request type's response limit, else ``receipt_limit``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, select
from sqlalchemy.orm import object_session

from server.case.models import Case
from server.case.states import STEP_OF, TERMINAL, State, Step
from server.category.models import Category, CategoryRequestLimit, RequestType
from server.config import get_settings
from server.worktime.calendar import (
    NaturalClock,
    WorkCalendar,
    duration_words,
    load_calendar,
    parse_step_limits,
)

Timekeeper = WorkCalendar | NaturalClock


@dataclass
class Clock:
    due: datetime | None
    light: str | None  # green, yellow, red; None when no clock runs (over, or suspended)
    remaining_min: float | None
    day_minutes: int  # of a working day, to read ``remaining_min`` in working days

    kind: str = "work"  # the clock the minutes are counted on: work or natural
    overdue_min: float | None = None  # natural minutes since the due instant, once red

    @property
    def remaining_workdays(self) -> float | None:
        if self.remaining_min is None or self.kind != "work":
            return None
        return self.remaining_min / self.day_minutes

    @property
    def words(self) -> str | None:
        """The remaining time as a person says it: "剩余 2 小时 10 分", "剩余 3 个工作日",
        "已超时 1 天 4 小时" (overdue time is natural time: the citizen waits on weekends too)."""
        if self.overdue_min is not None:
            return f"已超时 {duration_words(self.overdue_min)}"
        if self.remaining_min is None:
            return None
        left = duration_words(self.remaining_min, self.day_minutes if self.kind == "work" else None)
        return f"剩余 {left}" if self.light else f"计时暂停，恢复后剩余 {left}"


def calendar(kind: str = "work") -> Timekeeper:
    """The clock limits run on: the city's working calendar, or natural time in its time zone."""
    work = load_calendar(get_settings())
    return NaturalClock(work.tz) if kind == "natural" else work


def clock_kind(category: Category, urgency: str) -> str:
    """The clock a case of ``category`` at ``urgency`` runs on: the category's own, else by urgency."""
    if category.clock:
        return category.clock
    natural = {u.strip() for u in get_settings().natural_clock_urgencies.split(",")}
    return "natural" if urgency in natural else "work"


def handling_limit(case: Case, category: Category, cal: Timekeeper) -> str:
    """The handling limit of ``case``: the category's own for the case's request type when the taxonomy
    gives one, else the stricter of the category's limit and the request type's (a 咨询 is answered within a
    working day whatever its category; a manhole cover's 2 hours stay 2 hours when it is a 投诉)."""
    db = object_session(case)
    own = db.get(CategoryRequestLimit, (category.id, case.request_type)) if category.id else None
    if own is not None:
        return own.handling_limit
    by_type = db.scalar(select(RequestType.handling_limit).where(RequestType.code == case.request_type))
    return min(filter(None, [category.handling_limit, by_type]), key=cal.parse_limit)


def step_limit(case: Case, step: Step, category: Category, cal: Timekeeper) -> float:
    settings = get_settings()
    if step == Step.HANDLE:
        return cal.parse_limit(handling_limit(case, category, cal))
    if step == Step.CHECK:
        return cal.parse_limit(settings.check_limit_rural if case.rural else settings.check_limit_urban)
    spec = settings.verify_limits if step == Step.VERIFY else settings.dispatch_limits
    return cal.parse_limit(parse_step_limits(spec)[case.urgency])


def _yellow(due: datetime | None, limit_min: float | None, cal: Timekeeper) -> datetime | None:
    """The instant from which at most ``yellow_fraction`` of a limit is left before ``due``."""
    return None if due is None else cal.subtract(due, get_settings().yellow_fraction * (limit_min or 0))


def set_due(case: Case, due: datetime | None, cal: Timekeeper) -> None:
    """The one place the step's due instant is set (None stops the clock), with the instant its light turns
    yellow: from there on at most ``yellow_fraction`` of the step's limit is left."""
    case.step_due_at = due
    case.step_yellow_at = _yellow(due, case.step_limit_min, cal)


def start_clock(case: Case, category: Category, now: datetime) -> None:
    """Start the clock of the step the case's state is in (none in a final state), on the clock its category
    and urgency call for."""
    case.clock = clock_kind(category, case.urgency)
    cal = calendar(case.clock)
    step = STEP_OF.get(State(case.state))
    case.supervised_at = None
    case.step_remaining_min = None
    if step is None:
        case.step_started_at = case.step_limit_min = None
        set_due(case, None, cal)
        return
    case.step_started_at, case.step_limit_min = now, step_limit(case, step, category, cal)
    set_due(case, cal.add(now, case.step_limit_min), cal)


def start_receipt(case: Case, now: datetime) -> None:
    """Start the department's receipt clock at dispatch: the request type's response limit, else the
    settings' ``receipt_limit``, on the case's clock."""
    cal = calendar(case.clock)
    db = object_session(case)
    by_type = db.scalar(select(RequestType.response_limit).where(RequestType.code == case.request_type))
    case.receipt_limit_min = cal.parse_limit(by_type or get_settings().receipt_limit)
    case.receipt_due_at = cal.add(now, case.receipt_limit_min)
    case.receipt_yellow_at = _yellow(case.receipt_due_at, case.receipt_limit_min, cal)
    case.received_by_department_at = None


def awaiting_receipt() -> ColumnElement[bool]:
    """SQL: dispatched, and the lead department has not acknowledged it yet."""
    return and_(
        Case.state == State.DISPATCHED.value,
        Case.receipt_due_at.is_not(None),
        Case.received_by_department_at.is_(None),
    )


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


def receipt_light(now) -> ColumnElement:
    """SQL: the receipt clock's light at ``now`` (NULL unless a dispatched case awaits its receipt)."""
    return case(
        (~awaiting_receipt(), None),
        (Case.receipt_due_at <= now, "red"),
        (Case.receipt_yellow_at <= now, "yellow"),
        else_="green",
    )


def _running(due: datetime, yellow: datetime, now: datetime, cal: Timekeeper, kind: str) -> Clock:
    """A running clock at ``now``: red (with how long overdue) from ``due`` on, yellow from ``yellow`` on."""
    day = cal.day_minutes()
    if now >= due:
        return Clock(due, "red", 0.0, day, kind, (now - due).total_seconds() / 60)
    light = "yellow" if now >= yellow else "green"
    return Clock(due, light, cal.between(now, due), day, kind)


def clock(case: Case, now: datetime) -> Clock:
    """The current step's due time and light: red from the due instant on, yellow from the stored yellow
    instant on (the last part of the step's time), on the case's own clock."""
    cal = calendar(case.clock)
    if case.state in TERMINAL or case.step_due_at is None:
        return Clock(None, None, case.step_remaining_min, cal.day_minutes(), case.clock)
    return _running(case.step_due_at, case.step_yellow_at, now, cal, case.clock)


def receipt(case: Case, now: datetime) -> Clock | None:
    """The receipt clock while the lead department has not acknowledged the dispatched case; else None."""
    if case.state != State.DISPATCHED or case.receipt_due_at is None or case.received_by_department_at:
        return None
    return _running(case.receipt_due_at, case.receipt_yellow_at, now, calendar(case.clock), case.clock)
