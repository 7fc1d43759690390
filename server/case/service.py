"""Cases: the workflow's actions with their clocks, photos, the timeline, lists by scope, what the API shows
of a case, and the supervision sweep (the intake is ``server.case.intake``).

Every action locks the case row, checks scope (404), role (403), version and state (409), applies its
effects, appends one event to the audit trail and commits once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from geoalchemy2.shape import to_shape
from sqlalchemy import BigInteger, Float, String, and_, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer
from sqlalchemy.orm.util import identity_key

from gis.crs import distance_m, to_wgs84
from server.auth.models import User
from server.auth.principal import Principal
from server.case.flows import (
    ACTIONS,
    OPEN_STATES,
    STATE_LABELS,
    STEP_OF,
    TERMINAL,
    Action,
    State,
    Step,
    state_message,
)
from server.case.models import Case, CaseDispatch, CaseEvent, CasePhoto
from server.case.queues import QUEUES, Queue, queues_for
from server.case.schemas import (
    ActionIn,
    CaseDetail,
    CaseOut,
    DispatchOut,
    EventOut,
    PhotoOut,
    Ref,
)
from server.case.scope import Scope, visible
from server.category import service as category_service
from server.category.models import Category, Department
from server.config import get_settings
from server.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from server.grid import service as grid_service
from server.grid.models import CURRENT, Grid, GridAssignment, in_force, today
from server.photo.processing import ProcessedPhoto, process_photo
from server.photo.storage import get_storage
from server.worktime.calendar import WorkCalendar, load_calendar, parse_step_limits

SYSTEM_ACTOR = "系统"
URGENCY_ORDER = {"urgent": 0, "important": 1, "normal": 2}
# Which roles may add which kind of photo (the administrator may add any).
PHOTO_ROLE_HOLDERS = {
    "before": {"inspector", "acceptor"},
    "after": {"department"},
    "verification": {"inspector"},
    "check": {"inspector"},
}


def _now(db: Session, at: datetime | None) -> datetime:
    return at or db.scalar(select(func.clock_timestamp()))


# -- clocks -------------------------------------------------------------------------------------------


@dataclass
class Clock:
    due: datetime | None
    light: str | None  # green, yellow, red; None when no clock runs (over, or suspended)
    remaining_min: float | None


def calendar() -> WorkCalendar:
    return load_calendar(get_settings())


def _step_limit(case: Case, step: Step, category: Category, cal: WorkCalendar) -> float:
    settings = get_settings()
    if step == Step.HANDLE:
        return cal.parse_limit(category.handling_limit)
    if step == Step.CHECK:
        return cal.parse_limit(settings.check_limit_rural if case.rural else settings.check_limit_urban)
    spec = settings.verify_limits if step == Step.VERIFY else settings.dispatch_limits
    return cal.parse_limit(parse_step_limits(spec)[case.urgency])


def _set_due(case: Case, due: datetime | None, cal: WorkCalendar) -> None:
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
        _set_due(case, None, cal)
        return
    case.step_started_at, case.step_limit_min = now, _step_limit(case, step, category, cal)
    _set_due(case, cal.add(now, case.step_limit_min), cal)


def clock(case: Case, now: datetime, cal: WorkCalendar | None = None) -> Clock:
    """The current step's due time and light: red from the due instant on, yellow from the stored yellow
    instant on (the last part of the step's working time)."""
    if case.state in TERMINAL or case.step_due_at is None:
        return Clock(None, None, case.step_remaining_min)
    if now >= case.step_due_at:
        return Clock(case.step_due_at, "red", 0.0)
    light = "yellow" if now >= case.step_yellow_at else "green"
    return Clock(case.step_due_at, light, (cal or calendar()).between(now, case.step_due_at))


# -- reading ------------------------------------------------------------------------------------------


def get_case(*, db: Session, scope: Scope, code: str, for_update: bool = False) -> Case:
    query = select(Case).where(Case.code == code, visible(scope))
    if for_update:
        query = query.with_for_update()
    case = db.scalar(query)
    if case is None:
        raise NotFound(f"there is no case {code} you may see")
    return case


@dataclass
class CaseFilter:
    states: list[str] = field(default_factory=list)
    category: str | None = None
    grid: str | None = None
    department: str | None = None
    tag: str | None = None
    overdue: bool | None = None
    supervised: bool | None = None
    channel: str | None = None
    q: str | None = None
    queue: str | None = None  # a desk queue's name (server/case/queues.py)
    bbox: tuple[float, float, float, float] | None = None  # west, south, east, north (WGS 84)


def list_cases(
    *, db: Session, scope: Scope, filters: CaseFilter, limit: int = 50, offset: int = 0
) -> tuple[list[Case], int]:
    """Cases this scope sees, matching ``filters``, most urgent and soonest due first; and their count."""
    query = select(Case).where(visible(scope))
    if filters.states:
        query = query.where(Case.state.in_(filters.states))
    if filters.category:
        query = query.where(
            Case.category_id
            == category_service.get_category(db=db, code=filters.category, include_inactive=True).id
        )
    if filters.grid:
        path = grid_service.get_grid(db=db, code=filters.grid).path
        query = query.where(Case.grid_path.op("<@")(path))
    if filters.department:
        department = category_service.get_department(db=db, code=filters.department, include_inactive=True)
        query = query.where(
            Case.id.in_(select(CaseDispatch.case_id).where(CaseDispatch.department_id == department.id))
        )
    if filters.tag:
        query = query.where(Case.tags.contains([filters.tag]))
    if filters.overdue is not None:
        overdue = Case.step_due_at < func.now()
        query = query.where(overdue if filters.overdue else ~overdue | Case.step_due_at.is_(None))
    if filters.supervised is not None:
        flag = Case.supervised_at.is_not(None)
        query = query.where(flag if filters.supervised else ~flag)
    if filters.channel:
        query = query.where(Case.channel == filters.channel)
    if filters.q:
        like = f"%{filters.q}%"
        query = query.where(Case.code.ilike(like) | Case.description.ilike(like) | Case.address.ilike(like))
    if filters.queue:
        query = query.where(QUEUES[filters.queue].condition(func.now(), scope.user_id))
    if filters.bbox:
        query = query.where(Case.location.op("&&")(func.ST_MakeEnvelope(*filters.bbox, 4326)))
    total = db.scalar(select(func.count()).select_from(query.subquery()))
    urgency = func.array_position(list(URGENCY_ORDER), Case.urgency)
    rows = db.scalars(
        query.order_by(urgency, Case.step_due_at.asc().nulls_last(), Case.id).limit(limit).offset(offset)
    )
    return list(rows), total


def queue_counts(*, db: Session, principal: Principal, scope: Scope) -> list[tuple[Queue, int, int]]:
    """The queues this user works with how many of their cases the scope sees, and how many are overdue."""
    queues = queues_for(principal)
    now = func.now()
    red = QUEUES["overdue"].condition(now, scope.user_id)
    columns = []
    for queue in queues:
        condition = queue.condition(now, scope.user_id)
        columns += [func.count().filter(condition), func.count().filter(and_(condition, red))]
    if not columns:
        return []
    counts = db.execute(select(*columns).where(visible(scope))).one()
    return [(queue, counts[2 * i], counts[2 * i + 1]) for i, queue in enumerate(queues)]


def timeline(*, db: Session, case: Case) -> list[CaseEvent]:
    return list(db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)))


