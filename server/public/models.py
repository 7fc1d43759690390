"""What the public pages keep beside a case: who reported it through them (for throttling, the reporter's
token and the spam flag) and the reporter's rating of the closed case."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.database import Base
from server.tenant import CityOwned

RATING_ASPECTS = ("speed", "result", "attitude", "system")


class PublicReport(CityOwned, Base):
    """A case reported on the public page: the sha256 of the reporter's token (the token itself is given to
    the reporter's browser only), the client address and phone the throttling counts, and the spam flag."""

    __tablename__ = "public_report"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id", ondelete="RESTRICT"), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(20))
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    spam_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_public_report_ip_reported_at", "ip", "reported_at"),
        Index("ix_public_report_phone_reported_at", "phone", "reported_at"),
    )


class PublicRating(CityOwned, Base):
    """The reporter's rating of a closed case: one per case, five stars for each aspect."""

    __tablename__ = "public_rating"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id", ondelete="RESTRICT"), unique=True)
    speed: Mapped[int] = mapped_column(SmallInteger)
    result: Mapped[int] = mapped_column(SmallInteger)
    attitude: Mapped[int] = mapped_column(SmallInteger)
    system: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str] = mapped_column(Text, server_default="")
    rated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = tuple(
        CheckConstraint(f"{aspect} BETWEEN 1 AND 5", name=aspect) for aspect in RATING_ASPECTS
    )
