"""The standard address register: the city's 门牌 (house numbers), 楼栋 (buildings) and 兴趣点 (points of
interest such as schools, malls and hospitals), each with its parts, aliases, a point and the deepest grid
holding it. Rows are upserted by the register's own id (``register_id``)."""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    Identity,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from server.database import Base
from server.tenant import CityOwned

KINDS = {"house": "门牌", "building": "楼栋", "poi": "兴趣点"}
# the parts of an address, in the order they are written
PARTS = ("district", "street", "community", "road", "house_number", "building", "unit")
DOC = (
    "address_search_doc(ARRAY[name, address_text, district, street, community, road, house_number, building, "
    "unit]::text[] || aliases::text[])"
)


class Address(CityOwned, Base):
    __tablename__ = "address"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    register_id: Mapped[str] = mapped_column(String(64))  # unique in its city
    name: Mapped[str | None] = mapped_column(String(100))  # a building's or a place's name
    address_text: Mapped[str] = mapped_column(Text)  # the full address as the register writes it
    district: Mapped[str | None] = mapped_column(String(50))
    street: Mapped[str | None] = mapped_column(String(50))  # 街道 or 镇
    community: Mapped[str | None] = mapped_column(String(50))
    road: Mapped[str | None] = mapped_column(String(50))
    house_number: Mapped[str | None] = mapped_column(String(30))
    building: Mapped[str | None] = mapped_column(String(50))
    unit: Mapped[str | None] = mapped_column(String(30))
    kind: Mapped[str] = mapped_column(String(10))
    aliases: Mapped[list[str]] = mapped_column(ARRAY(String(100)), server_default="{}")
    approximate: Mapped[bool] = mapped_column(Boolean, server_default="false")  # a position not surveyed
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=False), nullable=False)
    grid_code: Mapped[str | None] = mapped_column(String(15))  # NULL: outside every grid
    # what search reads: the normalised name, text, parts and aliases, and their bigrams (migration 0018)
    doc: Mapped[str | None] = mapped_column(Text, Computed(DOC, persisted=True), deferred=True)
    search_grams: Mapped[list[str] | None] = mapped_column(
        ARRAY(Text), Computed(f"address_search_grams({DOC})", persisted=True), deferred=True
    )
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # the order of changes (an import sets the next value on every row it writes): the phone's copy follows it
    change_seq: Mapped[int] = mapped_column(BigInteger, server_default=text("nextval('address_change_seq')"))

    __table_args__ = (
        CheckConstraint("kind IN ('house', 'building', 'poi')", name="kind"),
        UniqueConstraint("city_id", "register_id"),
        Index("ix_address_geom", "geom", postgresql_using="gist"),
        Index("ix_address_search_grams", "search_grams", postgresql_using="gin"),
        Index("ix_address_grid_code", "grid_code"),
        Index("ix_address_change_seq", "change_seq"),
    )

    @property
    def label(self) -> str:
        """How a person names it: a place by its name, else the address."""
        return self.name or self.address_text