def photos(*, db: Session, case: Case) -> list[CasePhoto]:
    return list(db.scalars(select(CasePhoto).where(CasePhoto.case_id == case.id).order_by(CasePhoto.id)))


def dispatches(*, db: Session, case: Case) -> list[tuple[CaseDispatch, Department]]:
    query = (
        select(CaseDispatch, Department)
        .join(Department, Department.id == CaseDispatch.department_id)
        .where(CaseDispatch.case_id == case.id)
        .order_by(CaseDispatch.id)
    )
    return [tuple(row) for row in db.execute(query)]


def code_of(*, db: Session, case_id: int | None) -> str | None:
    return db.scalar(select(Case.code).where(Case.id == case_id)) if case_id else None


def allowed_actions(*, db: Session, principal: Principal, scope: Scope, case: Case) -> dict[str, str | None]:
    """Every action of the workflow, mapped to None when this user may take it now, else to the reason."""
    refusals = {name: _refusal(db, principal, scope, case, action) for name, action in ACTIONS.items()}
    return {name: refusal.message if refusal else None for name, refusal in refusals.items()}


def _refusal(
    db: Session, principal: Principal, scope: Scope, case: Case, action: Action
) -> DomainError | None:
    """Why ``principal`` may not take ``action`` on ``case`` now (None: it may): a missing role first."""
    what = action.name.replace("_", " ")
    if not principal.roles & action.roles:
        needed = " or ".join(sorted(action.roles - {"admin"}))
        held = ", ".join(sorted(principal.roles)) or "no role"
        return Forbidden(f"{what} needs the role {needed}; you have {held}")
    state = State(case.state)
    if state not in action.sources:
        return Conflict(state_message(action, state), state=case.state, version=case.version)
    admin = principal.has("admin")  # acts for any department and inspector, not around the case's state
    if not admin and action.department_only and not _lead_department_is(db, case, scope.department_id):
        return Forbidden(f"only the lead department of case {case.code} may {what} it")
    reply = action.name in ("reply_verification", "reply_check")
    if not admin and reply and case.task_assignee_id != principal.user_id:
        name = db.scalar(select(User.name).where(User.id == case.task_assignee_id)) or "another inspector"
        return Forbidden(f"this task of case {case.code} is assigned to {name}")
    pending = case.extension_request is not None
    if action.name == "request_extension" and pending:
        return Conflict("an extension request is already waiting for the dispatcher")
    if action.name in ("approve_extension", "refuse_extension") and not pending:
        return Conflict("no extension request is waiting")
    if action.name == "keep_apart" and case.duplicate_of_id is None:
        return Conflict("this case is not a duplicate candidate")
    if action.name == "callback" and case.channel == "inspector":
        return Conflict("an inspector's own report has no caller to call back")
    return None


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


