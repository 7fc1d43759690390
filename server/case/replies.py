"""A reply to a caller filled from the case answered: the knowledge base's placeholders
(``server.knowledge.service.PLACEHOLDERS``), each read from the case."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.case.callers import mask_name
from server.case.clock import calendar, handling_limit
from server.case.models import Case
from server.category.models import Category, Department
from server.config import get_settings
from server.knowledge import service as knowledge
from server.worktime.calendar import duration_words


def _category_name(db: Session, case: Case) -> str | None:
    return db.scalar(select(Category.name).where(Category.id == case.category_id))


def _department_name(db: Session, case: Case) -> str | None:
    if case.department_id is None:
        return None
    return db.scalar(select(Department.name).where(Department.id == case.department_id))


def _received(db: Session, case: Case) -> str:
    local = case.received_at.astimezone(ZoneInfo(get_settings().timezone))
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def _limit_words(db: Session, case: Case) -> str:
    cal = calendar(case.clock)
    minutes = cal.parse_limit(handling_limit(case, db.get(Category, case.category_id), cal))
    return duration_words(minutes, None if case.clock == "natural" else cal.day_minutes())


# How each placeholder is read from a case (None: the case has no value).
VALUES: dict[str, Callable[[Session, Case], str | None]] = {
    "案件编号": lambda db, case: case.code,
    "问题类别": _category_name,
    "地点": lambda db, case: case.address,
    "受理时间": _received,
    "来电人": lambda db, case: mask_name(case.reporter_name),  # the public reads the answer
    "承办部门": _department_name,
    "处置时限": _limit_words,
}


def reply(*, db: Session, case: Case, text: str) -> str:
    """``text`` with its placeholders filled from ``case`` (422 for an unknown placeholder)."""
    return knowledge.fill(text, lambda name: VALUES[name](db, case))
