"""Triage routes: suggestions for a report being written (staff, and the public form's own, which says
nothing of other cases), and the city's model versions (train, list, put one back in use)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from server.auth.dependencies import CurrentUser, require_roles
from server.case import queries
from server.case.views import CaseCode, ScopeDep
from server.deps import DB
from server.triage import advice, service
from server.triage.schemas import (
    DispatchAdvice,
    ModelOut,
    PublicSuggestIn,
    PublicSuggestOut,
    SuggestIn,
    SuggestOut,
    TrainIn,
)

SUGGESTED_TO = ("acceptor", "shift_lead", "dispatcher", "leader", "inspector", "admin")
router = APIRouter(prefix="/triage", tags=["triage"])
public_router = APIRouter(prefix="/public", tags=["public"])
cases_router = APIRouter(prefix="/cases", tags=["cases"])
Version = Annotated[int, Path(ge=1, le=1_000_000, description="The model's version")]


@router.post(
    "/suggest",
    response_model=SuggestOut,
    summary="Categories, urgency, departments, nearby duplicates and answers for a report's words",
    dependencies=[require_roles(*SUGGESTED_TO)],
)
def suggest(body: SuggestIn, scope: ScopeDep, db: DB):
    return service.suggest(db=db, data=body, scope=scope)


@public_router.post(
    "/triage",
    response_model=PublicSuggestOut,
    summary="The public form's categories likeliest for a citizen's words (and place); no login",
)
def public_suggest(body: PublicSuggestIn, db: DB):
    return PublicSuggestOut(categories=service.public_suggest(db=db, data=body))


@router.get(
    "/models",
    response_model=list[ModelOut],
    summary="The city's trained model versions, newest first, with the one in use",
    dependencies=[require_roles("admin", "shift_lead", "leader")],
)
def models(db: DB):
    return service.versions(db=db)


@router.post(
    "/train",
    response_model=ModelOut,
    summary="Train the city's model on its closed cases now and put the new version in use",
    dependencies=[require_roles("admin")],
)
def train(body: TrainIn, principal: CurrentUser, db: DB):
    return service.train(db=db, trained_by=principal.name, note=body.note)


@router.post(
    "/models/{version}/activate",
    response_model=ModelOut,
    summary="Put a kept version back in use (roll back a training)",
    responses={404: {"description": "No such version kept"}},
    dependencies=[require_roles("admin")],
)
def activate(version: Version, db: DB):
    return service.activate(db=db, version=version)


@cases_router.get(
    "/{code}/dispatch-advice",
    response_model=DispatchAdvice,
    summary="Dispatch advice for this case's category in its district: the departments suggested, and each "
    "department's returns (回退) of such cases lately, with a warning for those that return them often",
    dependencies=[require_roles("dispatcher", "shift_lead", "admin")],
)
def dispatch_advice(code: CaseCode, scope: ScopeDep, db: DB):
    case = queries.get_case(db=db, scope=scope, code=code)
    return advice.dispatch_advice(db=db, case=case)
