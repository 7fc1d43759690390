"""Open311 GeoReport v2: the client systems and their keys, the taxonomy as services, posted requests
through the case intake (channel "open311", reported by the client's system user) and the public view of
cases as requests.

Requests are answered synchronously (the case code is the ``service_request_id``); the specification has
no safe retry, so ``attribute[client_uuid]`` carries the intake's idempotency: the same UUID with the same
content gives the same request, with other content a 400."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from geoalchemy2.shape import to_shape
from pydantic import ValidationError
from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from server import messages
from server.address import service as address_service
from server.address.models import Address
from server.auth.models import User
from server.auth.principal import Principal
from server.case import intake as intake_service
from server.case.models import Case, CaseEvent, CasePhoto
from server.case.schemas import DESCRIPTION_MAX, ReportIn
from server.case.scope import public
from server.case.states import OPEN_STATES, STATE_LABELS, TERMINAL, State
from server.category import service as category_service
from server.category.models import Category, Department
from server.config import get_settings
from server.errors import Conflict, Forbidden, Invalid, NotFound
from server.grid import service as grid_service
from server.http_errors import validation_items
from server.open311.models import Open311Client, Open311Request
from server.open311.schemas import (
    AttributeOut,
    AttributeValueOut,
    DiscoveryOut,
    EndpointOut,
    PostedOut,
    PostIn,
    RequestOut,
    ServiceDefinitionOut,
    ServiceOut,
)
from server.tenant import City, city_link, current_cities, use_city, use_own_city
from server.triage import service as triage_service

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)  # when this endpoint last changed
FORMATS = ["application/json", "text/xml"]
CLIENT_UUID = AttributeOut(
    variable=True,
    code="client_uuid",
    datatype="string",
    required=False,
    datatype_description="A UUID, e.g. 0f8fad5b-d9cb-469f-a165-70867728950e",
    order=1,
    description="Made by the client once per request and sent again on every retry of that request: the "
    "same UUID with the same content returns the first request's service_request_id instead of making a "
    "second request; with other content the post is refused (400). Without it a retry makes a new request.",
)
_PHONE_PUNCTUATION = re.compile(r"[\s\-().]")
NAME_MAX = 60  # a client system's name
# The units of a category's handling limit (e.g. 4h), in working time.
_LIMIT_UNITS = {"m": "分钟", "h": "小时", "d": "个工作日"}
RECEIVED = "已收到：核实立案后可以查询这条诉求的办理进度"
TRIAGED = "已收到：服务类别已按诉求描述选为“{name}”，不符时核实中改正；核实立案后可以查询办理进度"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _now(db: Session) -> datetime:
    return db.scalar(select(func.clock_timestamp()))


# -- client systems -----------------------------------------------------------------------------------


def add_client(*, db: Session, name: str) -> tuple[Open311Client, str]:
    """A new client system with its system user; returns it and its API key (only its hash is kept)."""
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise Invalid("open311.client_name_length", max_length=NAME_MAX)
    if db.scalar(select(Open311Client.id).where(Open311Client.name == name)) is not None:
        raise Conflict("open311.client_exists", name=name)
    # A system user: no password (it cannot log in) and a placeholder phone (the column is unique).
    user = User(name=f"Open311: {name}"[:100], phone=f"open311-{secrets.token_hex(6)}", roles=["acceptor"])
    db.add(user)
    db.flush()
    key = secrets.token_urlsafe(24)
    client = Open311Client(name=name, key_hash=_hash(key), user_id=user.id, created_at=_now(db))
    db.add(client)
    db.commit()
    return client, key


def list_clients(*, db: Session) -> list[Open311Client]:
    return list(db.scalars(select(Open311Client).order_by(Open311Client.name)))


def revoke_client(*, db: Session, name: str) -> Open311Client:
    """Refuse the client's key from now on (its requests stay)."""
    client = db.scalar(select(Open311Client).where(Open311Client.name == name))
    if client is None:
        raise NotFound("open311.no_client", name=name)
    if client.revoked_at is None:
        client.revoked_at = _now(db)
        db.commit()
    return client


