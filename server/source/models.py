"""The pollution-source register (污染源台账): each source with the register's own code (``code``: a
re-import updates by it), a kind (``grids.sources.KINDS``), an address, a point and the grid member
responsible for it."""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from grids.sources import KINDS
from server.database import Base
from server.tenant import CityOwned


class PollutionSource(CityOwned, Base):
    __tablename__ = "pollution_source"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(64))  # the register's own id, unique in its city
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))
    address: Mapped[str] = mapped_column(String(200))
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=False), nullable=False)
    responsible_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))
    notes: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in KINDS) + ")", name="kind"),
        UniqueConstraint("city_id", "code"),
        Index("ix_pollution_source_geom", "geom", postgresql_using="gist"),
        Index("ix_pollution_source_responsible_id", "responsible_id"),
    )
