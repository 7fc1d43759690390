"""The city's triage models: each training writes a new version; one version per city is in use, and the
versions before it are kept (a few) so that a bad training can be rolled back."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from server.database import Base
from server.tenant import CityOwned


class TriageModel(CityOwned, Base):
    """One trained version: what it learned from, how it scored on the cases held out, and the model itself
    (``model``: the arrays of ``server.triage.model``, never loaded with the row unless asked)."""

    __tablename__ = "triage_model"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)  # 1, 2, ... in its city
    trained_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("now()"))
    trained_by: Mapped[str] = mapped_column(String(100))  # who asked for it, or the daily schedule
    cases: Mapped[int] = mapped_column(Integer)  # closed cases learned from
    categories: Mapped[int] = mapped_column(Integer)
    features: Mapped[int] = mapped_column(Integer)
    # the training's own figures (seconds, the held-out accuracy): shown with the version
    metrics: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    model: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    active: Mapped[bool] = mapped_column(server_default=false())
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("city_id", "version"),
        Index("uq_triage_model_active", "city_id", unique=True, postgresql_where=text("active")),
    )
