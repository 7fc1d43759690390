"""A warning on an area x category (one open per kind x area x category), the trail of what was done with it,
and the per-year counter numbering the reminder letters."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
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
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from server.database import Base
from server.tenant import CityOwned, city_key
from server.types import LTree

STATES = ("raised", "seen", "letter", "acknowledged", "closed")
STATE_NAMES = {
    "raised": "新预警",
    "seen": "已查看",
    "letter": "已发提醒函",
    "acknowledged": "已反馈",
    "closed": "已关闭",
}
ADDRESSEES = ("street", "department")


def _user() -> Mapped[int | None]:
    return mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))


class Warning(CityOwned, Base):
    """A warning: the area and category it is about, the figures of the latest signal (``resignalled``
    counts the signals after the first while it stayed open), and each step of its life with who took it.
    ``letter_html`` is the letter as sent: later data changes never alter it."""

    __tablename__ = "warning"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    level: Mapped[str] = mapped_column(String(20))
    area_code: Mapped[str] = mapped_column(String(15))
    area_path: Mapped[str] = mapped_column(LTree)
    area_name: Mapped[str] = mapped_column(String(100))
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id", ondelete="RESTRICT"))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    observed: Mapped[int] = mapped_column(Integer)
    expected: Mapped[float] = mapped_column(Float)
    p_value: Mapped[float] = mapped_column(Float)
    message: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(12))
    raised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    signalled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resignalled: Mapped[int] = mapped_column(Integer, server_default="0")
    seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    seen_by: Mapped[int | None] = _user()
    addressee_kind: Mapped[str | None] = mapped_column(String(12))
    addressee_grid_code: Mapped[str | None] = mapped_column(String(15))
    addressee_department_id: Mapped[int | None] = mapped_column(
        ForeignKey("department.id", ondelete="RESTRICT")
    )
    addressee_name: Mapped[str | None] = mapped_column(String(100))
    letter_year: Mapped[int | None] = mapped_column(SmallInteger)
    letter_seq: Mapped[int | None] = mapped_column(Integer)
    letter_number: Mapped[str | None] = mapped_column(String(40))
    letter_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    letter_sent_by: Mapped[int | None] = _user()
    letter_due_on: Mapped[date | None] = mapped_column(Date)
    letter_html: Mapped[str | None] = mapped_column(Text, deferred=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by: Mapped[int | None] = _user()
    reply: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[int | None] = _user()
    close_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("kind IN ('surge', 'persistent')", name="kind"),
        CheckConstraint(f"state IN {STATES}", name="state"),
        CheckConstraint(f"addressee_kind IN {ADDRESSEES}", name="addressee_kind"),
        UniqueConstraint("city_id", "letter_number"),
        Index(
            "uq_warning_open",
            "city_id",
            "kind",
            "area_code",
            "category_id",
            unique=True,
            postgresql_where=text("state <> 'closed'"),
        ),
        Index("ix_warning_area_path", "area_path", postgresql_using="gist"),
        Index("ix_warning_state", "state"),
    )


class WarningEvent(CityOwned, Base):
    """One step of a warning's life: who (NULL: the system), when, what, from which state to which."""

    __tablename__ = "warning_event"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    warning_id: Mapped[int] = mapped_column(ForeignKey("warning.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_id: Mapped[int | None] = _user()
    actor_name: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(20))
    state_before: Mapped[str | None] = mapped_column(String(12))
    state_after: Mapped[str] = mapped_column(String(12))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSONB, server_default="{}")

    __table_args__ = (Index("ix_warning_event_warning_id_at", "warning_id", "at"),)


class WarningLetterCounter(CityOwned, Base):
    """The last reminder-letter number given in a year: numbers are unique and gap-free per year."""

    __tablename__ = "warning_letter_counter"

    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    city_id: Mapped[int] = city_key(primary_key=True)
    last: Mapped[int] = mapped_column(Integer)
