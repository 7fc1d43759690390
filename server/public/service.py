"""The citizens' public pages: a report through the real intake (channel "citizen") with its photos, the
case as the public may see it, the reporter's rating, throttling per client address and phone, and the
operators' spam flag.

Reports come in as the public portal: an acceptor of no user, whose cases are visible to it only while
it files them and their photos."""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gis.crs import CRS
from server.auth.principal import Principal
from server.case import actions, queries
from server.case import intake as intake_service
from server.case import photos as case_photos
from server.case.flows import ACTIONS
from server.case.models import Case, CaseEvent, CasePhoto
from server.case.schemas import ReasonIn, ReportIn
from server.case.scope import Scope, public
from server.case.states import STATE_LABELS, TERMINAL, State
from server.category.models import Category
from server.config import get_settings
from server.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from server.grid.models import CURRENT, Grid, today
from server.photo.processing import ProcessedPhoto, process_photo
from server.photo.storage import get_storage
from server.public.models import PublicRating, PublicReport
from server.public.schemas import (
    CaseLink,
    PublicCase,
    PublicEvent,
    PublicPhoto,
    PublicReportIn,
    RatingIn,
    StageOut,
)
from server.tenant import city_link

PORTAL_NAME = "市民（公众上报）"
STAGES = ("受理", "核实", "立案", "派遣/处置", "核查", "结案")
# The stage a case in each state is at (a merged case has none of its own: the case it joined has them).
STAGE_OF = {
    State.REPORTED: 0,
    State.VERIFYING: 1,
    State.REGISTERED: 1,
    State.FILED: 2,
    State.DISPATCHED: 3,
    State.RETURNED: 3,
    State.SUSPENDED: 3,
    State.HANDLED: 4,
    State.CHECKING: 4,
    State.CHECKED: 4,
    State.CLOSED: 5,
}
# The codes the intake gives cases (server.case.intake): the district's code, the day, the day's number.
CASE_CODE = re.compile(r"[0-9]{6,15}-[0-9]{8}-[0-9]{4,}")
PHONE_DIGITS = (5, 20)
PHONE = re.compile(rf"\+?[0-9]{{{PHONE_DIGITS[0]},{PHONE_DIGITS[1]}}}")
# The one rule for the photos the public sees, on the track page and at their own address (which Open311
# links): the problem before and the result after; verification and check photos are the staff's.
PUBLIC_PHOTOS = CasePhoto.role.in_(("before", "after"))


@dataclass(frozen=True)
class _Portal(Principal):
    """The public portal: reports as an acceptor on the citizen channel, as no user."""

    @property
    def name(self) -> str:
        return PORTAL_NAME


PORTAL = _Portal(user=None, session_id=None, roles=frozenset({"acceptor"}))


class TooManyReports(DomainError):
    """Throttled; ``params["retry_after"]`` holds the seconds to wait."""

    status = 429


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now(db: Session, at: datetime | None) -> datetime:
    return at or db.scalar(select(func.clock_timestamp()))


def track_url(db: Session, case: Case) -> str:
    """The tracking page of a case (naming its city unless it is the deployment's own)."""
    return f"/track/{case.code}{city_link(db, case.city_id)}"


# -- reporting ----------------------------------------------------------------------------------------


def _throttle(db: Session, ip: str | None, phone: str | None, now: datetime) -> None:
    """Refuse (429) while the client address or the phone has made its share of reports in the window."""
    settings = get_settings()
    window = timedelta(minutes=settings.public_window_minutes)
    limits = [
        (PublicReport.ip, ip, settings.public_reports_per_ip, "这个网络"),
        (PublicReport.phone, phone, settings.public_reports_per_phone, "这个手机号"),
    ]
    for column, value, limit, whose in limits:
        if value is None:
            continue
        # The limit-th newest report in the window: once it leaves the window, fewer than limit remain.
        blocking = db.scalar(
            select(PublicReport.reported_at)
            .where(column == value, PublicReport.reported_at > now - window)
            .order_by(PublicReport.reported_at.desc())
            .offset(limit - 1)
            .limit(1)
        )
        if blocking is not None:
            seconds = max(1, math.ceil((blocking + window - now).total_seconds()))
            raise TooManyReports(
                "public.too_many_reports",
                whose=whose,
                window=settings.public_window_minutes,
                limit=limit,
                wait=math.ceil(seconds / 60),
                retry_after=seconds,
            )


