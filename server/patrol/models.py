"""Patrol shifts and the track points recorded on them."""

from __future__ import annotations

import uuid
from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from server.database import Base


class PatrolShift(Base):
    """A user's patrol shift, from clock-in to clock-out (``ended_at`` NULL while on shift). The phone makes
    ``client_uuid`` when the shift starts, possibly offline, and sends it with every request about it.
    A user has at most one open shift (partial unique index)."""

    __tablename__ = "patrol_shift"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    client_uuid: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    device_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("ended_at IS NULL OR ended_at > started_at", name="span"),
        Index(
            "uq_patrol_shift_user_id_open", "user_id", unique=True, postgresql_where=text("ended_at IS NULL")
        ),
        Index("ix_patrol_shift_user_id_started_at", "user_id", "started_at"),
        Index("ix_patrol_shift_started_at", "started_at"),
    )


class TrackPoint(Base):
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
