"""The reports kept for download (日报 / 周报 / 月报): one per kind, area and period."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Identity,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.database import Base
from server.tenant import CityOwned
from server.types import LTree

KINDS = ("day", "week", "month")


class Report(CityOwned, Base):
    """A generated report: its area (the grid's code, name and path when it was made), its period (local
    dates, both included) and the document as HTML and as PDF (both loaded only when asked for)."""

    __tablename__ = "report"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    grid_code: Mapped[str] = mapped_column(String(15))
    grid_name: Mapped[str] = mapped_column(String(100))
    grid_path: Mapped[str] = mapped_column(LTree)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    generated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    html: Mapped[str] = mapped_column(Text, deferred=True)
    pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)

    __table_args__ = (
        UniqueConstraint("city_id", "kind", "grid_code", "period_start"),
        Index("ix_report_period_start", "period_start"),
        CheckConstraint("kind IN ('day', 'week', 'month')", name="kind"),
        CheckConstraint("period_end >= period_start", name="period"),
    )
