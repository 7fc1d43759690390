"""The workflow's actions. Every action locks the case row, checks scope (404), role (403), version and
state (409), applies its effect, appends one event to the audit trail and commits once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.crs import to_wgs84
from server.auth.principal import Principal
from server.case.clock import calendar, clock, start_clock
from server.case.effects import Context
from server.case.flows import ACTIONS, ActionSpec, state_refusal
from server.case.models import Case, CaseDispatch, CaseEvent
from server.case.queries import get_case
from server.case.schemas import ActionIn
from server.case.scope import Scope
from server.case.states import STEP_OF, State
from server.case.trail import db_now, record_event
from server.category.models import Category
from server.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from server.http_errors import validation_items
from server.messages import role_names


def allowed_actions(*, db: Session, principal: Principal, scope: Scope, case: Case) -> dict[str, str | None]:
    """The actions the case's state allows and this user holds a role for, mapped to None when the user may
    take it now, else to why not (the lead department's, a guard's). Others are not this user's to take:
    not offered at all."""
    lead = cache(lambda: _lead_department_is(db, case, scope.department_id))  # asked once, if at all
    state = State(case.state)
    offered = [a for a in ACTIONS.values() if state in a.sources and principal.roles & a.roles]
    refusals = {action.name: _refusal(db, principal, case, action, lead) for action in offered}
    return {name: refusal.message if refusal else None for name, refusal in refusals.items()}


def _refusal(
    db: Session, principal: Principal, case: Case, action: ActionSpec, lead: Callable[[], bool]
) -> DomainError | None:
    """Why ``principal`` may not take ``action`` on ``case`` now (None: it may): a missing role first;
    ``lead()`` says whether the user's department leads the case."""
    if not principal.roles & action.roles:
        return Forbidden("case.role_required", action=action.label, roles=role_names(action.roles))
    state = State(case.state)
    if state not in action.sources:
        return state_refusal(action, state, case.version)
    admin = principal.has("admin")  # acts for any department and inspector, not around the case's state
    if not admin and action.department_only and not lead():
        return Forbidden("case.lead_department_only", action=action.label)
    return action.guard(db, principal, case) if action.guard else None


def body_of(action: str, **fields) -> ActionIn:
    """The input of ``action`` from plain values (the command line, the demo): 422 when they do not fit
    its form, each problem a sentence naming the field in words; 404 when there is no such action."""
    spec = ACTIONS.get(action)
    if spec is None:
        raise NotFound("case.no_action", action=action)
    try:
        return spec.form(**fields)
    except ValidationError as exc:
        items = validation_items([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()])
        problems = [item.msg for item in items]
        raise Invalid("case.invalid_input", problems="；".join(problems), errors=problems) from None


def _acting_role(principal: Principal, action: ActionSpec) -> str | None:
    """The role a user acts in: one of the action's roles it holds, the administrator's last."""
    held = sorted(principal.roles & action.roles, key=lambda r: (r == "admin", r))
    return held[0] if held else None


def _lead_department_is(db: Session, case: Case, department_id: int | None) -> bool:
    if department_id is None:
        return False
    return (
        db.scalar(
            select(CaseDispatch.id).where(
                CaseDispatch.case_id == case.id,
                CaseDispatch.department_id == department_id,
                CaseDispatch.lead,
                CaseDispatch.ended_at.is_(None),
            )
        )
        is not None
    )


def act(
    *,
    db: Session,
    principal: Principal,
    scope: Scope,
    code: str,
    action: str,
    body: ActionIn,
    at: datetime | None = None,
) -> Case:
    """Take ``action`` on case ``code`` as ``principal``, with ``body`` (the action's own input model,
    ``ACTIONS[action].form``) and ``body.version`` the version it saw."""
    spec = ACTIONS.get(action)
    if spec is None:
        raise NotFound("case.no_action", action=action)
    case = get_case(db=db, scope=scope, code=code, for_update=True)
    refusal = _refusal(db, principal, case, spec, lambda: _lead_department_is(db, case, scope.department_id))
    if isinstance(refusal, Forbidden) and not principal.roles & spec.roles:
        raise refusal
    if not isinstance(body, spec.form):
        raise TypeError(f"{action} takes a {spec.form.__name__}, not a {type(body).__name__}")
    if body.version != case.version:
        raise _stale(db, case, body.version)
    if refusal:
        raise refusal

    now = db_now(db, at)
    cal = calendar(case.clock)
    role = _acting_role(principal, spec)
    category = db.get(Category, case.category_id)
    ctx = Context(db, principal, scope, case, body, now, cal, category, role, spec.label)
    ctx.data["light"] = clock(case, now).light
    if body.public_note:
        ctx.data["public_note"] = body.public_note
    before_state = case.state
    target = spec.effect(ctx) or spec.target
    if target is not None:
        case.state = target.value
        if not ctx.clock_set and STEP_OF.get(target) != STEP_OF.get(State(before_state)):
            start_clock(case, ctx.category, now)
    case.version += 1
    where = body.lon is not None and body.lat is not None
    location = to_wgs84(body.lon, body.lat, body.crs) if where else None
    record_event(
        db, case, principal, action, before_state, now, role=role, note=body.note, location=location,
        photo_ids=ctx.photo_ids, data=ctx.data,
    )  # fmt: skip
    db.commit()
    return case


def _stale(db: Session, case: Case, seen: int) -> DomainError:
    """The refusal of an action on version ``seen`` of a case now at another (409): who changed it since,
    and by which action (the last one that changed its version: an action on the case itself)."""
    where = {"state": case.state, "version": case.version, "seen": seen}
    last = None
    if seen < case.version:
        last = db.scalar(
            select(CaseEvent)
            .where(
                CaseEvent.case_id == case.id,
                CaseEvent.action.in_(ACTIONS),
                # a merge changes the merged case, not the master it is recorded on too
                (CaseEvent.action != "merge") | (CaseEvent.state_after == State.MERGED.value),
            )
            .order_by(CaseEvent.id.desc())
            .limit(1)
        )
    if last is None:
        return Conflict("case.version_mismatch", **where)
    return Conflict("case.stale_version", actor=last.actor_name, action=ACTIONS[last.action].label, **where)
