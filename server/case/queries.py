"""Reading cases within a scope: one case, filtered lists and queue counts, a case's timeline, photos and
dispatches, and the open cases nearby a report may duplicate."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from geoalchemy2.shape import to_shape
from sqlalchemy import BigInteger, Float, String, and_, func, select, text
from sqlalchemy.orm import Session

from server.auth.principal import Principal
from server.case.clock import light, overdue
from server.case.models import Case, CaseDispatch, CaseEvent, CasePhoto
from server.case.queues import QUEUES, Queue, queues_for
from server.case.scope import Scope, visible
from server.case.states import OPEN_STATES
from server.category import service as category_service
from server.category.models import Department
from server.config import get_settings
from server.errors import NotFound
from server.grid import service as grid_service
from server.grid.subtree import within

URGENCY_ORDER = {"urgent": 0, "important": 1, "normal": 2}


def get_case(*, db: Session, scope: Scope, code: str, for_update: bool = False) -> Case:
    query = select(Case).where(Case.code == code, visible(scope))
    if for_update:
        query = query.with_for_update()
    case = db.scalar(query)
    if case is None:
        raise NotFound("case.not_found", case=code)
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
    since: datetime | None = None  # received at or after
    until: datetime | None = None  # received before
    request_type: str | None = None
    light: str | None = None  # green, yellow or red now


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
        query = query.where(within(Case.grid_path, [path]))
    if filters.department:
        department = category_service.get_department(db=db, code=filters.department, include_inactive=True)
        query = query.where(Case.department_id == department.id)  # the one leading it now
    if filters.tag:
        query = query.where(Case.tags.contains([filters.tag]))
    if filters.overdue is not None:
        late = overdue(func.now())
        query = query.where(late if filters.overdue else ~late | Case.step_due_at.is_(None))
    if filters.supervised is not None:  # under supervision (督办), or flagged as overdue by the sweep
        flag = Case.supervision_level.is_not(None) | Case.supervised_at.is_not(None)
        query = query.where(flag if filters.supervised else ~flag)
    if filters.channel:
        query = query.where(Case.channel == filters.channel)
    if filters.since:
        query = query.where(Case.received_at >= filters.since)
    if filters.until:
        query = query.where(Case.received_at < filters.until)
    if filters.request_type:
        query = query.where(Case.request_type == filters.request_type)
    if filters.light:
        query = query.where(light(func.now()) == filters.light)
    if filters.q:
        like = f"%{filters.q}%"
        query = query.where(Case.code.ilike(like) | Case.description.ilike(like) | Case.address.ilike(like))
    if filters.queue:
        query = query.where(QUEUES[filters.queue].condition(func.now(), scope))
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
    red = QUEUES["overdue"].condition(now, scope)
    columns = []
    for queue in queues:
        condition = queue.condition(now, scope)
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


def code_of_department(db: Session, department_id: int | None) -> str | None:
    return db.scalar(select(Department.code).where(Department.id == department_id)) if department_id else None