def _loaded(db: Session, model, ids: set) -> dict:
    """Rows of ``model`` by id: those the session holds already, the others in one query."""
    ids.discard(None)
    held = {i: db.identity_map.get(identity_key(model, i)) for i in ids}
    missing = [i for i, row in held.items() if row is None]
    if missing:
        held.update({row.id: row for row in db.scalars(select(model).where(model.id.in_(missing)))})
    return held


def describe(*, db: Session, cases: list[Case], at: datetime | None = None) -> list[CaseOut]:
    """Cases as the API shows them, with their clocks, looked up in a few batched queries."""
    if not cases:
        return []
    now, cal = at or datetime.now(UTC), calendar()

    def by_id(query, ids: set) -> dict:
        ids.discard(None)
        return dict(db.execute(query.where(query.selected_columns[0].in_(ids))).all()) if ids else {}

    categories = _loaded(db, Category, {c.category_id for c in cases})
    departments = _loaded(db, Department, {c.department_id for c in cases})
    codes = by_id(
        select(Case.id, Case.code), {c.duplicate_of_id for c in cases} | {c.merged_into_id for c in cases}
    )
    names = by_id(select(User.id, User.name), {c.task_assignee_id for c in cases})
    out = []
    for case in cases:
        category = categories[case.category_id]
        department = departments.get(case.department_id)
        out.append(
            case_out(
                case,
                category=Ref(code=category.code, name=category.name),
                department=Ref(code=department.code, name=department.name) if department else None,
                duplicate_of=codes.get(case.duplicate_of_id),
                merged_into=codes.get(case.merged_into_id),
                task_assignee=names.get(case.task_assignee_id),
                state_clock=clock(case, now, cal),
            )
        )
    return out


def case_out(
    case: Case,
    *,
    category: Ref,
    department: Ref | None,
    duplicate_of: str | None,
    merged_into: str | None,
    task_assignee: str | None,
    state_clock: Clock,
) -> CaseOut:
    """A case as the API shows it, from the case and what it refers to (``describe`` looks them up)."""
    point = to_shape(case.location)
    return CaseOut(
        code=case.code,
        client_uuid=case.client_uuid,
        version=case.version,
        state=case.state,
        state_label=STATE_LABELS[State(case.state)],
        channel=case.channel,
        category=category,
        urgency=case.urgency,
        description=case.description,
        address=case.address,
        lon=point.x,
        lat=point.y,
        accuracy_m=case.accuracy_m,
        grid_code=case.grid_code,
        district_code=case.district_code,
        department=department,
        reporter_name=case.reporter_name,
        received_at=case.received_at,
        device_time=case.device_time,
        due_at=state_clock.due,
        light=state_clock.light,
        remaining_minutes=state_clock.remaining_min,
        handle_due_at=case.handle_due_at,
        supervised=case.supervised_at is not None,
        tags=case.tags,
        duplicate_of=duplicate_of,
        merged_into=merged_into,
        task_assignee=task_assignee,
        extension_request=case.extension_request,
        rework_count=case.rework_count,
        handled_at=case.handled_at,
        closed_at=case.closed_at,
        close_kind=case.close_kind,
    )