def client_for_key(*, db: Session, api_key: str | None) -> Open311Client:
    if not api_key:
        raise Forbidden("open311.key_missing")
    client = db.scalar(select(Open311Client).where(Open311Client.key_hash == _hash(api_key)))
    if client is None:
        raise Forbidden("open311.key_invalid")
    if client.revoked_at is not None:
        raise Forbidden("open311.key_revoked")
    return client


def enter_jurisdiction(db: Session, jurisdiction_id: str | None) -> None:
    """Work in the city the request names: left out, or the setting's jurisdiction_id, the deployment's own
    city; else a city by its code (370100); any other, 422."""
    ours = get_settings().open311_jurisdiction_id
    if jurisdiction_id is None or jurisdiction_id == ours:
        use_own_city(db)
        return
    city = db.scalar(select(City.id).where(City.code == jurisdiction_id))
    if city is None:
        codes = db.scalars(select(City.code).order_by(City.code))
        raise Invalid("open311.jurisdiction", served="、".join([ours, *codes]))
    use_city(db, city)


# -- services -----------------------------------------------------------------------------------------


def discovery(*, base_url: str) -> DiscoveryOut:
    settings = get_settings()
    return DiscoveryOut(
        changeset=CHANGESET,
        contact=settings.open311_contact,
        key_service="API keys are issued per client system by the city (gridops open311 keys add NAME)",
        client_uuid=f"POST requests accepts attribute[client_uuid]: {CLIENT_UUID.description}",
        endpoints=[
            EndpointOut(
                specification=SPECIFICATION,
                url=base_url,
                changeset=CHANGESET,
                type="production",
                formats=FORMATS,
            )
        ],
    )


def _service(category: Category) -> ServiceOut:
    return ServiceOut(
        service_code=category.code,
        service_name=category.name,
        description=f"{'：'.join((*category.trail, category.name))}，处置时限 {category.handling_limit[:-1]} "
        f"{_LIMIT_UNITS[category.handling_limit[-1]]}（按工作时间计）",
        metadata=True,  # every service has the client_uuid attribute
        type="realtime",
        keywords=",".join((*category.trail, category.name)),
        group=category.major_name,
    )


def services(*, db: Session) -> list[ServiceOut]:
    """The active taxonomy's leaves (what a request is filed under) as services, grouped by major class."""
    categories = db.scalars(select(Category).where(Category.active, Category.leaf).order_by(Category.code))
    return [_service(c) for c in categories]


def _category(db: Session, service_code: str) -> Category:
    category = db.scalar(
        select(Category).where(Category.code == service_code, Category.active, Category.leaf)
    )
    if category is None:
        raise NotFound("open311.no_service", service_code=service_code)
    return category


def _request_type_attribute(db: Session) -> AttributeOut:
    """What the request asks (诉求类型), one of the city's request types; without it, a complaint."""
    return AttributeOut(
        variable=True,
        code="request_type",
        datatype="singlevaluelist",
        required=False,
        datatype_description=None,
        order=2,
        description="What the requester asks (诉求类型): its limits follow from it. Default: complaint.",
        values=[
            AttributeValueOut(key=t.code, name=t.name) for t in category_service.list_request_types(db=db)
        ],
    )


def service_definition(*, db: Session, service_code: str) -> ServiceDefinitionOut:
    code = _category(db, service_code).code
    return ServiceDefinitionOut(service_code=code, attributes=[CLIENT_UUID, _request_type_attribute(db)])


# -- posting ------------------------------------------------------------------------------------------


def _place(db: Session, data: PostIn) -> tuple[float, float, str | None]:
    """lon, lat and the address in words: the posted position, else the register address of address_id,
    else the one the address_string finds first, else a grid or street whose name it holds."""
    if (data.lat is None) != (data.long is None):
        raise Invalid("open311.half_position")
    if data.lat is not None:
        return data.long, data.lat, data.address_string
    if data.address_id:
        found = db.execute(
            select(Address.address_text, func.ST_X(Address.geom), func.ST_Y(Address.geom)).where(
                Address.register_id == data.address_id
            )
        ).first()
        if found is None:
            raise Invalid("open311.address_id_unknown", address_id=data.address_id)
        text, lon, lat = found
        return lon, lat, data.address_string or text
    if not data.address_string or not data.address_string.strip():
        raise Invalid("open311.position_required")
    try:
        addresses = address_service.search(db=db, text=data.address_string, limit=1)
    except Invalid:  # not a query the register takes (too long, too many words): the grid names may hold it
        addresses = []
    if addresses:
        return addresses[0].lon, addresses[0].lat, data.address_string
    grids = grid_service.search(db=db, text=data.address_string, limit=1)
    if not grids:
        raise Invalid("open311.address_unknown")
    _, lon, lat = grids[0]
    return lon, lat, data.address_string


