"""What each action of the workflow does to a case (its effect), and what must hold first besides role
and state (its guard). ``server.case.flows`` names them in each action's spec; ``server.case.actions``
runs them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from server.auth.models import User
from server.auth.principal import Principal
from server.case.clock import set_due, start_clock
from server.case.models import Case, CaseDispatch, CasePhoto
from server.case.queries import code_of, code_of_department, get_case
from server.case.schemas import ActionIn
from server.case.scope import Scope
from server.case.states import TERMINAL, State
from server.case.trail import record_event
from server.category import service as category_service
from server.category.models import Category
from server.errors import Conflict, DomainError, Forbidden, Invalid
from server.grid.models import GridAssignment, in_force, today
from server.worktime.calendar import WorkCalendar


@dataclass
class Context:
    db: Session
    principal: Principal
    scope: Scope
    case: Case
    body: ActionIn
    now: datetime
    cal: WorkCalendar
    category: Category
    role: str | None  # the role the user acts in
    data: dict = field(default_factory=dict)
    photo_ids: list[int] = field(default_factory=list)
    clock_set: bool = False  # the effect set the clock itself


def _require(value, message: str):
    if value in (None, "", []):
        raise Invalid(message)
    return value


def _inspector_for(ctx: Context, prefer_reporter: bool) -> User:
    """The inspector a verification or check task goes to: the one named, else the reporting inspector
    (for a check), else an inspector of the case's grid or of its nearest parent."""
    db, case = ctx.db, ctx.case
    if ctx.body.inspector_id is not None:
        user = db.get(User, ctx.body.inspector_id)
        if user is None or "inspector" not in user.roles or not user.active:
            raise Invalid(f"user {ctx.body.inspector_id} is not an active inspector")
        return user
    if prefer_reporter and case.channel == "inspector" and case.reporter_id:
        return db.get(User, case.reporter_id)
    codes = case.grid_path.split(".")
    user = db.scalar(
        select(User)
        .join(GridAssignment, GridAssignment.user_id == User.id)
        .where(
            GridAssignment.grid_code.in_(codes),
            GridAssignment.role == "inspector",
            in_force(today()),
            User.active,
        )
        .order_by(func.length(GridAssignment.grid_code).desc(), GridAssignment.id)
        .limit(1)
    )
    if user is None:
        raise Conflict(f"no inspector patrols grid {case.grid_code} or its parents: name one (inspector_id)")
    return user


def _assign_task(ctx: Context, prefer_reporter: bool) -> None:
    inspector = _inspector_for(ctx, prefer_reporter)
    ctx.case.task_assignee_id = inspector.id
    ctx.data["inspector"] = {"id": inspector.id, "name": inspector.name}


def _photos_of(ctx: Context, role: str, since: datetime | None) -> list[int]:
    """The photos named in the body (which must be this case's, of ``role``), else all of ``role`` taken
    since ``since``."""
    query = select(CasePhoto.id).where(CasePhoto.case_id == ctx.case.id, CasePhoto.role == role)
    if ctx.body.photo_ids:
        found = list(ctx.db.scalars(query.where(CasePhoto.id.in_(ctx.body.photo_ids))))
        missing = sorted(set(ctx.body.photo_ids) - set(found))
        if missing:
            raise Invalid(f"photos {missing} are not {role} photos of case {ctx.case.code}")
        return found
    if since is not None:
        query = query.where(CasePhoto.uploaded_at >= since)
    return list(ctx.db.scalars(query.order_by(CasePhoto.id)))


def request_verification(ctx: Context) -> None:
    _assign_task(ctx, prefer_reporter=False)


def reply_verification(ctx: Context) -> None:
    result = ctx.body.result
    if result not in ("confirmed", "not_found"):
        raise Invalid("reply verification with result 'confirmed' (the problem is there) or 'not_found'")
    ctx.data["result"] = result
    ctx.photo_ids = _photos_of(ctx, "verification", ctx.case.step_started_at)


def file(ctx: Context) -> None:
    if ctx.body.urgency:
        ctx.data["urgency"] = {"from": ctx.case.urgency, "to": ctx.body.urgency}
        ctx.case.urgency = ctx.body.urgency


def void(ctx: Context) -> None:
    ctx.data["reason"] = _require(ctx.body.reason, "voiding a case needs a reason")