def detail(*, db: Session, principal: Principal, scope: Scope, case: Case) -> CaseDetail:
    """A case with its timeline, photos, dispatches and the actions this user may take now."""
    (summary,) = describe(db=db, cases=[case])
    events = []
    for event in timeline(db=db, case=case):
        where = to_shape(event.location) if event.location is not None else None
        events.append(
            EventOut(
                id=event.id,
                at=event.at,
                actor=event.actor_name,
                role=event.role,
                action=event.action,
                state_before=event.state_before,
                state_after=event.state_after,
                note=event.note,
                lon=where.x if where else None,
                lat=where.y if where else None,
                photo_ids=event.photo_ids,
                due_at=event.due_at,
                data=event.data,
            )
        )
    return CaseDetail(
        **summary.model_dump(),
        timeline=events,
        photos=[photo_out(p) for p in photos(db=db, case=case)],
        dispatches=[
            DispatchOut(
                department=Ref(code=d.code, name=d.name),
                lead=x.lead,
                dispatched_at=x.dispatched_at,
                ended_at=x.ended_at,
            )
            for x, d in dispatches(db=db, case=case)
        ],
        actions=allowed_actions(db=db, principal=principal, scope=scope, case=case),
    )


def photo_out(photo: CasePhoto) -> PhotoOut:
    where = to_shape(photo.exif_location) if photo.exif_location is not None else None
    base = f"/api/photos/{photo.id}"
    return PhotoOut(
        id=photo.id,
        role=photo.role,
        mime=photo.mime,
        width=photo.width,
        height=photo.height,
        size=photo.size,
        uploaded_at=photo.uploaded_at,
        exif_lon=where.x if where else None,
        exif_lat=where.y if where else None,
        exif_taken_at=photo.exif_taken_at,
        distance_m=photo.distance_m,
        far_from_report=photo.far_from_report,
        url=f"{base}/original",
        public_url=f"{base}/public",
        thumbnail_url=f"{base}/thumbnail",
    )


def near_open_sql(category: str, at: str) -> str:
    """A SELECT of the open cases (id, code, distance in metres) of ``category`` within the duplicate radius
    of the point (:lon, :lat) and received within the duplicate period of ``at`` (``category`` and ``at``:
    SQL expressions), leaving out the case :exclude_id; its other values come from ``near_params``."""
    return f"""
        SELECT f.id, f.code,
               ST_Distance(geography(f.location), geography(ST_Point(:lon, :lat, 4326))) AS distance
        FROM case_file f
        WHERE f.category_id = {category} AND f.state = ANY(:open_states)
          AND (CAST(:exclude_id AS bigint) IS NULL OR f.id <> :exclude_id)
          AND f.received_at BETWEEN {at} - :period AND {at} + :period
          AND f.location && ST_Expand(ST_Point(:lon, :lat, 4326), :degrees)
          AND ST_DWithin(geography(f.location), geography(ST_Point(:lon, :lat, 4326)), :radius)
    """


def near_params(lon: float, lat: float, exclude_id: int | None = None) -> dict:
    """The values ``near_open_sql`` binds besides its two expressions (the duplicate rule's settings)."""
    settings = get_settings()
    return {
        "lon": lon,
        "lat": lat,
        "exclude_id": exclude_id,
        "open_states": list(OPEN_STATES),
        "period": timedelta(hours=settings.duplicate_hours),
        # generous: a degree of longitude is >= 90 km below 36 N
        "degrees": 2 * settings.duplicate_radius_m / 90_000,
        "radius": settings.duplicate_radius_m,
    }


def duplicate_candidates(
    *, db: Session, scope: Scope, case: Case, limit: int = 10
) -> list[tuple[Case, float]]:
    """The open cases this one may duplicate, within the scope, nearest first, with their distance (m)."""
    where = to_shape(case.location)
    near = (
        text(near_open_sql(":category_id", ":at"))
        .bindparams(
            category_id=case.category_id, at=case.received_at, **near_params(where.x, where.y, case.id)
        )
        .columns(id=BigInteger, code=String, distance=Float)
        .subquery("near")
    )
    query = (
        select(Case, near.c.distance)
        .join(near, near.c.id == Case.id)
        .where(visible(scope))
        .order_by(near.c.distance, Case.id)
        .limit(limit)
    )
    return [(c, d) for c, d in db.execute(query)]