def _client_uuid(value: str | None) -> uuid.UUID:
    if value is None:
        return uuid.uuid4()
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Invalid("open311.client_uuid") from None


def _triage_allowed(db: Session) -> bool:
    """Whether the city the request is in takes requests without service_code (open311_triage_cities)."""
    allowed = {code.strip() for code in get_settings().open311_triage_cities.split(",") if code.strip()}
    if "*" in allowed:
        return True
    _, city = current_cities(db)
    return city is not None and db.scalar(select(City.code).where(City.id == city)) in allowed


def _triaged(db: Session, description: str | None, lon: float, lat: float) -> Category:
    """The category the triage model finds best for the description, when the city allows it and the
    score reaches open311_triage_min_score; else the refusal of a request without service_code."""
    text = (description or "").strip()[:DESCRIPTION_MAX]  # a longer one is refused by the intake's check
    best = (
        triage_service.best_category(db=db, text=text, lon=lon, lat=lat, channel="open311")
        if text and _triage_allowed(db)
        else None
    )
    if best is None or best[1] < get_settings().open311_triage_min_score:
        raise Invalid("validation.missing", field=messages.field_label("service_code"))
    return _category(db, best[0])


def post_request(*, db: Session, api_key: str | None, data: PostIn) -> PostedOut:
    """A request becomes a case (or is the case its client_uuid already made): its code at once. Without
    service_code, the category is the triage model's choice from the description (where the city allows)."""
    client = client_for_key(db=db, api_key=api_key)
    category = _category(db, data.service_code) if data.service_code else None
    lon, lat, address = _place(db, data)
    if category is None:
        category = _triaged(db, data.description, lon, lat)
    name = " ".join(part.strip() for part in (data.first_name, data.last_name) if part and part.strip())
    try:
        report = ReportIn(
            client_uuid=_client_uuid(data.client_uuid),
            category=category.code,
            lon=lon,
            lat=lat,
            description=data.description or "",
            address=address,
            request_type=data.request_type,
            channel="open311",
            reporter_name=name or None,
            reporter_phone=_PHONE_PUNCTUATION.sub("", data.phone) if data.phone else None,
        )
    except ValidationError as exc:
        # As the API says a refused field (its name in words); the errors' places start with the body.
        items = validation_items([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()])
        problems = list(dict.fromkeys(item.msg for item in items))
        raise Invalid("open311.invalid_request", problems="；".join(problems), errors=problems) from None
    user = db.get(User, client.user_id)
    # The case and its request row are one unit (a retry after a lost answer finds both).
    case, _ = intake_service.receive(db=db, principal=Principal.of(user), data=report)
    if db.get(Open311Request, case.id) is None:
        db.add(
            Open311Request(
                case_id=case.id,
                client_id=client.id,
                email=data.email,
                device_id=data.device_id,
                account_id=data.account_id,
                media_url=data.media_url,
            )
        )
    db.commit()
    return PostedOut(
        service_request_id=case.code,
        service_notice=TRIAGED.format(name=category.name) if not data.service_code else RECEIVED,
        account_id=data.account_id,
    )


# -- reading ------------------------------------------------------------------------------------------