def _check_limits(data: PublicReportIn, photos: list[BinaryIO]) -> list[ProcessedPhoto]:
    """The report's limits (the description's is a setting, so it is checked here, not by the schema),
    and its photos read (at most one byte over the limit each), checked and processed before the case is
    made: the same checks the case's photos get, so a bad file makes no case."""
    settings = get_settings()
    if data.category not in settings.public_categories.values():
        raise Invalid("public.category_unknown")
    if len(data.description) > settings.public_max_description:
        raise Invalid("public.description_too_long", max_length=settings.public_max_description)
    if data.phone is not None and not PHONE.fullmatch(data.phone):
        raise Invalid("public.phone_format", min_digits=PHONE_DIGITS[0], max_digits=PHONE_DIGITS[1])
    if not photos:
        raise Invalid("public.photo_required")
    if len(photos) > settings.public_max_photos:
        raise Invalid("public.too_many_photos", max_photos=settings.public_max_photos)
    return [
        process_photo(
            upload.read(settings.public_max_photo_bytes + 1),
            max_bytes=settings.public_max_photo_bytes,
            max_pixels=settings.public_photo_max_pixels,
            thumbnail_px=settings.photo_thumbnail_px,
            public_px=settings.photo_public_px,
        )
        for upload in photos
    ]


def report(
    *, db: Session, data: PublicReportIn, photos: list[BinaryIO], ip: str | None, at: datetime | None = None
) -> tuple[Case, str]:
    """File a citizen's report with its photos (as 'before'); return the case and a new reporter token.

    A retry (the same client UUID and content) answers with the same case and a fresh token replacing the
    one the lost answer carried; it is not counted again by the throttling. The throttling comes first:
    a throttled client's photos are not even read.

    The report is one unit: the photos' files are written first (a full disk refuses the report before
    any row is written or locked), then the case, its photos and the token are committed together."""
    now = _now(db, at)
    if db.scalar(select(Case.id).where(Case.client_uuid == data.client_uuid)) is None:
        _throttle(db, ip, data.phone, now)
    processed = _check_limits(data, photos)
    intake = ReportIn(
        client_uuid=data.client_uuid,
        category=data.category,
        lon=data.lon,
        lat=data.lat,
        crs=CRS(data.crs),
        description=data.description,
        request_type=data.request_type,
        address=data.address or None,
        channel="citizen",
        reporter_phone=data.phone,
    )
    for processed_photo in processed:
        case_photos.store_photo(processed_photo)
    try:
        case, _ = intake_service.receive(db=db, principal=PORTAL, data=intake, at=at)
    except Conflict:  # the client UUID of a report already made, with other content: the page starts anew
        raise Conflict("public.report_changed") from None
    for processed_photo in processed:
        case_photos.attach_photo(
            db=db, principal=PORTAL, case=case, role="before", photo=processed_photo, at=at
        )
    token = secrets.token_urlsafe(24)
    row = db.scalar(select(PublicReport).where(PublicReport.case_id == case.id))
    if row is None:
        db.add(
            PublicReport(case_id=case.id, token_hash=_hash(token), ip=ip, phone=data.phone, reported_at=now)
        )
    else:
        row.token_hash = _hash(token)
    db.commit()
    return case, token


# -- tracking -----------------------------------------------------------------------------------------


def code_example(db: Session) -> str:
    """A case code as the intake makes them: a district's code, today's date, the day's first number."""
    district = db.scalar(
        select(Grid.code).where(CURRENT).order_by(Grid.level != "district", Grid.code).limit(1)
    )
    # A city without grids has no cases either: only the shape of the example matters then.
    return f"{district or '000000'}-{today():%Y%m%d}-0001"


def _public_case(db: Session, code: str) -> Case:
    """The case the public may see under ``code`` (as typed: full-width digits and dashes are read as
    such); a mistyped code is answered with what a code looks like, a voided case with its public note."""
    code = unicodedata.normalize("NFKC", code).strip()
    if not CASE_CODE.fullmatch(code):
        raise Invalid("public.code_format", example=code_example(db))
    case = db.scalar(select(Case).where(Case.code == code, public()))
    if case is not None:
        return case
    hidden = db.execute(select(Case.id, Case.state).where(Case.code == code)).one_or_none()
    if hidden is None:
        raise NotFound("public.no_case", case=code)
    if hidden.state != State.VOIDED:
        raise NotFound("public.not_yet_public", case=code)
    # The void's reason is the staff's; its note marked public, if any, is for the reporter.
    note = db.scalar(
        select(CaseEvent.data["public_note"].astext).where(
            CaseEvent.case_id == hidden.id, CaseEvent.action == "void"
        )
    )
    if note:
        raise NotFound("public.voided_with_note", case=code, note=note)
    raise NotFound("public.voided", case=code)