def _event(
    db: Session,
    case: Case,
    principal: Principal | None,
    action: str,
    state_before: str | None,
    at: datetime,
    *,
    role: str | None = None,
    note: str | None = None,
    location: tuple[float, float] | None = None,
    photo_ids: list[int] | None = None,
    data: dict | None = None,
) -> CaseEvent:
    event = CaseEvent(
        case_id=case.id,
        at=at,
        actor_id=principal.user_id if principal else None,
        actor_name=principal.name if principal else SYSTEM_ACTOR,
        role=role or (_acting_role(principal, ACTIONS[action]) if principal and action in ACTIONS else None),
        action=action,
        state_before=state_before,
        state_after=case.state,
        note=note,
        location=func.ST_Point(*location, 4326) if location else None,
        photo_ids=photo_ids or [],
        due_at=case.step_due_at,
        data=data or {},
    )
    db.add(event)
    return event


def _acting_role(principal: Principal, action: Action) -> str | None:
    """The role a user acts in: one of the action's roles it holds, the administrator's last."""
    held = sorted(principal.roles & action.roles, key=lambda r: (r == "admin", r))
    return held[0] if held else None


# -- actions ------------------------------------------------------------------------------------------


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
    data: dict = field(default_factory=dict)
    photo_ids: list[int] = field(default_factory=list)
    clock_set: bool = False  # the effect set the clock itself


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
    """Take ``action`` on case ``code`` as ``principal``, with ``body.version`` the version it saw."""
    spec = ACTIONS.get(action)
    if spec is None:
        raise NotFound(f"there is no action {action!r}; actions: {', '.join(ACTIONS)}")
    case = get_case(db=db, scope=scope, code=code, for_update=True)
    refusal = _refusal(db, principal, scope, case, spec)
    if isinstance(refusal, Forbidden) and not principal.roles & spec.roles:
        raise refusal
    if body.version != case.version:
        last = db.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id.desc()))
        raise Conflict(
            f"case {case.code} changed since you loaded it (your version {body.version}, now {case.version}: "
            f"{last.action.replace('_', ' ')} by {last.actor_name}): reload it and try again",
            state=case.state,
            version=case.version,
        )
    if refusal:
        raise refusal

    now = _now(db, at)
    cal = calendar()
    ctx = Context(db, principal, scope, case, body, now, cal, db.get(Category, case.category_id))
    ctx.data["light"] = clock(case, now, cal).light
    if body.public_note:
        ctx.data["public_note"] = body.public_note
    before_state = case.state
    target = _EFFECTS[action](ctx) or spec.target
    if target is not None:
        case.state = target.value
        if not ctx.clock_set and STEP_OF.get(target) != STEP_OF.get(State(before_state)):
            start_clock(case, ctx.category, now, cal)
    case.version += 1
    where = body.lon is not None and body.lat is not None
    location = to_wgs84(body.lon, body.lat, body.crs) if where else None
    _event(
        db, case, principal, action, before_state, now, note=body.note, location=location,
        photo_ids=ctx.photo_ids, data=ctx.data,
    )  # fmt: skip
    db.commit()
    return case


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


def _request_verification(ctx: Context) -> None:
    _assign_task(ctx, prefer_reporter=False)


def _reply_verification(ctx: Context) -> None:
    result = ctx.body.result
    if result not in ("confirmed", "not_found"):
        raise Invalid("reply verification with result 'confirmed' (the problem is there) or 'not_found'")
    ctx.data["result"] = result
    ctx.photo_ids = _photos_of(ctx, "verification", ctx.case.step_started_at)


def _file(ctx: Context) -> None:
    if ctx.body.urgency:
        ctx.data["urgency"] = {"from": ctx.case.urgency, "to": ctx.body.urgency}
        ctx.case.urgency = ctx.body.urgency


def _void(ctx: Context) -> None:
    ctx.data["reason"] = _require(ctx.body.reason, "voiding a case needs a reason")


def _dispatch(ctx: Context) -> None:
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


def code_of_department(db: Session, department_id: int | None) -> str | None:
    return db.scalar(select(Department.code).where(Department.id == department_id)) if department_id else None


def _return(ctx: Context) -> None:
    ctx.data["reason"] = _require(ctx.body.reason, "returning a case needs a reason (why it is not yours)")
    _end_dispatches(ctx)


def _end_dispatches(ctx: Context) -> None:
    """The departments the case is with now stop having it (their dispatch rows stay, for the record)."""
    ctx.db.execute(
        update(CaseDispatch)
        .where(CaseDispatch.case_id == ctx.case.id, CaseDispatch.ended_at.is_(None))
        .values(ended_at=ctx.now)
    )


