"""Cases: the case itself, its dispatches, photos and the append-only audit trail, and the daily counters
that number cases without gaps."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from server.database import Base
from server.tenant import CityOwned, city_key
from server.types import LTree

CHANNELS = ("inspector", "citizen", "hotline", "system", "open311")
CLOCKS = ("work", "natural")  # a case's limits run on working time or on natural time (24 h)
SUPERVISION_KINDS = ("supervise", "urge")  # 督办, 催办
SPECIAL_REPORTER_KINDS = ("deputy", "cppcc", "vulnerable")  # 人大代表, 政协委员, 困难群众
PHOTO_ROLES = ("before", "after", "verification", "check")
# The zoom-17 Web Mercator tile of a case's location (x from the west, y from the north), as stored.
CELL_ZOOM = 17
_CELL_SIZE = f"(40075016.68557849 / {1 << CELL_ZOOM})"  # metres: the world's width over 2^17
CELL_X = f"floor((ST_X(ST_Transform(location, 3857)) + 20037508.342789244) / {_CELL_SIZE})::integer"
CELL_Y = f"floor((20037508.342789244 - ST_Y(ST_Transform(location, 3857))) / {_CELL_SIZE})::integer"


class Case(CityOwned, Base):
    """A reported problem from intake to closing. ``version`` guards against stale writes (every action
    names the version it saw); ``change_seq`` (set by a trigger on every write) is the sync cursor."""

    __tablename__ = "case_file"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(32))  # unique in its city
    client_uuid: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))  # unique in its city
    content_hash: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    change_seq: Mapped[int] = mapped_column(BigInteger, server_default="0")

    category_id: Mapped[int] = mapped_column(ForeignKey("category.id", ondelete="RESTRICT"))
    urgency: Mapped[str] = mapped_column(String(10))
    # 咨询, 建议, 投诉, 求助 or 举报 (server.category.models.RequestType): its own limits
    request_type: Mapped[str] = mapped_column(
        ForeignKey("request_type.code", ondelete="RESTRICT"), server_default="complaint"
    )
    clock: Mapped[str] = mapped_column(String(8), server_default="work")  # every step's limits run on it
    description: Mapped[str] = mapped_column(Text, server_default="")
    address: Mapped[str | None] = mapped_column(Text)
    # the register address nearest to the point at intake (server.address), and how far it is
    address_id: Mapped[int | None] = mapped_column(ForeignKey("address.id", ondelete="SET NULL"))
    address_distance_m: Mapped[float | None] = mapped_column(Float)
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(40)), server_default="{}")

    location = mapped_column(Geometry("POINT", srid=4326, spatial_index=False), nullable=False)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    position_source: Mapped[str | None] = mapped_column(String(10))  # gps or manual (a pin placed by hand)
    reported_crs: Mapped[str] = mapped_column(String(10))
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id", ondelete="RESTRICT"))
    grid_code: Mapped[str] = mapped_column(String(15))
    grid_path: Mapped[str] = mapped_column(LTree)
    district_code: Mapped[str] = mapped_column(String(15))
    rural: Mapped[bool] = mapped_column(Boolean, server_default="false")

    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))
    reporter_name: Mapped[str | None] = mapped_column(String(100))
    reporter_phone: Mapped[str | None] = mapped_column(String(20))
    device_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id", ondelete="RESTRICT"))
    task_assignee_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id", ondelete="RESTRICT"))
    # the caller's earlier case of the same place and category (重复投诉)
    repeat_of_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id", ondelete="RESTRICT"))
    # the department first dispatched to (首办负责制): it stays responsible until reassigned with a reason
    first_department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id", ondelete="RESTRICT"))
    # the grid of the street sub-center that dispatches it (two-tier dispatch); NULL: the top center
    dispatch_center: Mapped[str | None] = mapped_column(String(15))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id", ondelete="RESTRICT"))
    # the proactive patrol task its inspector was on when reporting it (主动发现, server/patrol/tasks.py)
    patrol_task_id: Mapped[int | None] = mapped_column(ForeignKey("patrol_task.id", ondelete="RESTRICT"))

    # The current step's clock, in working time: when it started, its limit, its due instant and the instant
    # its light turns yellow (NULL while suspended, the remaining minutes kept in step_remaining_min).
    step_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    step_limit_min: Mapped[float | None] = mapped_column(Float)
    step_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    step_yellow_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    step_remaining_min: Mapped[float | None] = mapped_column(Float)
    handle_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    extension_request: Mapped[dict | None] = mapped_column(JSONB)
    supervised_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    supervision_level: Mapped[int | None] = mapped_column(SmallInteger)  # the open supervision's, 1 to 3
    # The department's receipt (签收) clock, from dispatch to its acknowledgement.
    receipt_limit_min: Mapped[float | None] = mapped_column(Float)
    receipt_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    receipt_yellow_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    received_by_department_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    close_kind: Mapped[str | None] = mapped_column(String(12))
    rework_count: Mapped[int] = mapped_column(Integer, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    # The Web Mercator tile of zoom 17 the case lies in (server.tiles: the cells of its case summary).
    cell_x: Mapped[int] = mapped_column(Integer, Computed(CELL_X, persisted=True))
    cell_y: Mapped[int] = mapped_column(Integer, Computed(CELL_Y, persisted=True))
    # The character bigrams the desk's search looks words up by (server/case/search.py); never loaded.
    search_grams: Mapped[list[str] | None] = mapped_column(
        ARRAY(Text),
        Computed("case_search_grams(address, description, reporter_name)", persisted=True),
        deferred=True,
    )

    __table_args__ = (
        UniqueConstraint("city_id", "code"),
        UniqueConstraint("city_id", "client_uuid"),
        CheckConstraint(f"channel IN {CHANNELS}", name="channel"),
        CheckConstraint("urgency IN ('urgent', 'important', 'normal')", name="urgency"),
        CheckConstraint("position_source IN ('gps', 'manual')", name="position_source"),
        CheckConstraint(f"clock IN {CLOCKS}", name="clock"),
        CheckConstraint("supervision_level BETWEEN 1 AND 3", name="supervision_level"),
        Index(
            "ix_case_file_supervision_level",
            "supervision_level",
            postgresql_where=text("supervision_level IS NOT NULL"),
        ),
        Index("ix_case_file_reporter_phone", "reporter_phone"),
        Index("ix_case_file_location", "location", postgresql_using="gist"),
        Index("ix_case_file_grid_path", "grid_path", postgresql_using="gist"),
        Index("ix_case_file_state", "state"),
        Index("ix_case_file_address_id", "address_id"),
        Index("ix_case_file_change_seq", "change_seq"),
        Index("ix_case_file_reporter_id", "reporter_id"),
        Index("ix_case_file_task_assignee_id", "task_assignee_id"),
        Index("ix_case_file_category_id_received_at", "category_id", "received_at"),
        Index("ix_case_file_cell_x_cell_y_state", "cell_x", "cell_y", "state"),
        # the desk's search: words, the tails of codes and phone numbers, the newest first
        Index("ix_case_file_search_grams", "search_grams", postgresql_using="gin"),
        Index(
            "ix_case_file_code_tail",
            func.reverse(code).label("code_tail"),
            postgresql_ops={"code_tail": "text_pattern_ops"},
        ),
        Index(
            "ix_case_file_phone_tail",
            func.reverse(reporter_phone).label("phone_tail"),
            postgresql_ops={"phone_tail": "text_pattern_ops"},
        ),
        Index("ix_case_file_received_at", "received_at"),
        # a case that names another (duplicate, repeat, merged): deleting a case checks them by index
        *(
            Index(f"ix_case_file_{c}", c, postgresql_where=text(f"{c} IS NOT NULL"))
            for c in ("duplicate_of_id", "repeat_of_id", "merged_into_id")
        ),
        Index(
            "ix_case_file_patrol_task_id",
            "patrol_task_id",
            postgresql_where=text("patrol_task_id IS NOT NULL"),
        ),
    )


class CaseDispatch(CityOwned, Base):
    """A department a case was sent to: the lead (首办) or a parallel one (并联); ``ended_at`` is set when
    the case is returned or re-dispatched."""

    __tablename__ = "case_dispatch"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id", ondelete="RESTRICT"))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id", ondelete="RESTRICT"))
    lead: Mapped[bool] = mapped_column(Boolean)
    dispatched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_case_dispatch_case_id", "case_id"),
        Index("ix_case_dispatch_department_id", "department_id"),
    )


class CaseEvent(CityOwned, Base):
    """One entry of the audit trail: who did what to a case, when, where, in which role, from which state
    to which. The database refuses to update or delete these rows (trigger ``case_event_append_only``)."""

    __tablename__ = "case_event"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id", ondelete="RESTRICT"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))
    actor_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str | None] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(30))
    state_before: Mapped[str | None] = mapped_column(String(16))
    state_after: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    location = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))
    photo_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), server_default="{}")
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    data: Mapped[dict] = mapped_column(JSONB, server_default="{}")

    __table_args__ = (
        Index("ix_case_event_case_id_at", "case_id", "at"),
        # the call-backs (回访), among all events: the three rates read each case's latest
        Index("ix_case_event_callback", "case_id", "id", postgresql_where=text("action = 'callback'")),
    )


class CasePhoto(CityOwned, Base):
    """A photo of a case: the original upload (private evidence), a public copy without personal metadata,
    and a thumbnail, each content-addressed in the media storage by its sha256."""

    __tablename__ = "case_photo"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id", ondelete="RESTRICT"))
    role: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[str] = mapped_column(String(64))
    thumbnail_key: Mapped[str] = mapped_column(String(64))
    mime: Mapped[str] = mapped_column(String(20))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    exif_location = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))
    exif_taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    distance_m: Mapped[float | None] = mapped_column(Float)
    far_from_report: Mapped[bool] = mapped_column(Boolean, server_default="false")
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(f"role IN {PHOTO_ROLES}", name="role"),
        UniqueConstraint("case_id", "role", "sha256"),
        Index("ix_case_photo_case_id", "case_id"),
    )


class CaseCounter(CityOwned, Base):
    """The last case number given per district and local day: incremented in the intake's transaction,
    so numbers are unique and gap-free (a rolled-back intake rolls its number back too)."""

    __tablename__ = "case_counter"

    district_code: Mapped[str] = mapped_column(String(15), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    city_id: Mapped[int] = city_key(primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class CaseLayerGrid(CityOwned, Base):
    """The grid of another layer (not the default one, whose grid is the case's own ``grid_code``) holding
    the case's point when it was reported, recorded at intake (server.case.intake): whose people in that
    layer see the case, and whose inspectors take its tasks when its category names the layer."""

    __tablename__ = "case_layer_grid"

    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id", ondelete="CASCADE"), primary_key=True)
    layer: Mapped[str] = mapped_column(ForeignKey("grid_layer.code", ondelete="RESTRICT"), primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id", ondelete="RESTRICT"))
    grid_code: Mapped[str] = mapped_column(String(15))
    grid_path: Mapped[str] = mapped_column(LTree)

    __table_args__ = (Index("ix_case_layer_grid_grid_path", "grid_path", postgresql_using="gist"),)


class CaseSupervision(CityOwned, Base):
    """A supervision (督办) or reminder (催办) of a case: issued with a level (1 一般, 2 重点, 3 挂牌) and a
    note, optionally a new due time, to the department leading the case; the department acknowledges it
    (签收督办) and answers it. A supervision repeated or left unanswered past ``answer_due_at`` is closed
    and issued again one level up."""

    __tablename__ = "case_supervision"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(10))
    level: Mapped[int] = mapped_column(SmallInteger)
    note: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    issuer_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="RESTRICT")
    )  # NULL: system
    issuer_name: Mapped[str] = mapped_column(String(100))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id", ondelete="RESTRICT"))
    new_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answer_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))
    answer: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(f"kind IN {SUPERVISION_KINDS}", name="kind"),
        CheckConstraint("level BETWEEN 1 AND 3", name="level"),
        Index("ix_case_supervision_case_id", "case_id"),
        Index("ix_case_supervision_open", "department_id", postgresql_where=text("closed_at IS NULL")),
    )


class SpecialReporter(CityOwned, Base):
    """A caller whose cases get priority (人大代表, 政协委员, 困难群众): their cases are tagged and queued
    apart, as Pingshan's center does."""

    __tablename__ = "special_reporter"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    phone: Mapped[str] = mapped_column(String(20))  # unique in its city
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(12))
    note: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(f"kind IN {SPECIAL_REPORTER_KINDS}", name="kind"),
        UniqueConstraint("city_id", "phone"),
    )


class CallerReveal(CityOwned, Base):
    """One showing of a caller's full phone number: who saw it, when, in which role, from where."""

    __tablename__ = "caller_reveal"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id", ondelete="RESTRICT"))
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))
    role: Mapped[str | None] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ip: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_caller_reveal_case_id", "case_id"),)


class DemoHistory(CityOwned, Base):
    """A synthetic history loaded by ``gridops demo history`` (server.case.history): its seed and span,
    and its ground truth (the generating parameters, the planted surges, the departments' performance), so
    that warnings and forecasts can be measured against what was planted. One row: a new history replaces
    the previous one."""

    __tablename__ = "demo_history"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    seed: Mapped[int] = mapped_column(BigInteger)
    days: Mapped[int] = mapped_column(Integer)
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    generated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cases: Mapped[int] = mapped_column(Integer)
    truth: Mapped[dict] = mapped_column(JSONB)
