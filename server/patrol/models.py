"""Patrol shifts and the track points recorded on them; proactive patrol tasks (主动巡查任务)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from server.database import Base
from server.tenant import CityOwned


class PatrolShift(CityOwned, Base):
    """A user's patrol shift, from clock-in to clock-out (``ended_at`` NULL while on shift). The phone makes
    ``client_uuid`` when the shift starts, possibly offline, and sends it with every request about it.
    A user has at most one open shift (partial unique index)."""

    __tablename__ = "patrol_shift"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    client_uuid: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))  # unique in its city
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    device_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("ended_at IS NULL OR ended_at > started_at", name="span"),
        UniqueConstraint("city_id", "client_uuid"),
        Index(
            "uq_patrol_shift_user_id_open", "user_id", unique=True, postgresql_where=text("ended_at IS NULL")
        ),
        Index("ix_patrol_shift_user_id_started_at", "user_id", "started_at"),
        Index("ix_patrol_shift_started_at", "started_at"),
    )


class TrackPoint(CityOwned, Base):
    """A position recorded on a shift. One point per shift and instant: a batch sent again adds nothing."""

    __tablename__ = "track_point"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("patrol_shift.id", ondelete="CASCADE"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    location = mapped_column(Geometry("POINT", srid=4326, spatial_index=False), nullable=False)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    speed_mps: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (
        UniqueConstraint("shift_id", "recorded_at"),
        Index("ix_track_point_location", "location", postgresql_using="gist"),
    )


TASK_SOURCES = ("manual", "forecast", "warning")  # a grid head's (or another's) order, or the system's rule
TASK_STATES = ("open", "done", "cancelled")


class PatrolTask(CityOwned, Base):
    """A proactive patrol task (主动巡查任务): an inspector sent to patrol a grid, maybe looking for one kind
    of problem (``category_id``), from ``starts_on`` to ``ends_on`` (local dates, both included). The
    inspector's track inside the grid on those days adds up in ``covered_minutes``; at the minutes a task
    needs it is done, ``covered_at`` the instant they were reached (server/patrol/tasks.py). ``assigned_by``
    is NULL for a task the system's rule made (source forecast or warning) or the system administrator. A
    case the inspector reports inside the grid on one of its days names the task (``Case.patrol_task_id``:
    主动发现)."""

    __tablename__ = "patrol_task"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    grid_code: Mapped[str] = mapped_column(String(15))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id", ondelete="RESTRICT"))
    assignee_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))
    assigned_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))
    source: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(10), server_default="open")
    covered_minutes: Mapped[float] = mapped_column(Float, server_default="0")
    covered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(f"source IN {TASK_SOURCES}", name="source"),
        CheckConstraint(f"state IN {TASK_STATES}", name="state"),
        CheckConstraint("ends_on >= starts_on", name="period"),
        Index("ix_patrol_task_assignee_id_ends_on", "assignee_id", "ends_on"),
        Index("ix_patrol_task_grid_code", "grid_code"),
    )