def _request_extension(ctx: Context) -> None:
    extension = _require(ctx.body.extension, "say how much more time is needed, e.g. extension '2d'")
    try:
        minutes = ctx.cal.parse_limit(extension)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    reason = _require(ctx.body.reason, "an extension request needs a reason")
    ctx.case.extension_request = {"extension": extension, "minutes": minutes, "reason": reason}
    ctx.data.update(ctx.case.extension_request)


def _approve_extension(ctx: Context) -> None:
    case, request = ctx.case, ctx.case.extension_request
    case.step_limit_min = (case.step_limit_min or 0) + request["minutes"]
    _set_due(case, ctx.cal.add(case.step_due_at, request["minutes"]), ctx.cal)
    case.handle_due_at = case.step_due_at
    if case.step_due_at > ctx.now:
        case.supervised_at = None
    case.extension_request = None
    ctx.data.update(request, handle_due=case.handle_due_at.isoformat())


def _refuse_extension(ctx: Context) -> None:
    ctx.data.update(ctx.case.extension_request, reason=_require(ctx.body.reason, "say why it is refused"))
    ctx.case.extension_request = None


def _suspend(ctx: Context) -> None:
    case = ctx.case
    ctx.data["reason"] = _require(ctx.body.reason, "suspending a case needs a reason")
    case.step_remaining_min = max(0.0, ctx.cal.between(ctx.now, case.step_due_at))
    _set_due(case, None, ctx.cal)
    ctx.data["remaining_minutes"] = case.step_remaining_min


def _resume(ctx: Context) -> None:
    case = ctx.case
    _set_due(case, ctx.cal.add(ctx.now, case.step_remaining_min or 0), ctx.cal)
    case.handle_due_at = case.step_due_at
    case.step_remaining_min = None
    ctx.data["handle_due"] = case.handle_due_at.isoformat()


def _report_handling(ctx: Context) -> None:
    ctx.photo_ids = _photos_of(ctx, "after", ctx.case.dispatched_at)
    if not ctx.photo_ids:
        raise Invalid(
            f"report the handling with at least one after-photo: upload it to "
            f"/api/cases/{ctx.case.code}/photos?role=after first"
        )
    ctx.case.handled_at = ctx.now
    ctx.data["on_time"] = ctx.now <= ctx.case.handle_due_at


def _request_check(ctx: Context) -> None:
    _assign_task(ctx, prefer_reporter=True)


def _reply_check(ctx: Context) -> State:
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
    _set_due(case, case.handle_due_at, ctx.cal)
    case.supervised_at = None
    ctx.clock_set = True
    return State.DISPATCHED


def _close(ctx: Context) -> None:
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


def _merge(ctx: Context) -> None:
    case = ctx.case
    master_code = _require(ctx.body.master, "name the master case to merge into (master)")
    master = get_case(db=ctx.db, scope=ctx.scope, code=master_code, for_update=True)
    if master.id == case.id or master.state in TERMINAL:
        raise Conflict(f"case {master.code} cannot take a merge: it is {master.state}")
    case.merged_into_id = master.id
    case.duplicate_of_id = None
    ctx.data["master"] = master.code
    _event(
        ctx.db, master, ctx.principal, "merge", master.state, ctx.now,
        role=_acting_role(ctx.principal, ACTIONS["merge"]), note=ctx.body.note, data={"merged": case.code},
    )  # fmt: skip


def _keep_apart(ctx: Context) -> None:
    ctx.data["was_duplicate_of"] = code_of(db=ctx.db, case_id=ctx.case.duplicate_of_id)
    ctx.case.duplicate_of_id = None


def _tag(ctx: Context) -> None:
    tag = category_service.get_tag(db=ctx.db, code=_require(ctx.body.tag, "name the tag"))
    if tag.code in ctx.case.tags:
        raise Conflict(f"case {ctx.case.code} already has the tag {tag.code}")
    ctx.case.tags = [*ctx.case.tags, tag.code]
    ctx.data["tag"] = tag.code


def _untag(ctx: Context) -> None:
    tag = _require(ctx.body.tag, "name the tag")
    if tag not in ctx.case.tags:
        raise Conflict(f"case {ctx.case.code} has no tag {tag}")
    ctx.case.tags = [t for t in ctx.case.tags if t != tag]
    ctx.data["tag"] = tag


