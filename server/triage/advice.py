"""The dispatch form's advice (派遣建议): for a case's category in its district, the departments to send it
to (the taxonomy's, then those the triage model learned from closed cases) and how each department that
received such cases lately dealt with them: dispatched as lead, returned (回退), the return rate."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from server.case.models import Case, CaseDispatch, CaseEvent
from server.category import service as category_service
from server.category.models import Category, Department
from server.config import get_settings
from server.triage import service as triage_service
from server.triage.schemas import DepartmentRecord, DispatchAdvice, SuggestedDepartment

WARN_RETURNS = 3  # a warning needs at least this many returns, whatever the rate


def _records(db: Session, case: Case) -> list[DepartmentRecord]:
    """Per department, the lead dispatches of the district's cases of this category in the period and the
    returns among them (a return ends its lead dispatch at the instant of its event)."""
    settings = get_settings()
    since = func.now() - timedelta(days=settings.dispatch_advice_days)
    returned = (
        select(CaseEvent.id)
        .where(CaseEvent.case_id == CaseDispatch.case_id, CaseEvent.at == CaseDispatch.ended_at)
        .where(CaseEvent.action == "return")
        .exists()
    )
    rows = db.execute(
        select(Department.code, Department.name, func.count(), func.count().filter(returned))
        .select_from(CaseDispatch)
        .join(Case, Case.id == CaseDispatch.case_id)
        .join(Department, Department.id == CaseDispatch.department_id)
        .where(CaseDispatch.lead, CaseDispatch.dispatched_at >= since)
        .where(and_(Case.category_id == case.category_id, Case.district_code == case.district_code))
        .group_by(Department.code, Department.name)
    ).all()
    records = [
        DepartmentRecord(
            code=code,
            name=name,
            dispatched=dispatched,
            returned=returns,
            return_rate=returns / dispatched,
            warn=returns >= WARN_RETURNS and returns / dispatched >= settings.dispatch_advice_return_warn,
        )
        for code, name, dispatched, returns in rows
    ]
    return sorted(records, key=lambda r: (-r.returned, -r.return_rate, r.code))


def _suggested(db: Session, case: Case) -> list[SuggestedDepartment]:
    """The configured department (district override applied) first, then the learned ones by share."""
    category = db.get(Category, case.category_id)
    configured = category_service.responsible_department(
        db=db, category=category, district_code=case.district_code
    )
    shares = dict(
        triage_service.likely_departments(
            db=db, category_id=case.category_id, district_code=case.district_code
        )
    )
    codes = ([configured.code] if configured else []) + sorted(
        (c for c in shares if not configured or c != configured.code), key=lambda c: -shares[c]
    )
    names = dict(
        db.execute(
            select(Department.code, Department.name).where(Department.code.in_(codes), Department.active)
        ).all()
    )
    return [
        SuggestedDepartment(
            code=code,
            name=names[code],
            configured=configured is not None and code == configured.code,
            share=shares.get(code),
        )
        for code in codes
        if code in names
    ]


def dispatch_advice(*, db: Session, case: Case) -> DispatchAdvice:
    return DispatchAdvice(
        days=get_settings().dispatch_advice_days, suggested=_suggested(db, case), records=_records(db, case)
    )
