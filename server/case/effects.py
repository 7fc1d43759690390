"""What each action of the workflow does to a case (its effect), and what must hold first besides role
and state (its guard). ``server.case.flows`` names them in each action's spec; ``server.case.actions``
runs them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from server.auth.models import User
from server.auth.principal import Principal
from server.case import replies, tiers
from server.case.clock import (
    Timekeeper,
    calendar,
    clock_kind,
    handling_limit,
    set_due,
    start_clock,
    start_receipt,
    step_limit,
)
from server.case.models import Case, CaseDispatch, CaseLayerGrid, CasePhoto, CaseSupervision
from server.case.queries import code_of, code_of_department, duplicate_candidates, get_case
from server.case.schemas import CLOSE_KIND_LABELS, PHOTO_KIND_LABELS, ActionIn
from server.case.scope import Scope
from server.case.states import STATE_LABELS, STEP_OF, TERMINAL, State
from server.case.trail import record_event
from server.category import service as category_service
from server.category.models import Category, Department, RequestType
from server.config import get_settings
from server.errors import Conflict, DomainError, Forbidden, Invalid
from server.grid.models import GridAssignment, GridLayer, in_force, today
from server.knowledge import service as knowledge
from server.messages import field_label, role_name
from server.worktime.calendar import duration_words


@dataclass
class Context:
    db: Session
    principal: Principal
    scope: Scope
    case: Case
    body: ActionIn
    now: datetime
    cal: Timekeeper  # the case's clock: working or natural time
    category: Category
    role: str | None  # the role the user acts in
    action: str  # the action's label, as people name it
    data: dict = field(default_factory=dict)
    photo_ids: list[int] = field(default_factory=list)
    clock_set: bool = False  # the effect set the clock itself


def _require(ctx: Context, value, name: str):
    """``value`` of the body's field ``name``, which the action cannot do without: 422 naming it in words."""
    if value in (None, "", []):
        raise Invalid("case.field_required", action=ctx.action, field=field_label(name))
    return value


def responsible_chain(db: Session, case: Case, category: Category) -> tuple[list[str], ColumnElement[bool]]:
    """The grids whose people answer for a case, from the root down, and the condition on
    ``GridAssignment`` for their layer: the category's layer's grid holding the case (docs/DOMAIN.md
    section 2, grid layers), else (no layer named, or that layer holds no grid there) the case's own grid
    in the default layer."""
    if category.layer:
        path = db.scalar(
            select(CaseLayerGrid.grid_path).where(
                CaseLayerGrid.case_id == case.id, CaseLayerGrid.layer == category.layer
            )
        )
        if path is not None:
            return path.split("."), GridAssignment.layer == category.layer
    default = select(GridLayer.code).where(GridLayer.is_default).scalar_subquery()
    return case.grid_path.split("."), GridAssignment.layer == default


def _inspector_for(ctx: Context, prefer_reporter: bool) -> User:
    """The inspector a verification or check task goes to: the one named, else the reporting inspector
    (for a check), else an inspector of the responsible grid (``responsible_chain``) or of its nearest
    parent, in the responsible layer."""
    db, case = ctx.db, ctx.case
    if ctx.body.inspector_id is not None:
        user = db.get(User, ctx.body.inspector_id)
        if user is None or "inspector" not in user.roles or not user.active:
            raise Invalid("case.not_an_inspector", user_id=ctx.body.inspector_id)
        return user
    if prefer_reporter and case.channel == "inspector" and case.reporter_id:
        return db.get(User, case.reporter_id)
    codes, in_layer = responsible_chain(db, case, ctx.category)
    user = db.scalar(
        select(User)
        .join(GridAssignment, GridAssignment.user_id == User.id)
        .where(
            GridAssignment.grid_code.in_(codes),
            in_layer,
            GridAssignment.role == "inspector",
            in_force(today()),
            User.active,
        )
        .order_by(func.length(GridAssignment.grid_code).desc(), GridAssignment.id)
        .limit(1)
    )
    if user is None:
        raise Conflict("case.no_inspector", grid=codes[-1])
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
            shown = "、".join(map(str, missing))
            raise Invalid("case.photos_not_of_case", photos=shown, kind=PHOTO_KIND_LABELS[role], role=role)
        return found
    if since is not None:
        query = query.where(CasePhoto.uploaded_at >= since)
    return list(ctx.db.scalars(query.order_by(CasePhoto.id)))


def request_verification(ctx: Context) -> None:
    _assign_task(ctx, prefer_reporter=False)