def _callback(ctx: Context) -> None:
    """The call-back after closing (回访): whether the caller was reached and, if so, whether the problem is
    solved and how satisfied they are. A case may be called back again; the latest call-back counts."""
    body = ctx.body
    ctx.data["contacted"] = _require(body.contacted, "say whether the caller was reached (contacted)")
    if body.contacted:
        if body.solved is None or body.satisfaction is None:
            raise Invalid("a call-back that reached the caller says whether it is solved and how satisfied")
        ctx.data["solved"], ctx.data["satisfaction"] = body.solved, body.satisfaction


_EFFECTS: dict[str, Callable[[Context], State | None]] = {
    "request_verification": _request_verification,
    "reply_verification": _reply_verification,
    "file": _file,
    "void": _void,
    "dispatch": _dispatch,
    "return": _return,
    "request_extension": _request_extension,
    "approve_extension": _approve_extension,
    "refuse_extension": _refuse_extension,
    "suspend": _suspend,
    "resume": _resume,
    "report_handling": _report_handling,
    "request_check": _request_check,
    "reply_check": _reply_check,
    "close": _close,
    "merge": _merge,
    "keep_apart": _keep_apart,
    "tag": _tag,
    "untag": _untag,
    "callback": _callback,
}
assert set(_EFFECTS) == set(ACTIONS)


# -- photos -------------------------------------------------------------------------------------------


def add_photo(
    *,
    db: Session,
    principal: Principal,
    scope: Scope,
    code: str,
    role: str,
    data: bytes,
    at: datetime | None = None,
) -> tuple[CasePhoto, bool]:
    """Attach a photo to a case (idempotent: the same bytes in the same role return the stored photo)."""
    if role not in PHOTO_ROLE_HOLDERS:
        raise Invalid(f"a photo's role is one of {', '.join(PHOTO_ROLE_HOLDERS)}, not {role!r}")
    case = get_case(db=db, scope=scope, code=code)
    own_report = role == "before" and case.reporter_id is not None and case.reporter_id == principal.user_id
    if not (principal.has("admin") or principal.roles & PHOTO_ROLE_HOLDERS[role] or own_report):
        raise Forbidden(
            f"a {role} photo is added by the role {' or '.join(sorted(PHOTO_ROLE_HOLDERS[role]))}"
        )
    settings = get_settings()
    photo = process_photo(
        data,
        max_bytes=settings.photo_max_bytes,
        max_pixels=settings.photo_max_pixels,
        thumbnail_px=settings.photo_thumbnail_px,
        public_px=settings.photo_public_px,
    )
    try:
        row, created = attach_photo(db=db, principal=principal, case=case, role=role, photo=photo, at=at)
    except IntegrityError as exc:
        if "uq_case_photo_case_id_role_sha256" not in str(exc.orig):
            raise
        # The same photo sent twice at once (a retry racing its original): the unique index made this
        # one wait for the other's commit, and the photo that one stored is the answer.
        db.rollback()
        return attach_photo(db=db, principal=principal, case=case, role=role, photo=photo, at=at)
    if created:
        db.commit()
    return row, created


def store_photo(photo: ProcessedPhoto) -> tuple[str, str, str]:
    """Write a photo's files (the original, the public copy, the thumbnail) and return their keys. Files
    are written before the rows naming them and committed with those rows: a store that fails (a full
    disk) raises before any row exists, and a commit that fails leaves files no row names, which the
    media sweep removes (server/photo/sweep.py)."""
    storage = get_storage(get_settings())
    original, public, thumbnail = (storage.put(b) for b in (photo.original, photo.public, photo.thumbnail))
    return original, public, thumbnail


