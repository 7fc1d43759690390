"""Open311 client systems (their API keys) and what a posted request carried beside the case."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Identity, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.database import Base
from server.tenant import CityOwned


class Open311Client(CityOwned, Base):
    """A system allowed to post requests: its API key (kept as a sha256 hash, shown once when made) and the
    system user (role acceptor, no password) its requests are reported by."""

    __tablename__ = "open311_client"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(60))  # unique in its city
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("city_id", "name"),)


class Open311Request(CityOwned, Base):
    """The fields of a posted request the case has no place for (all private: never shown in GET)."""

    __tablename__ = "open311_request"

    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id", ondelete="RESTRICT"), primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("open311_client.id", ondelete="RESTRICT"))
    email: Mapped[str | None] = mapped_column(String(200))
    device_id: Mapped[str | None] = mapped_column(String(200))
    account_id: Mapped[str | None] = mapped_column(String(200))
    media_url: Mapped[str | None] = mapped_column(Text)