def dispatch(ctx: Context) -> None:
    db, case = ctx.db, ctx.case
    lead_code = ctx.body.lead_department or code_of_department(db, case.department_id)
    lead = category_service.get_department(db=db, code=_require(lead_code, "name the lead department"))
    parallel = [category_service.get_department(db=db, code=c) for c in ctx.body.parallel_departments]
    if lead.id in {d.id for d in parallel}:
        raise Invalid("the lead department cannot also be a parallel one")
    _end_dispatches(ctx)
    for department, lead_flag in [(lead, True)] + [(d, False) for d in parallel]:
        db.add(
            CaseDispatch(case_id=case.id, department_id=department.id, lead=lead_flag, dispatched_at=ctx.now)
        )
    case.department_id = lead.id
    case.dispatched_at = ctx.now
    case.handled_at = None
    case.extension_request = None
    ctx.data["departments"] = {"lead": lead.code, "parallel": [d.code for d in parallel]}
    case.state = State.DISPATCHED.value
    start_clock(case, ctx.category, ctx.now, ctx.cal)
    ctx.clock_set = True
    case.handle_due_at = case.step_due_at
    ctx.data["handle_due"] = case.handle_due_at.isoformat()


def return_(ctx: Context) -> None:
    ctx.data["reason"] = _require(ctx.body.reason, "returning a case needs a reason (why it is not yours)")
    _end_dispatches(ctx)


def _end_dispatches(ctx: Context) -> None:
    """The departments the case is with now stop having it (their dispatch rows stay, for the record)."""
    ctx.db.execute(
        update(CaseDispatch)
        .where(CaseDispatch.case_id == ctx.case.id, CaseDispatch.ended_at.is_(None))
        .values(ended_at=ctx.now)
    )


def request_extension(ctx: Context) -> None:
    extension = _require(ctx.body.extension, "say how much more time is needed, e.g. extension '2d'")
    try:
        minutes = ctx.cal.parse_limit(extension)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    reason = _require(ctx.body.reason, "an extension request needs a reason")
    ctx.case.extension_request = {"extension": extension, "minutes": minutes, "reason": reason}
    ctx.data.update(ctx.case.extension_request)


def approve_extension(ctx: Context) -> None:
    case, request = ctx.case, ctx.case.extension_request
    case.step_limit_min = (case.step_limit_min or 0) + request["minutes"]
    set_due(case, ctx.cal.add(case.step_due_at, request["minutes"]), ctx.cal)
    case.handle_due_at = case.step_due_at
    if case.step_due_at > ctx.now:
        case.supervised_at = None
    case.extension_request = None
    ctx.data.update(request, handle_due=case.handle_due_at.isoformat())


def refuse_extension(ctx: Context) -> None:
    ctx.data.update(ctx.case.extension_request, reason=_require(ctx.body.reason, "say why it is refused"))
    ctx.case.extension_request = None


def suspend(ctx: Context) -> None:
    case = ctx.case
    ctx.data["reason"] = _require(ctx.body.reason, "suspending a case needs a reason")
    case.step_remaining_min = max(0.0, ctx.cal.between(ctx.now, case.step_due_at))
    set_due(case, None, ctx.cal)
    ctx.data["remaining_minutes"] = case.step_remaining_min


def resume(ctx: Context) -> None:
    case = ctx.case
    set_due(case, ctx.cal.add(ctx.now, case.step_remaining_min or 0), ctx.cal)
    case.handle_due_at = case.step_due_at
    case.step_remaining_min = None
    ctx.data["handle_due"] = case.handle_due_at.isoformat()


def report_handling(ctx: Context) -> None:
    ctx.photo_ids = _photos_of(ctx, "after", ctx.case.dispatched_at)
    if not ctx.photo_ids:
        raise Invalid(
            f"report the handling with at least one after-photo: upload it to "
            f"/api/cases/{ctx.case.code}/photos?role=after first"
        )
    ctx.case.handled_at = ctx.now
    ctx.data["on_time"] = ctx.now <= ctx.case.handle_due_at


def request_check(ctx: Context) -> None:
    _assign_task(ctx, prefer_reporter=True)


def reply_check(ctx: Context) -> State:
    case, result = ctx.case, ctx.body.result
    if result not in ("pass", "rework"):
        raise Invalid("reply the check with result 'pass' (fixed) or 'rework' (not fixed)")
    ctx.data["result"] = result
    ctx.photo_ids = _photos_of(ctx, "check", case.step_started_at)
    if result == "pass":
        if not ctx.photo_ids:
            raise Invalid(
                f"a passed check needs a check photo: upload it to /api/cases/{case.code}/photos?role=check"
            )
        return State.CHECKED
    # Rework: back to the department, on the handling clock it had (rework counts against it).
    case.rework_count += 1
    case.handled_at = None
    case.step_started_at = case.dispatched_at
    case.step_limit_min = ctx.cal.between(case.dispatched_at, case.handle_due_at)
    set_due(case, case.handle_due_at, ctx.cal)
    case.supervised_at = None
    ctx.clock_set = True
    return State.DISPATCHED


