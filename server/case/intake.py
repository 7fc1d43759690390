"""Case intake: one path from a report of any channel to a numbered case, idempotent by the client's UUID.

A new report costs two statements and the commit. The first reads everything the case needs at once: the
database's clock (the case's received time), the case this client UUID already made, the chain of grids
holding the point, the category with its departments, an open case nearby it may duplicate and the register
address nearest to it. The second
writes the district's day counter, the case and its report event together, so the counter row, which every
other report of the district waits for, stays locked only from that statement to the commit. A caller's
report (one with a phone, not an inspector's) costs one statement more: the repeat complaint and special
reporter checks (``server.case.callers.flag_at_intake``). The write also names the inspector's proactive
patrol task the report was found on (主动发现, ``TASK_OF_REPORT``, a task of ``server.patrol.tasks``)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from geoalchemy2.shape import from_shape
from shapely import Point
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gis.crs import to_wgs84
from grids.words import near_words
from server.address.service import nearest_sql
from server.auth.principal import Principal
from server.case.callers import flag_at_intake
from server.case.clock import calendar, start_clock
from server.case.models import Case
from server.case.present import case_out, describe
from server.case.queries import near_open_sql, near_params
from server.case.schemas import CHANNEL_LABELS, CaseOut, ReportIn
from server.case.schemas import Ref as Named
from server.case.states import State
from server.category import service as category_service
from server.category.models import Category
from server.category.taxonomy import DEFAULT_REQUEST_TYPE
from server.config import get_settings
from server.errors import Conflict, Forbidden, Invalid
from server.grid.lookup import deepest_code_sql
from server.messages import role_names

# Channels each role may file a report under (an inspector's own report is always "inspector").
INTAKE_CHANNELS = {
    "inspector": {"inspector"},
    "acceptor": {"citizen", "hotline", "system", "open311"},
    "admin": {"citizen", "hotline", "system", "open311"},
}
EXISTING = "SELECT id FROM case_file WHERE client_uuid = CAST(:client_uuid AS uuid)"  # made by this UUID
RECEIVED = "COALESCE(CAST(:at AS timestamptz), clock_timestamp())"  # the report's time: given, or now
# The task a new inspector's report names (主动发现): the reporter's not cancelled task on the report's
# local day whose grid holds the point (one of the chain of grids holding it), the deepest grid first.
TASK_OF_REPORT = """(SELECT t.id FROM patrol_task t
    WHERE :channel = 'inspector' AND t.assignee_id = :reporter_id AND t.state <> 'cancelled'
      AND CAST(:day AS date) BETWEEN t.starts_on AND t.ends_on
      AND t.grid_code = ANY(CAST(:chain_codes AS text[]))
    ORDER BY length(t.grid_code) DESC, t.id DESC LIMIT 1)"""

READ = text(
    f"""
    SELECT clock_timestamp() AS now,
        ({EXISTING}) AS existing_id,
        (SELECT json_agg(json_build_array(g.id, g.code, g.name, g.level, g.path::text)
                         ORDER BY nlevel(g.path))
           FROM grid g
           WHERE g.valid_to IS NULL AND g.path @> (
               SELECT l.path FROM grid l
               WHERE l.valid_to IS NULL AND l.code = ({deepest_code_sql(":lon", ":lat")})
           )) AS chain,
        (SELECT json_agg(json_build_array(y.code, g.id, g.code, g.path::text) ORDER BY y.position, y.code)
           FROM grid_layer y
           JOIN grid g ON g.valid_to IS NULL AND g.code = ({deepest_code_sql(":lon", ":lat", "y.code")})
           WHERE NOT y.is_default) AS layer_grids,
        c.id AS category_id, c.name AS category_name, c.active, c.leaf, c.urgency, c.handling_limit, c.clock,
        c.simple_flow,
        (SELECT json_build_array(t.active, t.name) FROM request_type t WHERE t.code = :request_type)
            AS request_type,
        (SELECT json_build_array(d.id, d.code, d.name) FROM department d WHERE d.id = c.department_id)
            AS department,
        (SELECT json_object_agg(o.district_code, json_build_array(d.id, d.code, d.name))
           FROM category_district_department o JOIN department d ON d.id = o.department_id
           WHERE o.category_id = c.id) AS overrides,
        (SELECT json_build_array(n.id, n.code) FROM ({near_open_sql("c.id", RECEIVED)}) n
           ORDER BY n.distance, n.id LIMIT 1) AS duplicate,
        (SELECT json_build_array(a.id, a.distance, a.label)
           FROM ({nearest_sql(":lon", ":lat", ":address_radius")}) a) AS near_address
    FROM (SELECT 1) AS one LEFT JOIN category c ON c.code = :category
    """
)
# The day's number is padded to four digits, and grows past them rather than wrapping.
WRITE = text(
    f"""
    WITH number AS (
        INSERT INTO case_counter (district_code, day, last) VALUES (:district_code, :day, 1)
        ON CONFLICT (city_id, district_code, day) DO UPDATE SET last = case_counter.last + 1
        RETURNING last
    ), new_case AS (
        INSERT INTO case_file (code, client_uuid, content_hash, channel, state, category_id, urgency,
            request_type, clock, description, address, location, accuracy_m, position_source, reported_crs,
            grid_id, grid_code, grid_path, district_code, rural, reporter_id, reporter_name, reporter_phone,
            device_time, received_at, department_id, duplicate_of_id, address_id, address_distance_m,
            step_started_at, step_limit_min, step_due_at, step_yellow_at, patrol_task_id)
        VALUES (
            (SELECT :code_prefix || lpad(last::text, greatest(4, length(last::text)), '0') FROM number),
            :client_uuid, :content_hash, :channel, :state, :category_id, :urgency, :request_type, :clock,
            :description, :address,
            ST_Point(:lon, :lat, 4326), :accuracy_m, :position_source, :reported_crs, :grid_id, :grid_code,
            :grid_path, :district_code, :rural, :reporter_id, :reporter_name, :reporter_phone, :device_time,
            :received_at, :department_id, :duplicate_of_id, :address_id, :address_distance_m,
            :step_started_at, :step_limit_min, :step_due_at, :step_yellow_at, {TASK_OF_REPORT})
        RETURNING id, code, patrol_task_id
    ), layer_grids AS (
        INSERT INTO case_layer_grid (case_id, layer, grid_id, grid_code, grid_path)
        SELECT (SELECT id FROM new_case), g->>0, (g->>1)::bigint, g->>2, CAST(g->>3 AS ltree)
        FROM jsonb_array_elements(CAST(:layer_grids AS jsonb)) AS g
    ), report AS (
        INSERT INTO case_event (case_id, at, actor_id, actor_name, role, action, state_after, note,
            location, due_at, data)
        VALUES ((SELECT id FROM new_case), :received_at, :reporter_id, :actor_name, :role, 'report', :state,
            :description, ST_Point(:lon, :lat, 4326), :step_due_at, :data)
    )
    SELECT id, code, patrol_task_id FROM new_case
    """
)


RECORD_LAYER_GRIDS = text(
    f"""
    INSERT INTO case_layer_grid (case_id, layer, grid_id, grid_code, grid_path)
    SELECT c.id, y.code, g.id, g.code, g.path
    FROM case_file c
    CROSS JOIN grid_layer y
    JOIN grid g ON g.valid_to IS NULL
        AND g.code = ({deepest_code_sql("ST_X(c.location)", "ST_Y(c.location)", "y.code")})
    WHERE NOT y.is_default
    ON CONFLICT DO NOTHING
    """
)


def record_layer_grids(*, db: Session) -> int:
    """Record, for the cases reported before a layer had grids, the grid of each other layer now holding
    them (what the intake records of a new case); return how many were recorded."""
    recorded = db.execute(RECORD_LAYER_GRIDS).rowcount
    db.commit()
    return recorded


@dataclass
class Received:
    """What ``receive`` made of a report: the case (a new one not loaded back from the database), whether
    it is new, and for a new one what its description refers to."""

    case: Case
    created: bool
    category: Named | None = None
    department: Named | None = None
    duplicate_of: str | None = None
    repeat_of: str | None = None
    grid_name: str | None = None
    request_type: Named | None = None
    near_address: str | None = None


def content_hash(data: ReportIn, reporter_id: int | None) -> str:
    """What makes two posts of one client UUID "the same report"."""
    payload = data.model_dump(mode="json", exclude={"client_uuid"})
    for name in ("position_source", "request_type"):  # a report queued before they existed stays the same
        if payload[name] is None:
            del payload[name]
    if not payload["fixed_on_site"]:  # so does one not fixed on the spot
        del payload["fixed_on_site"]
    payload["reporter_id"] = reporter_id
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _channel(principal: Principal, requested: str | None) -> str:
    allowed = set().union(*(INTAKE_CHANNELS.get(r, set()) for r in principal.roles))
    if not allowed:
        raise Forbidden("case.role_required", action="上报", roles=role_names(INTAKE_CHANNELS))
    if requested is None:
        return "inspector" if "inspector" in allowed else sorted(allowed)[0]
    if requested not in allowed:
        yours = "、".join(CHANNEL_LABELS[c] for c in sorted(allowed))
        raise Forbidden(
            "case.channel_not_allowed", channel=CHANNEL_LABELS[requested], allowed=yours, requested=requested
        )
    return requested


def _intake_role(principal: Principal, channel: str) -> str:
    """The role a report is made in: one whose channels include ``channel``, the administrator's last."""
    roles = [r for r in principal.roles if channel in INTAKE_CHANNELS.get(r, ())]
    return min(roles, key=lambda r: (r == "admin", r))


