"""Supervision (督办), the returns per department (推诿) and the server's periodic jobs.

A supervision (``CaseSupervision``) of an open case is issued by a leader, shift lead or dispatcher (督办, or
the lighter 催办) or by the system when the case's current step goes overdue, with a level (一般, 重点,
挂牌督办), to the department leading the case; that department acknowledges it (签收督办) and answers it
(答复督办). A case has one open supervision at a time: a new one closes it and goes at least one level above
it (at most 挂牌督办), and the sweep raises one left unanswered past its answer time one level. The case
mirrors the level of its open, unanswered supervision (``Case.supervision_level``); an answered one stays
open, so that a repeat still goes a level up, until the case ends.

The server sweeps every ``supervision_sweep_seconds`` in the background (``Periodic``, which runs the media
sweep of ``server.photo.sweep`` too). Several server processes may sweep at once: each skips the cases
another holds locked, reads a case's supervision again once it holds the case, and a case is flagged
overdue once per step."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from server import messages
from server.auth.principal import Principal
from server.case.clock import calendar, overdue, set_due
from server.case.effects import Context, _require
from server.case.models import Case, CaseDispatch, CaseEvent, CaseSupervision
from server.case.schemas import SUPERVISION_LEVEL_LABELS, DepartmentReturns, Ref
from server.case.scope import Scope, visible
from server.case.states import OPEN_STATES, STATE_LABELS, STEP_OF, State, Step
from server.case.trail import SYSTEM_ACTOR, db_now, record_event
from server.category.models import Department
from server.config import get_settings
from server.errors import Conflict, DomainError, Invalid
from server.tenant import each_city

log = logging.getLogger(__name__)
TOP_LEVEL = max(SUPERVISION_LEVEL_LABELS)


def open_supervision(db: Session, case: Case) -> CaseSupervision | None:
    return db.scalar(
        select(CaseSupervision).where(CaseSupervision.case_id == case.id, CaseSupervision.closed_at.is_(None))
    )


def _lead_department(db: Session, case: Case) -> int | None:
    """The department leading the case now (its open lead dispatch), if any."""
    return db.scalar(
        select(CaseDispatch.department_id).where(
            CaseDispatch.case_id == case.id, CaseDispatch.lead, CaseDispatch.ended_at.is_(None)
        )
    )


def issue(
    db: Session,
    case: Case,
    principal: Principal | None,
    now: datetime,
    *,
    kind: str,
    level: int,
    note: str,
    new_due: datetime | None = None,
) -> dict:
    """Open a supervision of ``case`` (``principal`` None: the system's) to the department leading it, which
    must answer within ``supervision_answer_limit`` on the case's clock (no department: nobody answers it,
    nothing escalates it). A repeat closes the open one and goes at least one level above it. Returns what
    the trail's event records."""
    data = {"kind": kind}
    current = open_supervision(db, case)
    if current is not None:
        current.closed_at = now
        level = max(level, current.level + 1)
        data["escalated_from"] = current.level
    level = min(level, TOP_LEVEL)
    department_id = _lead_department(db, case)
    answer_due = None
    if department_id is not None:
        cal = calendar(case.clock)
        answer_due = cal.add(now, cal.parse_limit(get_settings().supervision_answer_limit))
        data["answer_due"] = answer_due.isoformat()
    db.add(
        CaseSupervision(
            case_id=case.id,
            kind=kind,
            level=level,
            note=note,
            issued_at=now,
            issuer_id=principal.user_id if principal else None,
            issuer_name=principal.name if principal else SYSTEM_ACTOR,
            department_id=department_id,
            new_due_at=new_due,
            answer_due_at=answer_due,
        )
    )
    case.supervision_level = level
    data["level"] = level
    return data


# -- the actions' effects and guards (server/case/flows.py) -----------------------------------------


