"""The warnings' life: raised (or updated) from detection signals, seen, turned into a reminder letter
(提醒函) to the responsible street or department, acknowledged by it with a reply, closed with a reason.
Each change is kept in the trail and sent at commit on ``warning_change`` for the live stream."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import ColumnElement, cast, false, func, or_, select, text, true
from sqlalchemy.orm import Session

from server.anticipate.signals import Signal
from server.auth.models import User
from server.auth.principal import SYSTEM_ADMINISTRATOR, Principal
from server.case.scope import Scope
from server.category import service as category_service
from server.category.models import Category, Department
from server.config import get_settings
from server.errors import Conflict, Forbidden, Invalid, NotFound
from server.grid.models import CURRENT, Grid, GridAssignment, in_force, today
from server.grid.subtree import path_within, within
from server.patrol.service import local_time
from server.stats.request import DASHBOARD_ROLES
from server.types import LTree
from server.warning.models import STATES, Warning, WarningEvent
from server.worktime.calendar import load_calendar

CHANNEL = "warning_change"
# Who may (the routes check it): mark seen and send letters; close; acknowledge (the letter's addressee only).
COMMAND_ROLES = ("acceptor", "shift_lead", "dispatcher", "leader", "admin")
CLOSE_ROLES = ("shift_lead", "leader", "admin")
ACK_ROLES = ("department", "grid_head", "admin")
OPEN = tuple(s for s in STATES if s != "closed")
STREET = "street"


def visible(scope: Scope) -> ColumnElement[bool]:
    """The warnings a scope sees: those of areas in its grid subtrees, and those addressed to its
    department."""
    if scope.everything:
        return true()
    terms = [within(Warning.area_path, scope.grid_paths)] if scope.grid_paths else []
    if scope.department_id is not None:
        terms.append(Warning.addressee_department_id == scope.department_id)
    return or_(false(), *terms)


def sees_notice(principal: Principal, scope: Scope, payload: dict) -> bool:
    """Whether a ``warning_change`` notice is for a stream: dashboard users of the area, and the addressee
    (a department's users; the street's grid heads see it by their scope)."""
    if not principal.has(*DASHBOARD_ROLES):
        return False
    if scope.everything or path_within(payload.get("area_path") or "", scope.grid_paths):
        return True
    return scope.department_id is not None and scope.department_id == payload.get("department_id")


def _now() -> datetime:
    return datetime.now(UTC)


def _log(db: Session, warning: Warning, principal: Principal | None, action: str, before: str | None, **kw):
    db.add(
        WarningEvent(
            warning_id=warning.id,
            at=_now(),
            actor_id=principal.user_id if principal else None,
            actor_name=principal.name if principal else "系统",
            action=action,
            state_before=before,
            state_after=warning.state,
            note=kw.pop("note", None),
            data=kw,
        )
    )
    warning.updated_at = _now()
    payload = {
        "id": warning.id,
        "state": warning.state,
        "kind": warning.kind,
        "area_path": warning.area_path,
        "department_id": warning.addressee_department_id,
        "city_id": warning.city_id,
    }
    db.execute(select(func.pg_notify(CHANNEL, json.dumps(payload))))


def raise_signals(db: Session, signals: Iterable[Signal]) -> list[Warning]:
    """A warning per signal: the open one of its kind x area x category takes the new figures (counted in
    ``resignalled``; the same figures again change nothing), else a new one is raised. Commits."""
    out = []
    for signal in signals:
        warning = db.scalar(
            select(Warning)
            .where(
                Warning.kind == signal.kind,
                Warning.area_code == signal.area_code,
                Warning.category_id == signal.category_id,
                Warning.state.in_(OPEN),
            )
            .with_for_update()
        )
        figures = {
            "level": signal.level,
            "area_name": signal.area_name,
            "period_start": signal.period_start,
            "period_end": signal.period_end,
            "observed": signal.observed,
            "expected": signal.expected,
            "p_value": signal.p_value,
            "message": signal.message,
            "signalled_at": _now(),
        }
        if warning is None:
            path = db.scalar(select(Grid.path).where(CURRENT, Grid.code == signal.area_code))
            if path is None:
                raise Invalid("warning.unknown_area", area=signal.area_code)
            warning = Warning(
                kind=signal.kind,
                area_code=signal.area_code,
                area_path=path,
                category_id=signal.category_id,
                state="raised",
                raised_at=_now(),
                resignalled=0,
                **figures,
            )
            db.add(warning)
            db.flush()
            _log(db, warning, None, "raise", None, observed=signal.observed, expected=signal.expected)
        elif (warning.period_start, warning.period_end, warning.observed) == (
            signal.period_start,
            signal.period_end,
            signal.observed,
        ):
            continue  # the same finding again (a scan run twice): nothing new to record
        else:
            for name, value in figures.items():
                setattr(warning, name, value)
            warning.resignalled += 1
            _log(
                db,
                warning,
                None,
                "resignal",
                warning.state,
                observed=signal.observed,
                expected=signal.expected,
            )
        out.append(warning)
    db.commit()
    return out


def get(db: Session, scope: Scope, warning_id: int, *, lock: bool = False) -> Warning:
    query = select(Warning).where(Warning.id == warning_id, visible(scope))
    warning = db.scalar(query.with_for_update() if lock else query)
    if warning is None:
        raise NotFound("warning.not_found", warning_id=warning_id)
    return warning


def listing(
    db: Session,
    scope: Scope,
    *,
    states: Iterable[str] = OPEN,
    kind: str | None = None,
    grid_path: str | None = None,
    limit: int = 200,
) -> list[Warning]:
    query = select(Warning).where(visible(scope), Warning.state.in_(list(states)))
    if kind:
        query = query.where(Warning.kind == kind)
    if grid_path:
        query = query.where(within(Warning.area_path, [grid_path]))
    return list(db.scalars(query.order_by(Warning.raised_at.desc(), Warning.id.desc()).limit(limit)))


def trail(db: Session, warning: Warning) -> list[WarningEvent]:
    return list(
        db.scalars(
            select(WarningEvent).where(WarningEvent.warning_id == warning.id).order_by(WarningEvent.id)
        )
    )


def when(moment: datetime | None) -> str:
    """An instant as people read it: local time, to the minute."""
    return local_time(moment)[:16] if moment else ""


def _refuse_closed(warning: Warning) -> None:
    if warning.state == "closed":
        raise Conflict("warning.closed", at=when(warning.closed_at), reason=warning.close_reason)


def _name(db: Session, user_id: int | None) -> str:
    user = db.get(User, user_id) if user_id else None
    return user.name if user else SYSTEM_ADMINISTRATOR


def mark_seen(db: Session, principal: Principal, scope: Scope, warning_id: int) -> Warning:
    warning = get(db, scope, warning_id, lock=True)
    _refuse_closed(warning)
    if warning.seen_at is not None:
        raise Conflict("warning.already_seen", who=_name(db, warning.seen_by), at=when(warning.seen_at))
    before = warning.state
    warning.seen_at, warning.seen_by, warning.state = _now(), principal.user_id, "seen"
    _log(db, warning, principal, "seen", before)
    db.commit()
    return warning


def street_of(db: Session, warning: Warning) -> Grid:
    """The street grid of the warning's area: the area itself at street level, and above streets (a
    district-wide warning) the area itself too."""
    street = db.scalar(
        select(Grid).where(CURRENT, Grid.level == STREET, Grid.path.op("@>")(cast(warning.area_path, LTree)))
    )
    return street or db.scalar(select(Grid).where(CURRENT, Grid.code == warning.area_code))


def addressee(db: Session, warning: Warning, to: str | None) -> tuple[str, str | None, Department | None]:
    """Whom the letter goes to: ``to`` (street or department), by default the category's responsible
    department in the area's district, else the area's street (``street_of``)."""
    category = db.get(Category, warning.category_id)
    department = category_service.responsible_department(
        db=db, category=category, district_code=warning.area_code
    )
    if to is None:
        to = "department" if department is not None else STREET
    if to == STREET:
        return STREET, street_of(db, warning).code, None
    if department is None:
        raise Invalid("warning.no_department", category=category.name)
    return "department", None, department


def send_letter(
    db: Session, principal: Principal, scope: Scope, warning_id: int, *, to: str | None = None
) -> Warning:
    """Number the reminder letter (提醒函〔year〕第 n 号, gap-free per year), address it, give it the reply
    date, render it and keep the rendered letter in the row."""
    from server.warning.letter import render

    warning = get(db, scope, warning_id, lock=True)
    _refuse_closed(warning)
    if warning.letter_sent_at is not None:
        raise Conflict("warning.letter_sent", at=when(warning.letter_sent_at), number=warning.letter_number)
    kind, grid_code, department = addressee(db, warning, to)
    now = _now()
    day = today()
    seq = db.scalar(
        text(
            "INSERT INTO warning_letter_counter (year, last) VALUES (:year, 1) ON CONFLICT (city_id, year) "
            "DO UPDATE SET last = warning_letter_counter.last + 1 RETURNING last"
        ),
        {"year": day.year},
    )
    before = warning.state
    if warning.seen_at is None:
        warning.seen_at, warning.seen_by = now, principal.user_id
    warning.addressee_kind, warning.addressee_grid_code = kind, grid_code
    warning.addressee_department_id = department.id if department else None
    if department is not None:
        warning.addressee_name = department.name
    else:
        warning.addressee_name = db.scalar(select(Grid.name).where(CURRENT, Grid.code == grid_code))
    warning.letter_year, warning.letter_seq = day.year, seq
    warning.letter_number = f"提醒函〔{day.year}〕第 {seq} 号"
    warning.letter_sent_at, warning.letter_sent_by = now, principal.user_id
    warning.letter_due_on = reply_due(day)
    warning.state = "letter"
    warning.letter_html = render(db, warning, sender=principal.name)
    _log(db, warning, principal, "letter", before, number=warning.letter_number, to=warning.addressee_name)
    db.commit()
    return warning


def reply_due(day: date) -> date:
    """The local date ``warning_reply_days`` working days after ``day``."""
    settings = get_settings()
    calendar = load_calendar(settings)
    left = settings.warning_reply_days
    while left:
        day += timedelta(days=1)
        left -= calendar.is_workday(day)
    return day


def is_addressee(db: Session, principal: Principal, warning: Warning) -> bool:
    """The addressee's people: the department's users, or the grid heads of the street (an assignment as its
    head in force today); an administrator acts for any."""
    if principal.has("admin"):
        return True
    user = principal.user
    if warning.addressee_kind == "department":
        return (
            principal.has("department")
            and user.department_code is not None
            and user.department_code
            == (db.scalar(select(Department.code).where(Department.id == warning.addressee_department_id)))
        )
    return principal.has("grid_head") and bool(
        db.scalar(
            select(GridAssignment.id).where(
                GridAssignment.user_id == user.id,
                GridAssignment.grid_code == warning.addressee_grid_code,
                GridAssignment.role == "head",
                in_force(today()),
            )
        )
    )


def acknowledge(db: Session, principal: Principal, scope: Scope, warning_id: int, *, reply: str) -> Warning:
    warning = get(db, scope, warning_id, lock=True)
    _refuse_closed(warning)
    if warning.state == "acknowledged":
        who = _name(db, warning.acknowledged_by)
        raise Conflict("warning.already_acknowledged", who=who, at=when(warning.acknowledged_at))
    if warning.state != "letter":
        raise Conflict("warning.no_letter")
    if not is_addressee(db, principal, warning):
        raise Forbidden("warning.not_addressee", addressee=warning.addressee_name)
    if not reply.strip():
        raise Invalid("warning.reply_required")
    before = warning.state
    warning.acknowledged_at, warning.acknowledged_by = _now(), principal.user_id
    warning.reply, warning.state = reply.strip(), "acknowledged"
    _log(db, warning, principal, "acknowledge", before, note=warning.reply)
    db.commit()
    return warning


def close(db: Session, principal: Principal, scope: Scope, warning_id: int, *, reason: str) -> Warning:
    warning = get(db, scope, warning_id, lock=True)
    _refuse_closed(warning)
    if not reason.strip():
        raise Invalid("warning.reason_required")
    before = warning.state
    warning.closed_at, warning.closed_by = _now(), principal.user_id
    warning.close_reason, warning.state = reason.strip(), "closed"
    _log(db, warning, principal, "close", before, note=warning.close_reason)
    db.commit()
    return warning