def attach_photo(
    *,
    db: Session,
    principal: Principal,
    case: Case,
    role: str,
    photo: ProcessedPhoto,
    at: datetime | None = None,
) -> tuple[CasePhoto, bool]:
    """The photo's files, row and event (flushed, not committed), or the row the same bytes already have
    in this role (``created`` False)."""
    existing = db.scalar(
        select(CasePhoto).where(
            CasePhoto.case_id == case.id, CasePhoto.role == role, CasePhoto.sha256 == photo.sha256
        )
    )
    if existing is not None:
        return existing, False
    if case.state in TERMINAL:
        raise Conflict(f"case {case.code} is {case.state}: it takes no more photos")
    settings = get_settings()
    original_key, public_key, thumbnail_key = store_photo(photo)
    geotag = photo.geotag
    distance = None
    if geotag.lon is not None and geotag.lat is not None:
        point = to_shape(case.location)
        distance = distance_m(point.x, point.y, geotag.lon, geotag.lat)
    row = CasePhoto(
        case_id=case.id,
        role=role,
        sha256=original_key,
        public_key=public_key,
        thumbnail_key=thumbnail_key,
        mime=photo.mime,
        width=photo.width,
        height=photo.height,
        size=photo.size,
        exif_location=func.ST_Point(geotag.lon, geotag.lat, 4326) if distance is not None else None,
        exif_taken_at=geotag.taken_at if geotag.taken_at and geotag.taken_at.tzinfo else None,
        distance_m=distance,
        far_from_report=distance is not None and distance > settings.photo_geotag_max_m,
        uploaded_by=principal.user_id,
        uploaded_at=_now(db, at),
    )
    db.add(row)
    db.flush()
    data_out = {
        "photo_id": row.id,
        "role": role,
        "distance_m": distance,
        "far_from_report": row.far_from_report,
    }
    acting = sorted(principal.roles & (PHOTO_ROLE_HOLDERS[role] | {"admin"})) or ["reporter"]
    _event(
        db, case, principal, "add_photo", case.state, row.uploaded_at,
        role=acting[0], photo_ids=[row.id], data=data_out,
    )  # fmt: skip
    return row, True


def photo_blob(*, db: Session, scope: Scope, photo_id: int, variant: str) -> tuple[bytes, str]:
    """A photo's bytes and type: the original (evidence), the public copy or the thumbnail."""
    photo = db.scalar(
        select(CasePhoto)
        .join(Case, Case.id == CasePhoto.case_id)
        .where(CasePhoto.id == photo_id, visible(scope))
    )
    if photo is None:
        raise NotFound(f"there is no photo {photo_id} you may see")
    key = {"original": photo.sha256, "public": photo.public_key, "thumbnail": photo.thumbnail_key}[variant]
    mime = photo.mime if variant == "original" else "image/jpeg"  # the derived copies are JPEG
    return get_storage(get_settings()).get(key), mime


# -- supervision --------------------------------------------------------------------------------------


def sweep_overdue(*, db: Session, at: datetime | None = None) -> list[str]:
    """Flag for supervision (督办) every open case whose current step is overdue and not yet flagged; one
    event each. Returns their codes."""
    now = _now(db, at)
    cases = list(
        db.scalars(
            select(Case)
            .where(Case.state.in_(OPEN_STATES), Case.step_due_at < now, Case.supervised_at.is_(None))
            .order_by(Case.id)
            .with_for_update(skip_locked=True)
        )
    )
    for case in cases:
        case.supervised_at = now
        _event(
            db, case, None, "supervise", case.state, now, data={"overdue_since": case.step_due_at.isoformat()}
        )
    db.commit()
    return [c.code for c in cases]


# -- inspector sync -----------------------------------------------------------------------------------


CHANGE_LOCK = 7472660  # the advisory lock every case write holds shared until commit (migration 0004)


def changed_since(*, db: Session, principal: Principal, kind: str, since: int, limit: int) -> list[Case]:
    """My tasks (verification and check tasks given to me) or my reports, changed after cursor ``since``
    (a case's ``change_seq``), oldest change first.

    Change numbers are taken when a write happens, not when it commits: reading while a lower number is
    still uncommitted would move the cursor past it for good. So the read waits, on an exclusive advisory
    lock, for the writes in flight to commit, and holds new ones back for the length of one query."""
    mine = Case.task_assignee_id if kind == "tasks" else Case.reporter_id
    query = (
        select(Case)
        .where(mine == principal.user_id, Case.change_seq > since)
        .order_by(Case.change_seq)
        .limit(limit)
    )
    db.execute(select(func.pg_advisory_lock(CHANGE_LOCK)))
    try:
        return list(db.scalars(query))
    finally:
        db.execute(select(func.pg_advisory_unlock(CHANGE_LOCK)))


def my_grids(*, db: Session, scope: Scope, since: datetime | None) -> tuple[list[str], list[Grid]]:
    """The codes of every current grid in my grid subtrees, and those of them changed after ``since``."""
    if not scope.grid_paths:
        return [], []
    within = or_(*(Grid.path.op("<@")(path) for path in scope.grid_paths))
    codes = list(db.scalars(select(Grid.code).where(CURRENT, within).order_by(Grid.path)))
    query = select(Grid).options(defer(Grid.geom)).where(CURRENT, within).order_by(Grid.path)
    if since is not None:
        query = query.where(Grid.valid_from > since)
    return codes, list(db.scalars(query))
