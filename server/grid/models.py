"""The grid store: versioned grids and who is responsible for them."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ColumnElement,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    and_,
    false,
    func,
    or_,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.config import get_settings
from server.database import Base
from server.tenant import CityOwned
from server.types import LTree


class GridLayer(Base):
    """A grid layer (网格图层): one hierarchy of grids over the city (grids.layers). The shared
    administrative grids have no layer; a layer's own grids (levels ``levels``, a level spec) carry its code.
    One layer is the default: locating, assignments and cases use it unless told otherwise."""

    __tablename__ = "grid_layer"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    description: Mapped[str] = mapped_column(String(200), server_default="")
    levels: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    is_default: Mapped[bool] = mapped_column(server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("code ~ '^[a-z][a-z0-9_]*$'", name="code"),
        Index("uq_grid_layer_default", "is_default", unique=True, postgresql_where=text("is_default")),
    )


class Grid(CityOwned, Base):
    """One version of a grid. The current version has ``valid_to`` NULL; a boundary or parent change
    closes the current version and adds a new one, so a case keeps the grid as it was when reported."""

    __tablename__ = "grid"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(15))
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(20))
    parent_code: Mapped[str | None] = mapped_column(String(15))
    # the layer whose own grid this is; NULL: a shared administrative grid (settings.shared_levels)
    layer: Mapped[str | None] = mapped_column(ForeignKey("grid_layer.code", ondelete="RESTRICT"))
    path: Mapped[str] = mapped_column(LTree)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False)
    area_m2: Mapped[float] = mapped_column(Float)
    # resident population (常住人口); NULL: not known here, the sum of the children's counts instead
    # (server.grid.population)
    population: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(server_default="1")
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index(
            "uq_grid_code_current", "city_id", "code", unique=True, postgresql_where=text("valid_to IS NULL")
        ),
        Index("ix_grid_parent_code_current", "parent_code", postgresql_where=text("valid_to IS NULL")),
        Index("ix_grid_layer_current", "layer", postgresql_where=text("valid_to IS NULL")),
        Index("ix_grid_geom", "geom", postgresql_using="gist"),
        Index("ix_grid_path", "path", postgresql_using="gist"),
        CheckConstraint("code ~ '^[0-9]+$'", name="code_digits"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="valid_period"),
        CheckConstraint("population >= 0", name="population"),
    )


class GridAssignment(CityOwned, Base):
    """A person responsible for a grid over a period: its head (one at a time) or one of its inspectors.

    The period runs from ``starts_on`` to ``ends_on``, both included (``ends_on`` is the last day; NULL:
    no end set), in local dates (``settings.timezone``). ``in_force`` is the one test of "current". An
    assignment handed over on its first day ends the day before it starts (``ends_on = starts_on - 1``): it
    was never in force, and its history stays."""

    __tablename__ = "grid_assignment"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    grid_code: Mapped[str] = mapped_column(String(15))
    # the layer the person works in: an own grid's layer, or for a shared grid the layer chosen (one
    # village has a head in 城市管理网格 and another in 生态环境网格)
    layer: Mapped[str] = mapped_column(ForeignKey("grid_layer.code", ondelete="RESTRICT"))
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))
    role: Mapped[str] = mapped_column(String(20))
    starts_on: Mapped[date] = mapped_column(Date, server_default=func.current_date())
    ends_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("role IN ('head', 'inspector')", name="role"),
        CheckConstraint("ends_on IS NULL OR ends_on >= starts_on - 1", name="period"),
        Index(
            "uq_grid_assignment_one_head",
            "city_id",
            "layer",
            "grid_code",
            unique=True,
            postgresql_where=text("role = 'head' AND ends_on IS NULL"),
        ),
        Index("ix_grid_assignment_grid_code", "grid_code"),
        Index("ix_grid_assignment_user_id", "user_id"),
    )


class GridPart(CityOwned, Base):
    """The lookup index, kept by the import per layer: each current grid's area not covered by its current
    children of the layer (shared or the layer's own; a shared grid with no own grids of any layer under
    it once for all layers, ``layer`` NULL),
    cut along a regular grid of cells (``LOOKUP_CELL_DEG``) and into pieces of at most 64 vertices. Every
    point lies in the pieces of one grid, the deepest holding it; a lookup reads the few pieces of the
    point's cell through a b-tree, cheaper than a GiST probe, and tests them with ``ST_Covers``."""

    __tablename__ = "grid_part"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id", ondelete="CASCADE"))
    # the layer whose lookup this part serves; NULL: every layer's (a shared grid without own grids of any
    # layer under it is cut the same in all of them)
    layer: Mapped[str | None] = mapped_column(ForeignKey("grid_layer.code", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(15))
    depth: Mapped[int] = mapped_column(SmallInteger)
    cell_i: Mapped[int]
    cell_j: Mapped[int]
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False)

    __table_args__ = (
        Index("ix_grid_part_cell_i_cell_j", "cell_i", "cell_j"),
        Index("ix_grid_part_grid_id", "grid_id"),
    )


CURRENT = Grid.valid_to.is_(None)  # the current versions


def today() -> date:
    """Today's date in the city's time zone (``settings.timezone``)."""
    return datetime.now(ZoneInfo(get_settings().timezone)).date()


def day_start(day: date) -> datetime:
    """The instant local ``day`` begins in the city's time zone (``settings.timezone``)."""
    return datetime.combine(day, time(), tzinfo=ZoneInfo(get_settings().timezone))


def not_ended_before(day: date) -> ColumnElement[bool]:
    """The SQL condition on ``GridAssignment`` for the assignments not ended before ``day``: in force on
    ``day`` or after it (what a new assignment from ``day`` on would overlap)."""
    return or_(GridAssignment.ends_on.is_(None), GridAssignment.ends_on >= day)


def in_force(day: date) -> ColumnElement[bool]:
    """The SQL condition on ``GridAssignment`` for the assignments in force on ``day``: started on or
    before it, ending on or after it. Whatever means "the current assignments" uses this, with ``today()``."""
    return and_(GridAssignment.starts_on <= day, not_ended_before(day))