def reply_verification(ctx: Context) -> None:
    result = ctx.body.result
    if result not in ("confirmed", "not_found"):
        raise Invalid("case.verification_result_required")
    ctx.data["result"] = result
    ctx.photo_ids = _photos_of(ctx, "verification", ctx.case.step_started_at)


def file(ctx: Context) -> None:
    if ctx.body.urgency:
        ctx.data["urgency"] = {"from": ctx.case.urgency, "to": ctx.body.urgency}
        ctx.case.urgency = ctx.body.urgency
    tiers.assign(ctx.db, ctx.case)
    ctx.data["dispatch_center"] = ctx.case.dispatch_center


def void(ctx: Context) -> None:
    ctx.data["reason"] = _require(ctx, ctx.body.reason, "reason")
    _end_supervision(ctx)


def dispatch(ctx: Context) -> None:
    db, case = ctx.db, ctx.case
    lead_code = ctx.body.lead_department or code_of_department(db, case.department_id)
    lead = category_service.get_department(db=db, code=_require(ctx, lead_code, "lead_department"))
    parallel = [category_service.get_department(db=db, code=c) for c in ctx.body.parallel_departments]
    if lead.id in {d.id for d in parallel}:
        raise Invalid("case.lead_also_parallel", department=lead.code)
    tiers.check_teams(db, case, [lead, *parallel])
    # 首办负责制: the first department stays responsible; sending the case elsewhere needs a reason on record
    if case.first_department_id is None:
        case.first_department_id = lead.id
    elif lead.id != case.first_department_id and not ctx.body.reason:
        first = db.get(Department, case.first_department_id)
        raise Invalid("case.reassign_reason_required", first=first.name)
    if ctx.body.reason:
        ctx.data["reason"] = ctx.body.reason
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
    start_clock(case, ctx.category, ctx.now)
    start_receipt(case, ctx.now)
    ctx.data["receipt_due"] = case.receipt_due_at.isoformat()
    ctx.clock_set = True
    case.handle_due_at = case.step_due_at
    ctx.data["handle_due"] = case.handle_due_at.isoformat()


def escalate(ctx: Context) -> None:
    """上报: the dispatch center holding the case sends it to the one above (server.case.tiers)."""
    ctx.data["reason"] = _require(ctx, ctx.body.reason, "reason")
    ctx.data.update(tiers.send_up(ctx.db, ctx.case))


def return_(ctx: Context) -> None:
    ctx.data["reason"] = _require(ctx, ctx.body.reason, "reason")
    _end_dispatches(ctx)


def _end_dispatches(ctx: Context) -> None:
    """The departments the case is with now stop having it (their dispatch rows stay, for the record)."""
    ctx.db.execute(
        update(CaseDispatch)
        .where(CaseDispatch.case_id == ctx.case.id, CaseDispatch.ended_at.is_(None))
        .values(ended_at=ctx.now)
    )


def _end_supervision(ctx: Context) -> None:
    """A case that ends (closed, voided, merged) ends its open supervision (督办) with it."""
    ctx.db.execute(
        update(CaseSupervision)
        .where(CaseSupervision.case_id == ctx.case.id, CaseSupervision.closed_at.is_(None))
        .values(closed_at=ctx.now)
    )
    ctx.case.supervision_level = None


def request_extension(ctx: Context) -> None:
    extension = _require(ctx, ctx.body.extension, "extension")
    try:
        minutes = ctx.cal.parse_limit(extension)
    except ValueError:
        raise Invalid("case.extension_unreadable", examples="30m、4h、2d") from None
    # At most the category's handling limit again (by default): a longer one is a typing slip, or a case
    # to suspend or hand back.
    limit = ctx.cal.parse_limit(handling_limit(ctx.case, ctx.category, ctx.cal))
    most = round(limit * get_settings().extension_max_factor)
    if minutes > most:
        working_day = None if ctx.case.clock == "natural" else ctx.cal.day_minutes()
        raise Invalid("case.extension_too_long", most=duration_words(most, working_day), max_minutes=most)
    reason = _require(ctx, ctx.body.reason, "reason")
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
    ctx.data.update(ctx.case.extension_request, reason=_require(ctx, ctx.body.reason, "reason"))
    ctx.case.extension_request = None


def suspend(ctx: Context) -> None:
    case = ctx.case
    ctx.data["reason"] = _require(ctx, ctx.body.reason, "reason")
    case.step_remaining_min = max(0.0, ctx.cal.between(ctx.now, case.step_due_at))
    set_due(case, None, ctx.cal)
    ctx.data["remaining_minutes"] = case.step_remaining_min


def resume(ctx: Context) -> None:
    case = ctx.case
    set_due(case, ctx.cal.add(ctx.now, case.step_remaining_min or 0), ctx.cal)
    case.handle_due_at = case.step_due_at
    case.step_remaining_min = None
    ctx.data["handle_due"] = case.handle_due_at.isoformat()


