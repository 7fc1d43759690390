"""The audit trail: one ``case_event`` per thing done to a case, who did it in which role, and the
database's clock every write is stamped with."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.auth.principal import Principal
from server.case.models import Case, CaseEvent

SYSTEM_ACTOR = "系统"


def db_now(db: Session, at: datetime | None) -> datetime:
    return at or db.scalar(select(func.clock_timestamp()))


def record_event(
    db: Session,
    case: Case,
    principal: Principal | None,
    action: str,
    state_before: str | None,
    at: datetime,
    *,
    role: str | None = None,
    note: str | None = None,
    location: tuple[float, float] | None = None,
    photo_ids: list[int] | None = None,
    data: dict | None = None,
) -> CaseEvent:
    event = CaseEvent(
        case_id=case.id,
        at=at,
        actor_id=principal.user_id if principal else None,
        actor_name=principal.name if principal else SYSTEM_ACTOR,
        role=role,
        action=action,
        state_before=state_before,
        state_after=case.state,
        note=note,
        location=func.ST_Point(*location, 4326) if location else None,
        photo_ids=photo_ids or [],
        due_at=case.step_due_at,
        data=data or {},
    )
    db.add(event)
    return event