def close(ctx: Context) -> None:
    case = ctx.case
    late = (
        case.handled_at is not None
        and case.handle_due_at is not None
        and case.handled_at > case.handle_due_at
    )
    kind = ctx.body.close_kind or ("overdue" if late else "normal")
    if kind == "normal" and late:
        raise Invalid(
            "the case was handled after its deadline: close it as overdue (or special, with a note)"
        )
    if kind in ("erroneous", "special"):
        _require(ctx.body.note, f"a {kind} closing needs a note saying why")
    case.close_kind, case.closed_at = kind, ctx.now
    ctx.data["kind"] = kind


def merge(ctx: Context) -> None:
    case = ctx.case
    master_code = _require(ctx.body.master, "name the master case to merge into (master)")
    master = get_case(db=ctx.db, scope=ctx.scope, code=master_code, for_update=True)
    if master.id == case.id or master.state in TERMINAL:
        raise Conflict(f"case {master.code} cannot take a merge: it is {master.state}")
    case.merged_into_id = master.id
    case.duplicate_of_id = None
    ctx.data["master"] = master.code
    record_event(
        ctx.db, master, ctx.principal, "merge", master.state, ctx.now,
        role=ctx.role, note=ctx.body.note, data={"merged": case.code},
    )  # fmt: skip


def keep_apart(ctx: Context) -> None:
    ctx.data["was_duplicate_of"] = code_of(db=ctx.db, case_id=ctx.case.duplicate_of_id)
    ctx.case.duplicate_of_id = None


def tag(ctx: Context) -> None:
    tag = category_service.get_tag(db=ctx.db, code=_require(ctx.body.tag, "name the tag"))
    if tag.code in ctx.case.tags:
        raise Conflict(f"case {ctx.case.code} already has the tag {tag.code}")
    ctx.case.tags = [*ctx.case.tags, tag.code]
    ctx.data["tag"] = tag.code


def untag(ctx: Context) -> None:
    tag = _require(ctx.body.tag, "name the tag")
    if tag not in ctx.case.tags:
        raise Conflict(f"case {ctx.case.code} has no tag {tag}")
    ctx.case.tags = [t for t in ctx.case.tags if t != tag]
    ctx.data["tag"] = tag


def callback(ctx: Context) -> None:
    """The call-back after closing (回访): whether the caller was reached and, if so, whether the problem is
    solved and how satisfied they are. A case may be called back again; the latest call-back counts."""
    body = ctx.body
    ctx.data["contacted"] = _require(body.contacted, "say whether the caller was reached (contacted)")
    if body.contacted:
        if body.solved is None or body.satisfaction is None:
            raise Invalid("a call-back that reached the caller says whether it is solved and how satisfied")
        ctx.data["solved"], ctx.data["satisfaction"] = body.solved, body.satisfaction


# -- guards: what else must hold before an action may be taken (None: it may) -------------------------------


def own_task(db: Session, principal: Principal, case: Case) -> DomainError | None:
    """A task reply comes from the inspector the task was given to (an administrator may reply for them)."""
    if principal.has("admin") or case.task_assignee_id == principal.user_id:
        return None
    name = db.scalar(select(User.name).where(User.id == case.task_assignee_id)) or "another inspector"
    return Forbidden(f"this task of case {case.code} is assigned to {name}")


def no_extension_waiting(db: Session, principal: Principal, case: Case) -> DomainError | None:
    if case.extension_request is not None:
        return Conflict("an extension request is already waiting for the dispatcher")
    return None


def extension_waiting(db: Session, principal: Principal, case: Case) -> DomainError | None:
    if case.extension_request is None:
        return Conflict("no extension request is waiting")
    return None


def duplicate_candidate(db: Session, principal: Principal, case: Case) -> DomainError | None:
    if case.duplicate_of_id is None:
        return Conflict("this case is not a duplicate candidate")
    return None


def has_caller(db: Session, principal: Principal, case: Case) -> DomainError | None:
    if case.channel == "inspector":
        return Conflict("an inspector's own report has no caller to call back")
    return None