def receive(ctx: Context) -> None:
    ctx.case.received_by_department_at = ctx.now
    ctx.data["on_time"] = ctx.now <= ctx.case.receipt_due_at


def report_handling(ctx: Context) -> None:
    ctx.photo_ids = _photos_of(ctx, "after", ctx.case.dispatched_at)
    if not ctx.photo_ids:
        raise Invalid("case.after_photo_required")
    ctx.case.handled_at = ctx.now
    ctx.data["on_time"] = ctx.now <= ctx.case.handle_due_at


def request_check(ctx: Context) -> None:
    _assign_task(ctx, prefer_reporter=True)


def reply_check(ctx: Context) -> State:
    case, result = ctx.case, ctx.body.result
    if result not in ("pass", "rework"):
        raise Invalid("case.check_result_required")
    ctx.data["result"] = result
    ctx.photo_ids = _photos_of(ctx, "check", case.step_started_at)
    if result == "pass":
        if not ctx.photo_ids:
            raise Invalid("case.check_photo_required")
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
        raise Invalid("case.handled_late")
    if kind in ("erroneous", "special") and not ctx.body.note:
        raise Invalid("case.close_note_required", kind=CLOSE_KIND_LABELS[kind], close_kind=kind)
    case.close_kind, case.closed_at = kind, ctx.now
    ctx.data["kind"] = kind
    if on_the_spot(case):
        ctx.data["simple_flow"] = True
    _end_supervision(ctx)


def answer(ctx: Context) -> None:
    """答复办结: a 咨询 answered from the desk, closed at once (never dispatched, so no department's case);
    the reply, its placeholders filled from the case, is what the citizens' tracking page shows."""
    case, body = ctx.case, ctx.body
    reply = _require(ctx, (body.reply or "").strip(), "reply")
    if body.template_id is not None:
        template = knowledge.usable(db=ctx.db, template_id=body.template_id)
        knowledge.count_use(db=ctx.db, template=template, now=ctx.now)
    filled = replies.reply(db=ctx.db, case=case, text=reply)
    ctx.data.update(template_id=body.template_id, public_note=filled)
    case.close_kind, case.closed_at = "normal", ctx.now
    case.department_id = None
    ctx.data["kind"] = "normal"
    _end_supervision(ctx)


def merge(ctx: Context) -> None:
    case = ctx.case
    master_code = _require(ctx, ctx.body.master, "master")
    master = get_case(db=ctx.db, scope=ctx.scope, code=master_code, for_update=True)
    if master.id == case.id:
        raise Conflict("case.merge_into_itself")
    if master.state in TERMINAL:
        label = STATE_LABELS[State(master.state)]
        raise Conflict("case.master_over", master=master.code, state=master.state, state_label=label)
    case.merged_into_id = master.id
    case.duplicate_of_id = None
    ctx.data["master"] = master.code
    _end_supervision(ctx)
    record_event(
        ctx.db, master, ctx.principal, "merge", master.state, ctx.now,
        role=ctx.role, note=ctx.body.note, data={"merged": case.code},
    )  # fmt: skip


def reclassify(ctx: Context) -> None:
    """改类: the case moves to another leaf category, and takes again what the intake took from the
    category: its urgency (unless set by hand: one other than the old category's), its clock kind and the
    running step's limit (from the step's start), its department (the district's override first) and its
    duplicate mark (an earlier open case of the new category nearby). The grids of the other layers are
    the case's place, not its category's: they stay."""
    db, case, old = ctx.db, ctx.case, ctx.category
    code = _require(ctx, ctx.body.category, "category")
    reason = _require(ctx, ctx.body.reason, "reason")
    new = category_service.get_category(db=db, code=code, leaf_only=True)
    if new.id == old.id:
        raise Conflict("case.same_category", category=new.code, name=new.name)
    case.category_id = new.id
    ctx.category = new
    ctx.data.update({"from": old.code, "to": new.code, "from_name": old.name, "to_name": new.name})
    ctx.data["reason"] = reason
    if case.urgency == old.urgency and new.urgency != case.urgency:
        ctx.data["urgency"] = {"from": case.urgency, "to": new.urgency}
        case.urgency = new.urgency
    department = category_service.responsible_department(
        db=db, category=new, district_code=case.district_code
    )
    case.department_id = department.id if department else None
    ctx.data["department"] = department.code if department else None
    case.clock = clock_kind(new, case.urgency)
    ctx.cal = calendar(case.clock)
    step = STEP_OF[State(case.state)]
    case.step_limit_min = step_limit(case, step, new, ctx.cal)
    set_due(case, ctx.cal.add(case.step_started_at, case.step_limit_min), ctx.cal)
    ctx.clock_set = True
    near = duplicate_candidates(db=db, scope=ctx.scope, case=case)
    master = next((c for c, _ in near if c.received_at <= case.received_at), None)
    case.duplicate_of_id = master.id if master else None
    ctx.data["duplicate_of"] = master.code if master else None