def _supervise(ctx: Context, kind: str) -> None:
    case, body = ctx.case, ctx.body
    note = _require(ctx, body.note, "note")
    due = body.new_due
    if due is not None:
        due = due if due.tzinfo else due.replace(tzinfo=ctx.cal.tz)  # the city's local time
        if case.step_due_at is None:
            raise Conflict("case.supervision_no_clock", state_label=STATE_LABELS[State(case.state)])
        if due <= ctx.now:
            raise Invalid("case.supervision_due_past")
        set_due(case, due, ctx.cal)
        if STEP_OF[State(case.state)] == Step.HANDLE:
            case.handle_due_at = due
        case.supervised_at = None  # overdue again on the new due time: flagged again
        ctx.data["new_due"] = due.isoformat()
    level = body.level or 1
    ctx.data.update(
        issue(ctx.db, case, ctx.principal, ctx.now, kind=kind, level=level, note=note, new_due=due)
    )


def supervise(ctx: Context) -> None:
    _supervise(ctx, "supervise")


def urge(ctx: Context) -> None:
    _supervise(ctx, "urge")


def acknowledge(ctx: Context) -> None:
    current = open_supervision(ctx.db, ctx.case)
    current.acknowledged_at, current.acknowledged_by = ctx.now, ctx.principal.user_id
    ctx.data.update(kind=current.kind, level=current.level)


def answer(ctx: Context) -> None:
    current = open_supervision(ctx.db, ctx.case)
    current.answer = _require(ctx, ctx.body.answer, "answer")
    current.answered_at, current.answered_by = ctx.now, ctx.principal.user_id
    ctx.case.supervision_level = None
    ctx.data.update(kind=current.kind, level=current.level, answer=current.answer)


def _unanswered(db: Session, case: Case) -> CaseSupervision | None:
    # the case's level is set exactly while its open supervision waits for an answer: no query otherwise
    return open_supervision(db, case) if case.supervision_level is not None else None


def to_acknowledge(db: Session, principal: Principal, case: Case) -> DomainError | None:
    current = _unanswered(db, case)
    if current is None:
        return Conflict("case.no_open_supervision")
    return Conflict("case.supervision_acknowledged") if current.acknowledged_at else None


def to_answer(db: Session, principal: Principal, case: Case) -> DomainError | None:
    current = _unanswered(db, case)
    if current is None:
        return Conflict("case.no_open_supervision")
    return None if current.acknowledged_at else Conflict("case.supervision_not_acknowledged")


# -- the sweep --------------------------------------------------------------------------------------


def _by_system(db: Session, case: Case, now: datetime, note: str, level: int, **data) -> None:
    """A supervision the system issues, one event in the trail; the case changes, so its version does. The
    sweeps flush once, at their commit (no autoflush): a row updated twice in one transaction has its foreign
    keys checked again, which waits for the cases it refers to (a duplicate's master) that another process
    may hold locked."""
    data = {**issue(db, case, None, now, kind="supervise", level=level, note=note), **data}
    case.version += 1
    record_event(db, case, None, "supervise", case.state, now, note=note, data=data)


def sweep_overdue(*, db: Session, at: datetime | None = None) -> list[str]:
    """Supervise (督办) every open case whose current step is overdue and not yet flagged in this step: a
    一般督办 from the system, or the open supervision raised a level; one event each. Returns their codes."""
    now = db_now(db, at)
    cases = list(
        db.scalars(
            select(Case)
            .where(Case.state.in_(OPEN_STATES), overdue(now), Case.supervised_at.is_(None))
            .order_by(Case.id)
            .with_for_update(skip_locked=True)
        )
    )
    with db.no_autoflush:  # see _by_system
        for case in cases:
            case.supervised_at = now
            note = messages.text("case.supervision_overdue_note", state_label=STATE_LABELS[State(case.state)])
            _by_system(db, case, now, note, 1, overdue_since=case.step_due_at.isoformat())
    db.commit()
    return [c.code for c in cases]


def _unanswered_late(now) -> ColumnElement[bool]:
    """SQL: an open supervision left unanswered past its answer time, below the top level."""
    return and_(
        CaseSupervision.closed_at.is_(None),
        CaseSupervision.answered_at.is_(None),
        CaseSupervision.answer_due_at <= now,
        CaseSupervision.level < TOP_LEVEL,
    )


