"""The forecasts' table: the latest run of each horizon (server/anticipate/forecast.py, migration 0021)."""

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
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.database import Base
from server.tenant import CityOwned
from server.types import LTree

HORIZONS = ("week", "month")
LEVELS = ("village", "street", "district")


class Forecast(CityOwned, Base):
    """The expected reports of an area x category over the horizon's period (``week``: the next Monday to
    Sunday, ``month``: the next calendar month, local dates inclusive) from the days up to ``cutoff``, with
    its interval (``low`` to ``high``, level ``settings.forecast_interval``) and the count of the same number
    of days up to the cutoff (``last_observed``)."""

    __tablename__ = "forecast"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    horizon: Mapped[str] = mapped_column(String(8))
    made_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cutoff: Mapped[date] = mapped_column(Date)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    level: Mapped[str] = mapped_column(String(20))
    area_code: Mapped[str] = mapped_column(String(15))
    area_path: Mapped[str] = mapped_column(LTree)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id", ondelete="CASCADE"))
    expected: Mapped[float] = mapped_column(Float)
    low: Mapped[int] = mapped_column(Integer)
    high: Mapped[int] = mapped_column(Integer)
    last_observed: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("city_id", "horizon", "level", "area_code", "category_id"),
        CheckConstraint("horizon IN ('week', 'month')", name="horizon"),
        CheckConstraint("level IN ('village', 'street', 'district')", name="level"),
        CheckConstraint("period_end >= period_start AND period_start > cutoff", name="period"),
        CheckConstraint("low <= high AND expected >= 0", name="interval"),
        Index("ix_forecast_horizon_level_expected", "horizon", "level", "expected"),
        Index("ix_forecast_area_path", "area_path", postgresql_using="gist"),
    )