def keep_apart(ctx: Context) -> None:
    ctx.data["was_duplicate_of"] = code_of(db=ctx.db, case_id=ctx.case.duplicate_of_id)
    ctx.case.duplicate_of_id = None


def tag(ctx: Context) -> None:
    tag = category_service.get_tag(db=ctx.db, code=_require(ctx, ctx.body.tag, "tag"))
    if tag.code in ctx.case.tags:
        raise Conflict("case.tag_present", tag=tag.code, name=tag.name)
    ctx.case.tags = [*ctx.case.tags, tag.code]
    ctx.data["tag"] = tag.code


def untag(ctx: Context) -> None:
    tag = _require(ctx, ctx.body.tag, "tag")
    if tag not in ctx.case.tags:
        raise Conflict("case.tag_absent", tag=tag)
    ctx.case.tags = [t for t in ctx.case.tags if t != tag]
    ctx.data["tag"] = tag


def callback(ctx: Context) -> None:
    """The call-back after closing (回访): whether the caller was reached and, if so, whether the problem is
    solved and how satisfied they are. A case may be called back again; the latest call-back counts."""
    body = ctx.body
    ctx.data["contacted"] = _require(ctx, body.contacted, "contacted")
    if body.contacted:
        if body.solved is None or body.satisfaction is None:
            raise Invalid("case.callback_incomplete")
        ctx.data["solved"], ctx.data["satisfaction"] = body.solved, body.satisfaction


# -- guards: what else must hold before an action may be taken (None: it may) -------------------------------


def own_task(db: Session, principal: Principal, case: Case) -> DomainError | None:
    """A task reply comes from the inspector the task was given to (an administrator may reply for them)."""
    if principal.has("admin") or case.task_assignee_id == principal.user_id:
        return None
    name = db.scalar(select(User.name).where(User.id == case.task_assignee_id)) or role_name("inspector")
    return Forbidden("case.task_of_another", assignee=name)


def no_extension_waiting(db: Session, principal: Principal, case: Case) -> DomainError | None:
    if case.extension_request is not None:
        return Conflict("case.extension_waiting")
    return received(db, principal, case)


def not_received(db: Session, principal: Principal, case: Case) -> DomainError | None:
    if case.received_by_department_at is not None:
        return Conflict("case.already_received")
    return None


def received(db: Session, principal: Principal, case: Case) -> DomainError | None:
    """A department acknowledges a case (签收) before it works it."""
    if case.received_by_department_at is None:
        return Conflict("case.receipt_first")
    return None


def extension_waiting(db: Session, principal: Principal, case: Case) -> DomainError | None:
    if case.extension_request is None:
        return Conflict("case.no_extension_request")
    return None


def duplicate_candidate(db: Session, principal: Principal, case: Case) -> DomainError | None:
    if case.duplicate_of_id is None:
        return Conflict("case.not_duplicate")
    return None


def on_the_spot(case: Case) -> bool:
    """A case fixed on the spot and reported so (即报即处), waiting to be closed: the only way a case is
    checked without ever having been dispatched."""
    return case.state == State.CHECKED.value and case.dispatched_at is None


def spot_photos(db: Session, principal: Principal, case: Case) -> DomainError | None:
    """A case fixed on the spot closes on the inspector's photos: at least one before and one after."""
    if not on_the_spot(case):
        return None
    taken = set(db.scalars(select(CasePhoto.role).where(CasePhoto.case_id == case.id).distinct()))
    missing = [kind for kind in ("before", "after") if kind not in taken]
    if missing:
        return Conflict("case.simple_flow_photos", missing="和".join(PHOTO_KIND_LABELS[k] for k in missing))
    return None


def consult(db: Session, principal: Principal, case: Case) -> DomainError | None:
    """Only a 咨询 is answered and closed at once."""
    if case.request_type != "consult":
        name = db.scalar(select(RequestType.name).where(RequestType.code == case.request_type))
        return Conflict("knowledge.consult_only", request_type=name or case.request_type)
    return None


def has_caller(db: Session, principal: Principal, case: Case) -> DomainError | None:
    if case.channel == "inspector":
        return Conflict("case.no_caller")
    return None
