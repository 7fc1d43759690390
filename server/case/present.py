"""What the API shows of a case: its summary with its clock, and its detail with the timeline, photos,
dispatches, the actions this user may take now and who works it."""

from __future__ import annotations

from datetime import UTC, datetime

from geoalchemy2.shape import to_shape
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from server import messages
from server.auth.models import User
from server.auth.principal import Principal
from server.case.actions import allowed_actions
from server.case.clock import Clock, calendar, clock
from server.case.models import Case, CasePhoto
from server.case.queries import dispatches, photos, timeline
from server.case.schemas import (
    CaseDetail,
    CaseOut,
    DispatchOut,
    EventOut,
    PhotoOut,
    Ref,
)
from server.case.scope import Scope
from server.case.states import HELD_BY, STATE_LABELS, State
from server.category.models import Category, Department
from server.grid.models import Grid


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
    grid_names = by_id(select(Grid.id, Grid.name), {c.grid_id for c in cases})
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
                grid_name=grid_names.get(case.grid_id),
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
    grid_name: str | None,
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
        position_source=case.position_source,
        grid_code=case.grid_code,
        grid_name=grid_name,
        district_code=case.district_code,
        department=department,
        reporter_name=case.reporter_name,
        received_at=case.received_at,
        device_time=case.device_time,
        due_at=state_clock.due,
        light=state_clock.light,
        remaining_minutes=state_clock.remaining_min,
        remaining_workdays=state_clock.remaining_workdays,
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
        held_by=held_by(State(case.state)),
    )


def held_by(state: State) -> str | None:
    """Who works a case in ``state``, in words (None once it is over)."""
    role = HELD_BY.get(state)
    return messages.text("case.held_by", role=messages.role_name(role)) if role else None


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