def _stages(state: State) -> list[StageOut]:
    """The stages as far as a case in ``state`` has come; none for a merged case."""
    if state == State.MERGED:
        return []
    current, closed = STAGE_OF[state], state == State.CLOSED
    return [
        StageOut(label=label, done=i < current or closed, current=i == current)
        for i, label in enumerate(STAGES)
    ]


def track(*, db: Session, code: str) -> PublicCase:
    """The case as the public sees it: stages, the timeline of its steps (no names, no reporter, only
    notes marked public), before and after photos, the deadline. A merged case has no stages: it names
    the case it joined, whose progress is the reporter's to follow; it may have been merged before anyone
    verified it, so its own words and photos are not shown."""
    case = _public_case(db, code)
    state = State(case.state)
    merged = state == State.MERGED
    events = db.scalars(
        select(CaseEvent)
        .where(CaseEvent.case_id == case.id, CaseEvent.state_before.is_distinct_from(CaseEvent.state_after))
        .order_by(CaseEvent.id)
    )
    photos = db.scalars(
        select(CasePhoto).where(CasePhoto.case_id == case.id, PUBLIC_PHOTOS).order_by(CasePhoto.id)
    )
    city = city_link(db, case.city_id)
    shown = (
        []
        if merged
        else [PublicPhoto(role=p.role, url=f"/api/public/photos/{p.id}.jpg{city}") for p in photos]
    )
    master = db.get(Case, case.merged_into_id) if case.merged_into_id else None
    return PublicCase(
        code=case.code,
        category=db.get(Category, case.category_id).name,
        description="" if merged else case.description,
        state_label=STATE_LABELS[state],
        stages=_stages(state),
        received_at=case.received_at,
        deadline=None if state in TERMINAL else case.handle_due_at or case.step_due_at,
        closed_at=case.closed_at,
        merged_into=CaseLink(code=master.code, track_url=track_url(db, master)) if master else None,
        timeline=[
            PublicEvent(
                at=e.at,
                label="受理" if e.action == "report" else ACTIONS[e.action].label,
                state_label=STATE_LABELS[State(e.state_after)],
                note=e.data.get("public_note"),
            )
            for e in events
        ],
        before=[p for p in shown if p.role == "before"],
        after=[p for p in shown if p.role == "after"],
        rated=db.scalar(select(PublicRating.id).where(PublicRating.case_id == case.id)) is not None,
    )


# -- rating -------------------------------------------------------------------------------------------


def rate(*, db: Session, code: str, data: RatingIn, at: datetime | None = None) -> PublicRating:
    """The reporter's rating of a closed case, once: the token from the report's answer proves the
    reporter (403 otherwise), a second rating is refused (409)."""
    case = _public_case(db, code)
    reported = db.scalar(select(PublicReport).where(PublicReport.case_id == case.id))
    if reported is None or not secrets.compare_digest(reported.token_hash, _hash(data.reporter_token)):
        raise Forbidden("public.not_reporter")
    if case.state != State.CLOSED:
        raise Conflict("public.not_closed")
    rating = PublicRating(
        case_id=case.id,
        **data.model_dump(include={"speed", "result", "attitude", "system", "comment"}),
        rated_at=_now(db, at),
    )
    db.add(rating)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise Conflict("public.already_rated") from None
    return rating


# -- spam ---------------------------------------------------------------------------------------------


def mark_spam(
    *, db: Session, principal: Principal, scope: Scope, code: str, version: int, reason: str
) -> Case:
    """Mark a public report as spam: void it with the reason (the workflow's void: before filing, by a
    shift lead), so it is never shown publicly, and flag its report."""
    case = queries.get_case(db=db, scope=scope, code=code)
    reported = db.scalar(select(PublicReport).where(PublicReport.case_id == case.id))
    if reported is None:
        raise NotFound("public.not_a_public_report", case=code)
    reported.spam_at = _now(db, None)
    body = ReasonIn(version=version, reason=f"垃圾上报：{reason}")
    return actions.act(db=db, principal=principal, scope=scope, code=code, action="void", body=body)


def photo(*, db: Session, photo_id: int) -> bytes:
    """The public copy (personal metadata stripped) of a photo the track page shows (``PUBLIC_PHOTOS``) of
    a case the public may see."""
    key = db.scalar(
        select(CasePhoto.public_key)
        .join(Case, Case.id == CasePhoto.case_id)
        .where(CasePhoto.id == photo_id, PUBLIC_PHOTOS, public(), Case.state != State.MERGED.value)
    )
    if key is None:
        raise NotFound("public.no_photo")
    return get_storage(get_settings()).get(key)
