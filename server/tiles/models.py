"""The case summary behind the cluster tiles, kept by a trigger on ``case_file`` (migration 0006)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Integer, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from server.database import Base
from server.tenant import CityOwned
from server.types import LTree

# The summary's grid dimension: a case's grid path cut to this many levels (city, district, street).
CELL_PATH_DEPTH = 3


class CaseCell(CityOwned, Base):
    """The cases of one zoom-17 Web Mercator tile (``case_file.cell_x``, ``cell_y``) in one state and one
    street (the grid path cut to ``CELL_PATH_DEPTH`` levels): how many, the sums of their Web Mercator
    coordinates (for the centroid) and their earliest due and yellow instants. A trigger on ``case_file``
    recomputes a row from the cases whenever one of them is written, in the same transaction."""

    __tablename__ = "case_cell"

    cell_x: Mapped[int] = mapped_column(Integer)
    cell_y: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    grid_path: Mapped[str] = mapped_column(LTree)
    count: Mapped[int] = mapped_column(Integer)
    sum_x: Mapped[float] = mapped_column(Float)
    sum_y: Mapped[float] = mapped_column(Float)
    min_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    min_yellow_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (PrimaryKeyConstraint("cell_x", "cell_y", "state", "grid_path", "city_id"),)
