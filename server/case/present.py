"""What the API shows of a case: its summary with its clock, and its detail with the timeline, photos,
dispatches, the actions this user may take now and who works it."""

from __future__ import annotations

from datetime import UTC, datetime

from geoalchemy2.shape import to_shape
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from grids.sources import KINDS as SOURCE_KINDS
from grids.words import near_words
from server import messages
from server.address.models import Address
from server.auth.models import User
from server.auth.principal import Principal
from server.case.actions import allowed_actions
from server.case.callers import contact_role, has_caller, mask_name, mask_phone
from server.case.clock import clock, receipt
from server.case.models import Case, CaseLayerGrid, CasePhoto, CaseSupervision
from server.case.queries import dispatches, photos, timeline
from server.case.schemas import (
    SUPERVISION_KIND_LABELS,
    SUPERVISION_LEVEL_LABELS,
    CaseDetail,
    CaseOut,
    DispatchOut,
    EventOut,
    LayerGridOut,
    NearbySource,
    PhotoOut,
    Ref,
    SupervisionOut,
)
from server.case.scope import Scope
from server.case.states import HELD_BY, STATE_LABELS, State
from server.category.models import Category, Department, RequestType
from server.config import get_settings
from server.grid.models import Grid, GridLayer


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
    now = at or datetime.now(UTC)

    def by_id(query, ids: set) -> dict:
        ids.discard(None)
        return dict(db.execute(query.where(query.selected_columns[0].in_(ids))).all()) if ids else {}

    categories = _loaded(db, Category, {c.category_id for c in cases})
    supervisions = {
        s.case_id: s
        for s in db.scalars(
            select(CaseSupervision).where(
                CaseSupervision.case_id.in_([c.id for c in cases]), CaseSupervision.closed_at.is_(None)
            )
        )
    }
    departments = _loaded(
        db,
        Department,
        {i for c in cases for i in (c.department_id, c.first_department_id)}
        | {s.department_id for s in supervisions.values()},
    )

    def ref(department_id: int | None) -> Ref | None:
        department = departments.get(department_id)
        return Ref(code=department.code, name=department.name) if department else None

    codes = by_id(
        select(Case.id, Case.code),
        {i for c in cases for i in (c.duplicate_of_id, c.merged_into_id, c.repeat_of_id)},
    )
    names = by_id(select(User.id, User.name), {c.task_assignee_id for c in cases})
    grid_names = by_id(select(Grid.id, Grid.name), {c.grid_id for c in cases})
    places = by_id(
        select(Address.id, func.coalesce(Address.name, Address.address_text)), {c.address_id for c in cases}
    )
    request_types = dict(db.execute(select(RequestType.code, RequestType.name)).all())
    out = []
    for case in cases:
        category = categories[case.category_id]
        supervision = supervisions.get(case.id)
        out.append(
            case_out(
                case,
                category=Ref(code=category.code, name=category.name),
                department=ref(case.department_id),
                first_department=ref(case.first_department_id),
                supervision=supervision and supervision_out(supervision, ref(supervision.department_id)),
                duplicate_of=codes.get(case.duplicate_of_id),
                repeat_of=codes.get(case.repeat_of_id),
                merged_into=codes.get(case.merged_into_id),
                task_assignee=names.get(case.task_assignee_id),
                grid_name=grid_names.get(case.grid_id),
                near_address=near_words(places[case.address_id], case.address_distance_m)
                if case.address_id in places
                else None,
                request_type=Ref(code=case.request_type, name=request_types[case.request_type]),
                now=now,
            )
        )
    return out