def accept(
    *, db: Session, principal: Principal, data: ReportIn, at: datetime | None = None
) -> tuple[Case, bool]:
    """Turn a report into a case, or return the case this client UUID already made (``created`` False).

    The same UUID with other content is refused (409). A retry is answered from the stored case before
    anything else is checked (the taxonomy or the grids may have changed since); two posts of one UUID
    at the same moment meet at the unique index, which makes one wait for the other's commit and fail."""
    case, created = receive(db=db, principal=principal, data=data, at=at)
    db.commit()
    return case, created


def report(*, db: Session, principal: Principal, data: ReportIn) -> tuple[CaseOut, bool]:
    """``accept`` as the API answers it: a new case described from what the intake read and wrote (no
    query more), a retry from the stored case; then committed."""
    got = _receive(db=db, principal=principal, data=data, at=None)
    if got.created:
        summary = case_out(
            got.case,
            category=got.category,
            department=got.department,
            duplicate_of=got.duplicate_of,
            repeat_of=got.repeat_of,
            merged_into=None,
            task_assignee=None,
            grid_name=got.grid_name,
            near_address=got.near_address,
            request_type=got.request_type,
            now=datetime.now(UTC),
        )
    else:
        (summary,) = describe(db=db, cases=[got.case])
    db.commit()
    return summary, got.created


