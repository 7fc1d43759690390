"""The knowledge base (知识库): answer templates for the desk, per category and per frequent question, with
placeholders for the case's fields, and how often each was used."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Identity, Integer, String, Text, func, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.category.models import Category
from server.database import Base
from server.tenant import CityOwned


class AnswerTemplate(CityOwned, Base):
    """An answer the desk gives: for a category (any question about it) or for a frequent question (常见问题,
    ``question``: how callers put it, searched with the title), or both. ``body`` may hold placeholders such
    as {案件编号} that are filled from the case answered. Deactivated, never deleted (answers name it)."""

    __tablename__ = "answer_template"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    question: Mapped[str] = mapped_column(Text, server_default="")
    body: Mapped[str] = mapped_column(Text)
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("category.id", ondelete="RESTRICT"), index=True
    )
    request_type: Mapped[str | None] = mapped_column(ForeignKey("request_type.code", ondelete="RESTRICT"))
    active: Mapped[bool] = mapped_column(server_default=true())
    use_count: Mapped[int] = mapped_column(Integer, server_default="0")
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    category: Mapped[Category | None] = relationship()