def case_out(
    case: Case,
    *,
    category: Ref,
    department: Ref | None,
    duplicate_of: str | None,
    repeat_of: str | None,
    merged_into: str | None,
    task_assignee: str | None,
    grid_name: str | None,
    request_type: Ref,
    now: datetime,
    near_address: str | None = None,
    first_department: Ref | None = None,
    supervision: SupervisionOut | None = None,
) -> CaseOut:
    """A case as the API shows it at ``now``, from the case and what it refers to (``describe`` looks them
    up)."""
    point = to_shape(case.location)
    state_clock, receipt_clock = clock(case, now), receipt(case, now)
    return CaseOut(
        code=case.code,
        client_uuid=case.client_uuid,
        version=case.version,
        state=case.state,
        state_label=STATE_LABELS[State(case.state)],
        channel=case.channel,
        category=category,
        urgency=case.urgency,
        request_type=request_type,
        clock=case.clock,
        description=case.description,
        address=case.address,
        lon=point.x,
        lat=point.y,
        accuracy_m=case.accuracy_m,
        position_source=case.position_source,
        grid_code=case.grid_code,
        grid_name=grid_name,
        near_address=near_address,
        district_code=case.district_code,
        department=department,
        reporter_name=mask_name(case.reporter_name),
        reporter_phone=mask_phone(case.reporter_phone),
        received_at=case.received_at,
        device_time=case.device_time,
        due_at=state_clock.due,
        light=state_clock.light,
        remaining_minutes=state_clock.remaining_min,
        remaining_workdays=state_clock.remaining_workdays,
        remaining_text=state_clock.words,
        receipt_due_at=case.receipt_due_at,
        receipt_light=receipt_clock.light if receipt_clock else None,
        receipt_text=receipt_clock.words if receipt_clock else None,
        received_by_department_at=case.received_by_department_at,
        handle_due_at=case.handle_due_at,
        supervised=case.supervised_at is not None or case.supervision_level is not None,
        supervision_level=case.supervision_level,
        supervision=supervision,
        first_department=first_department,
        tags=case.tags,
        duplicate_of=duplicate_of,
        repeat_of=repeat_of,
        merged_into=merged_into,
        task_assignee=task_assignee,
        patrol_task_id=case.patrol_task_id,
        extension_request=case.extension_request,
        rework_count=case.rework_count,
        handled_at=case.handled_at,
        closed_at=case.closed_at,
        close_kind=case.close_kind,
    )


def supervision_out(row: CaseSupervision, department: Ref | None) -> SupervisionOut:
    return SupervisionOut(
        kind=row.kind,
        kind_label=SUPERVISION_KIND_LABELS[row.kind],
        level=row.level,
        level_label=SUPERVISION_LEVEL_LABELS[row.level],
        note=row.note,
        issued_at=row.issued_at,
        issuer=row.issuer_name,
        department=department,
        new_due_at=row.new_due_at,
        answer_due_at=row.answer_due_at,
        acknowledged_at=row.acknowledged_at,
        answered_at=row.answered_at,
        answer=row.answer,
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
        may_reveal_caller=has_caller(case)
        and contact_role(db=db, principal=principal, scope=scope, case=case) is not None,
        layer_grids=layer_grids(db=db, case=case),
        nearby_sources=nearby_sources(db=db, case=case),
    )


# The register's table is read here by SQL: the source package builds on the case package, not back.
NEARBY_SOURCES = text(
    """
    SELECT s.code, s.name, s.kind, s.address, u.name AS responsible,
           ST_Distance(geography(s.geom), geography(c.location)) AS distance_m
    FROM case_file c
    JOIN pollution_source s ON s.geom && ST_Expand(c.location, :degrees)
        AND ST_DWithin(geography(s.geom), geography(c.location), :radius)
    JOIN app_user u ON u.id = s.responsible_id
    WHERE c.id = :case_id AND s.active
    ORDER BY distance_m, s.code LIMIT 20
    """
)


def nearby_sources(*, db: Session, case: Case) -> list[NearbySource]:
    """The active pollution sources near the case (docs/DOMAIN.md, the pollution-source register)."""
    radius = get_settings().source_near_radius_m
    # the index first: generous, a degree of longitude is >= 90 km below 36 N
    params = {"case_id": case.id, "radius": radius, "degrees": 2 * radius / 90_000}
    return [
        NearbySource(
            code=r.code, name=r.name, kind_label=SOURCE_KINDS[r.kind], address=r.address,
            responsible=r.responsible, distance_m=round(r.distance_m, 1),
        )
        for r in db.execute(NEARBY_SOURCES, params)
    ]  # fmt: skip


def layer_grids(*, db: Session, case: Case) -> list[LayerGridOut]:
    """The grids of the other layers holding the case, recorded at intake (``CaseLayerGrid``)."""
    rows = db.execute(
        select(GridLayer.code, GridLayer.name, Grid.code, Grid.name)
        .join(CaseLayerGrid, CaseLayerGrid.layer == GridLayer.code)
        .join(Grid, Grid.id == CaseLayerGrid.grid_id)
        .where(CaseLayerGrid.case_id == case.id)
        .order_by(GridLayer.position, GridLayer.code)
    )
    return [
        LayerGridOut(layer=lay, layer_name=lay_name, code=code, name=name)
        for lay, lay_name, code, name in rows
    ]


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