def _when(value: str | None, name: str) -> datetime | None:
    """A W3C date-time (e.g. 2010-01-01T00:00:00Z); without an offset, the city's local time."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise Invalid("open311.date_time", field=messages.field_label(name)) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo(get_settings().timezone))


def _listed(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def find_requests(
    *,
    db: Session,
    base_url: str,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    status: str | None = None,
) -> list[RequestOut]:
    """Requests the public may see, newest first, at most ``open311_max_requests``. A service_request_id
    list overrides the other filters; the dates span at most ``open311_days`` days (default: the last
    ones)."""
    settings = get_settings()
    query = select(Case).where(public())
    ids = _listed(service_request_id)
    if ids:
        query = query.where(Case.code.in_(ids))
    else:
        span = timedelta(days=settings.open311_days)
        start, end = _when(start_date, "start_date"), _when(end_date, "end_date")
        end = end or (start + span if start else _now(db))
        start = start or end - span
        if start > end:
            raise Invalid("open311.dates_reversed")
        if end - start > span:
            raise Invalid("open311.span_too_long", days=settings.open311_days)
        query = query.where(Case.received_at >= start, Case.received_at <= end)
        codes = _listed(service_code)
        if codes:
            query = query.join(Category, Category.id == Case.category_id).where(Category.code.in_(codes))
        statuses = set(_listed(status))
        if statuses - {"open", "closed"}:
            raise Invalid("open311.status", allowed="open 或 closed")
        if statuses == {"open"}:
            query = query.where(Case.state.in_(OPEN_STATES))
        elif statuses == {"closed"}:
            query = query.where(Case.state.not_in(OPEN_STATES))
    cases = list(
        db.scalars(
            query.order_by(Case.received_at.desc(), Case.id.desc()).limit(settings.open311_max_requests)
        )
    )
    return _requests(db, cases, base_url)


def get_request(
    *, db: Session, base_url: str, service_request_id: str, api_key: str | None = None
) -> RequestOut:
    """A request the public may see; with the api_key of the client that posted it, also before it is
    filed, so that a client can follow its own request from the start."""
    seen = public()
    if api_key:
        client = client_for_key(db=db, api_key=api_key)
        seen = or_(
            seen, Case.id.in_(select(Open311Request.case_id).where(Open311Request.client_id == client.id))
        )
    case = db.scalar(select(Case).where(Case.code == service_request_id, seen))
    if case is None:
        raise NotFound("open311.no_request", request=service_request_id)
    return _requests(db, [case], base_url)[0]


def _requests(db: Session, cases: list[Case], base_url: str) -> list[RequestOut]:
    """The cases as requests: no reporter data, no staff, only the notes marked public."""
    ids = [c.id for c in cases]
    categories = {
        c.id: c for c in db.scalars(select(Category).where(Category.id.in_({c.category_id for c in cases})))
    }
    departments = dict(
        db.execute(
            select(Department.id, Department.name).where(Department.id.in_({c.department_id for c in cases}))
        ).all()
    )
    notes = dict(
        db.execute(
            select(CaseEvent.case_id, CaseEvent.data["public_note"].astext)
            .where(CaseEvent.case_id.in_(ids), CaseEvent.data.has_key("public_note"))
            .order_by(CaseEvent.case_id, CaseEvent.at.desc(), CaseEvent.id.desc())
            .ext(distinct_on(CaseEvent.case_id))
        ).all()
    )
    photos = dict(
        db.execute(
            select(CasePhoto.case_id, func.min(CasePhoto.id))
            .where(CasePhoto.case_id.in_(ids), CasePhoto.role == "before")
            .group_by(CasePhoto.case_id)
        ).all()
    )
    addressed = {c.address_id for c in cases} - {None}
    register_ids = dict(
        db.execute(select(Address.id, Address.register_id).where(Address.id.in_(addressed))).all()
    )
    out = []
    city = city_link(db, cases[0].city_id) if cases else ""  # one city's requests
    for case in cases:
        category = categories[case.category_id]
        closed = State(case.state) in TERMINAL
        point = to_shape(case.location)
        photo_id = photos.get(case.id)
        out.append(
            RequestOut(
                service_request_id=case.code,
                status="closed" if closed else "open",
                status_notes=notes.get(case.id),
                service_name=category.name,
                service_code=category.code,
                description=case.description or None,
                agency_responsible=departments.get(case.department_id),
                service_notice=STATE_LABELS[State(case.state)],
                requested_datetime=case.received_at,
                updated_datetime=(case.closed_at if closed else None) or case.updated_at,
                expected_datetime=case.handle_due_at or case.step_due_at,
                address=case.address,
                address_id=register_ids.get(case.address_id),
                zipcode=None,
                lat=point.y,
                long=point.x,
                media_url=f"{base_url}/api/public/photos/{photo_id}.jpg{city}" if photo_id else None,
            )
        )
    return out
