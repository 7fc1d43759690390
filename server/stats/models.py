"""The dashboards' summaries, kept up to date by triggers on ``case_file`` and ``case_event`` (migration
0007) from the roll-ups of ``server.stats.sql``.

Area keys: ``path`` is a grid path cut to ``depth`` labels (city 1, district 2, street 3, village 4) and a
case counts at every level of its path; ``department_id`` is the case's lead department, or 0 for all
departments (every case counts there once). A key whose cases all left it keeps a row of zeros until the
next rebuild."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, Index, Integer, PrimaryKeyConstraint, SmallInteger
from sqlalchemy.orm import Mapped, mapped_column

from server.database import Base
from server.tenant import CityOwned
from server.types import LTree


def _count() -> Mapped[int]:
    return mapped_column(Integer, server_default="0")


class StatsAreaDay(CityOwned, Base):
    """The cohort's counts by area, local day of receipt and department (see ``sql.CASE_MEASURES``)."""

    __tablename__ = "stats_area_day"

    path: Mapped[str] = mapped_column(LTree)
    depth: Mapped[int] = mapped_column(SmallInteger)
    day: Mapped[date] = mapped_column(Date)
    department_id: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = _count()
    due: Mapped[int] = _count()
    closed: Mapped[int] = _count()
    closed_on_time: Mapped[int] = _count()
    handled_on_time: Mapped[int] = _count()
    reworked: Mapped[int] = _count()
    due_by_others: Mapped[int] = _count()

    __table_args__ = (
        PrimaryKeyConstraint("path", "depth", "day", "department_id", "city_id"),
        Index("ix_stats_area_day_depth_department_id_day", "depth", "department_id", "day"),
    )


class StatsCategoryDay(CityOwned, Base):
    """Cases received by area (down to streets), local day, category and department."""

    __tablename__ = "stats_category_day"

    path: Mapped[str] = mapped_column(LTree)
    depth: Mapped[int] = mapped_column(SmallInteger)
    day: Mapped[date] = mapped_column(Date)
    category_id: Mapped[int] = mapped_column(BigInteger)
    department_id: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = _count()

    __table_args__ = (
        PrimaryKeyConstraint("path", "depth", "day", "category_id", "department_id", "city_id"),
    )


class StatsHourDay(CityOwned, Base):
    """Cases received by area (down to streets), local day, local hour of the day and department."""

    __tablename__ = "stats_hour_day"

    path: Mapped[str] = mapped_column(LTree)
    depth: Mapped[int] = mapped_column(SmallInteger)
    day: Mapped[date] = mapped_column(Date)
    hour: Mapped[int] = mapped_column(SmallInteger)
    department_id: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = _count()

    __table_args__ = (PrimaryKeyConstraint("path", "depth", "day", "hour", "department_id", "city_id"),)


class StatsInspectorDay(CityOwned, Base):
    """Per user and local day: own reports (channel inspector) and how many are filed, from the cases;
    replies to verification and check tasks and how many on time, from the audit trail."""

    __tablename__ = "stats_inspector_day"

    user_id: Mapped[int] = mapped_column(BigInteger)
    day: Mapped[date] = mapped_column(Date)
    reported: Mapped[int] = _count()
    valid: Mapped[int] = _count()
    verifications: Mapped[int] = _count()
    verifications_on_time: Mapped[int] = _count()
    checks: Mapped[int] = _count()
    checks_on_time: Mapped[int] = _count()

    __table_args__ = (PrimaryKeyConstraint("user_id", "day", "city_id"),)