def receive(
    *, db: Session, principal: Principal, data: ReportIn, at: datetime | None = None
) -> tuple[Case, bool]:
    """``accept`` without its commit, for a caller whose own rows (a citizen report's photos and token)
    must be committed with the case or not at all. Call it before any other write of the transaction: a
    retry racing its first post rolls the transaction back."""
    got = _receive(db=db, principal=principal, data=data, at=at)
    return (db.get(Case, got.case.id) if got.created else got.case), got.created


def _receive(*, db: Session, principal: Principal, data: ReportIn, at: datetime | None) -> Received:
    channel = _channel(principal, data.channel)
    digest = content_hash(data, principal.user_id)
    lon, lat = to_wgs84(data.lon, data.lat, data.crs)
    row = db.execute(
        READ,
        {
            "client_uuid": str(data.client_uuid),
            "category": data.category,
            "request_type": data.request_type or DEFAULT_REQUEST_TYPE,
            "at": at,
            "address_radius": get_settings().address_near_radius_m,
            **near_params(lon, lat),
        },
    ).one()
    if row.existing_id is not None:
        return Received(_same_report(db.get(Case, row.existing_id), data, digest), False)
    if row.category_id is None or not row.active or not row.leaf:
        category_service.get_category(db=db, code=data.category, leaf_only=True)  # says why it may not be
    if not (row.request_type and row.request_type[0]):
        raise Invalid("case.unknown_request_type", request_type=data.request_type)
    if not row.chain:
        raise Invalid("case.outside_city", lon=data.lon, lat=data.lat, crs=data.crs.value)
    state = State.REGISTERED if channel == "inspector" else State.REPORTED
    if data.fixed_on_site:  # 即报即处: fixed on the spot, it waits only for closing (no dispatch)
        if channel != "inspector":
            raise Invalid("case.simple_flow_channel")
        if not row.simple_flow:
            raise Invalid("case.simple_flow_category", category=data.category, name=row.category_name)
        state = State.CHECKED
    chain = [dict(zip(("id", "code", "name", "level", "path"), grid, strict=True)) for grid in row.chain]
    leaf = chain[-1]
    district = next((g for g in chain if g["level"] == "district"), chain[min(1, len(chain) - 1)])
    village = next((g for g in chain if g["level"] == "village"), None)
    department = (row.overrides or {}).get(district["code"][:6]) or row.department
    now, cal = at or row.now, calendar()
    case = Case(
        client_uuid=data.client_uuid,
        content_hash=digest,
        channel=channel,
        state=state.value,
        version=1,
        category_id=row.category_id,
        urgency=data.urgency or row.urgency,
        request_type=data.request_type or DEFAULT_REQUEST_TYPE,
        description=data.description,
        address=data.address,
        location=from_shape(Point(lon, lat), srid=4326),
        accuracy_m=data.accuracy_m,
        position_source=data.position_source,
        reported_crs=data.crs.value,
        grid_id=leaf["id"],
        grid_code=leaf["code"],
        grid_path=leaf["path"],
        district_code=district["code"],
        rural=bool(village and village["name"].endswith("村")),
        reporter_id=principal.user_id,
        reporter_name=data.reporter_name or (principal.user.name if principal.user else None),
        reporter_phone=data.reporter_phone or (principal.user.phone if principal.user else None),
        device_time=data.device_time,
        received_at=now,
        department_id=department[0] if department else None,
        duplicate_of_id=row.duplicate[0] if row.duplicate else None,
        address_id=row.near_address[0] if row.near_address else None,
        address_distance_m=row.near_address[1] if row.near_address else None,
        tags=[],
        rework_count=0,
    )
    start_clock(case, Category(handling_limit=row.handling_limit, clock=row.clock), now)
    day = now.astimezone(cal.tz).date()
    values = {
        column: getattr(case, column)
        for column in (
            "content_hash", "channel", "state", "category_id", "urgency", "request_type", "clock",
            "description", "address",
            "accuracy_m", "position_source", "reported_crs", "grid_id", "grid_code", "grid_path",
            "district_code", "rural",
            "reporter_id", "reporter_name", "reporter_phone", "device_time", "received_at", "department_id",
            "duplicate_of_id", "address_id", "address_distance_m",
            "step_started_at", "step_limit_min", "step_due_at", "step_yellow_at",
        )
    }  # fmt: skip
    event = {
        "channel": channel,
        "grids": [g["code"] for g in chain],
        "department": department[1] if department else None,
        "duplicate_of": row.duplicate[1] if row.duplicate else None,
        "device_time": data.device_time.isoformat() if data.device_time else None,
    }
    if data.fixed_on_site:
        event["simple_flow"] = True
    if row.layer_grids:
        event["layer_grids"] = {layer: code for layer, _, code, _ in row.layer_grids}
    try:
        case.id, case.code, case.patrol_task_id = db.execute(
            WRITE,
            {
                **values,
                "client_uuid": str(data.client_uuid),
                "code_prefix": f"{district['code']}-{day:%Y%m%d}-",
                "day": day,
                "chain_codes": [g["code"] for g in chain],
                "lon": lon,
                "lat": lat,
                "actor_name": principal.name,
                "role": _intake_role(principal, channel),
                "data": json.dumps(event, ensure_ascii=False),
                "layer_grids": json.dumps(row.layer_grids or []),
            },
        ).one()
    except IntegrityError as exc:
        if "uq_case_file_city_id_client_uuid" not in str(exc.orig):
            raise
        # Already received (a retry, or the same report arriving twice at once: the unique index made
        # this one wait for the other's commit). Rolling back returns the day's number too.
        db.rollback()
        existing = db.get(Case, db.scalar(text(EXISTING), {"client_uuid": str(data.client_uuid)}))
        return Received(_same_report(existing, data, digest), False)
    repeat_of = flag_at_intake(db=db, case=case, lon=lon, lat=lat)
    return Received(
        case,
        True,
        category=Named(code=data.category, name=row.category_name),
        department=Named(code=department[1], name=department[2]) if department else None,
        duplicate_of=row.duplicate[1] if row.duplicate else None,
        repeat_of=repeat_of,
        grid_name=leaf["name"],
        near_address=near_words(row.near_address[2], row.near_address[1]) if row.near_address else None,
        request_type=Named(code=case.request_type, name=row.request_type[1]),
    )


def _same_report(existing: Case, data: ReportIn, digest: str) -> Case:
    """The case a client UUID already made, when the content is the same; 409 when it is not, saying only
    that the UUID is taken: the case it made may be another reporter's, so nothing of it is told."""
    if existing.content_hash != digest:
        raise Conflict("case.client_uuid_taken")
    return existing