def escalate_unanswered(*, db: Session, at: datetime | None = None) -> list[str]:
    """Raise every supervision left unanswered past its answer time one level (closing it, issuing the next
    one); one event each. Returns the codes of their cases."""
    now = db_now(db, at)
    late = select(CaseSupervision.case_id).where(_unanswered_late(now))
    cases = list(
        db.scalars(select(Case).where(Case.id.in_(late)).order_by(Case.id).with_for_update(skip_locked=True))
    )
    raised = []
    labels = SUPERVISION_LEVEL_LABELS
    with db.no_autoflush:  # see _by_system
        for case in cases:
            # read again now that the case is ours: another process may have raised it meanwhile
            current = db.scalar(
                select(CaseSupervision).where(CaseSupervision.case_id == case.id, _unanswered_late(now))
            )
            if current is None:
                continue
            previous, level = labels[current.level], labels[current.level + 1]
            note = messages.text("case.supervision_escalated_note", previous=previous, level=level)
            since = current.answer_due_at.isoformat()
            _by_system(db, case, now, note, current.level + 1, unanswered_since=since)
            raised.append(case.code)
    db.commit()
    return raised


# -- returns per department (推诿) ------------------------------------------------------------------


def returns_by_department(*, db: Session, scope: Scope, since: date, until: date) -> list[DepartmentReturns]:
    """For each department, the cases dispatched to it as lead and those it returned (回退) from ``since`` to
    ``until`` (local dates, both included), within the scope; most returns first. A return ends the lead
    dispatch at the instant of its event, which ties each return to the department that made it."""
    tz = calendar().tz
    start = datetime.combine(since, time(), tz)
    end = datetime.combine(until + timedelta(days=1), time(), tz)
    lead = select(CaseDispatch.department_id, func.count()).join(Case, Case.id == CaseDispatch.case_id)
    lead = lead.where(CaseDispatch.lead, visible(scope)).group_by(CaseDispatch.department_id)
    dispatched = dict(
        db.execute(lead.where(CaseDispatch.dispatched_at >= start, CaseDispatch.dispatched_at < end)).all()
    )
    returned = dict(
        db.execute(
            lead.join(
                CaseEvent,
                and_(CaseEvent.case_id == CaseDispatch.case_id, CaseEvent.at == CaseDispatch.ended_at),
            ).where(CaseEvent.action == "return", CaseEvent.at >= start, CaseEvent.at < end)
        ).all()
    )
    ids = set(dispatched) | set(returned)
    departments = db.scalars(select(Department).where(Department.id.in_(ids))) if ids else []
    rows = [
        DepartmentReturns(
            department=Ref(code=d.code, name=d.name),
            dispatched=dispatched.get(d.id, 0),
            returned=returned.get(d.id, 0),
            ratio=returned.get(d.id, 0) / dispatched[d.id] if dispatched.get(d.id) else None,
        )
        for d in departments
    ]
    return sorted(rows, key=lambda r: (-r.returned, -(r.ratio or 0), r.department.code))


# -- the periodic jobs ------------------------------------------------------------------------------


class Periodic:
    """A background thread running ``job`` every ``interval_s`` seconds (never when 0) until stopped; a
    failed run is logged and retried at the next tick."""

    def __init__(self, name: str, interval_s: float, job: Callable[[], None]) -> None:
        self.name = name
        self.interval_s = interval_s
        self.job = job
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"gridops-{name}", daemon=True)

    def start(self) -> None:
        if self.interval_s > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.job()
            except Exception:  # a failed run is logged and retried at the next tick
                log.exception("the %s job failed", self.name)


def flag_overdue() -> None:
    """One supervision sweep in every city: the cases newly overdue, then the supervisions left unanswered."""

    def sweep(db: Session) -> None:
        flagged = sweep_overdue(db=db)
        raised = escalate_unanswered(db=db)
        if flagged or raised:
            log.info(
                "supervised %d overdue cases, raised %d unanswered supervisions", len(flagged), len(raised)
            )

    each_city(sweep)
