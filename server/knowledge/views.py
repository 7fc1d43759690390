"""Knowledge-base routes: the desk reads and searches the answer templates; shift leads and administrators
keep them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from server.auth.dependencies import require_roles
from server.category.models import RequestType
from server.deps import DB
from server.knowledge import service
from server.knowledge.models import AnswerTemplate
from server.knowledge.schemas import (
    CODE_MAX,
    QUERY_MAX,
    TYPE_MAX,
    AnswerList,
    AnswerTemplateIn,
    AnswerTemplateOut,
    AnswerTemplateUpdate,
)

READERS = ("acceptor", "shift_lead", "dispatcher", "admin", "leader")
WRITERS = require_roles("shift_lead", "admin")
router = APIRouter(prefix="/answers", tags=["knowledge"], dependencies=[require_roles(*READERS)])


def template_out(db, found: service.Found | AnswerTemplate) -> AnswerTemplateOut:
    found = found if isinstance(found, service.Found) else service.Found(found, None)
    t = found.template
    category = t.category
    kind = db.get(RequestType, t.request_type) if t.request_type else None
    return AnswerTemplateOut(
        id=t.id, title=t.title, question=t.question, body=t.body,
        category=category.code if category else None, category_name=category.name if category else None,
        request_type=t.request_type, request_type_name=kind.name if kind else None, active=t.active,
        use_count=t.use_count, last_used_at=t.last_used_at, created_at=t.created_at, updated_at=t.updated_at,
        score=None if found.score is None else round(found.score, 3),
    )  # fmt: skip


@router.get(
    "",
    response_model=AnswerList,
    summary="Answer templates: those matching the caller's words first, then the most used",
    responses={404: {"description": "No such category"}},
)
def list_answers(
    db: DB,
    q: Annotated[str | None, Query(max_length=QUERY_MAX, description="The caller's words")] = None,
    category: Annotated[str | None, Query(max_length=CODE_MAX, description="A category code")] = None,
    request_type: Annotated[
        str | None, Query(max_length=TYPE_MAX, pattern=r"^[a-z_]+$", description="e.g. consult")
    ] = None,
    include_inactive: Annotated[bool, Query(description="Also the deactivated ones")] = False,
    limit: Annotated[int, Query(ge=1, le=service.MAX_LIMIT)] = 50,
):
    found, total = service.search(
        db=db, text=q, category=category, request_type=request_type, include_inactive=include_inactive,
        limit=limit,
    )  # fmt: skip
    return AnswerList(
        total=total, items=[template_out(db, f) for f in found], placeholders=service.placeholder_list()
    )


@router.get(
    "/{template_id}",
    response_model=AnswerTemplateOut,
    summary="One answer template",
    responses={404: {"description": "No such template"}},
)
def get_answer(template_id: int, db: DB):
    return template_out(db, service.get_template(db=db, template_id=template_id))


@router.post(
    "",
    response_model=AnswerTemplateOut,
    status_code=201,
    summary="Add an answer template (its body may hold the placeholders listed with the templates)",
    dependencies=[WRITERS],
    responses={404: {"description": "No such category"}, 422: {"description": "An unknown placeholder"}},
)
def add_answer(data: AnswerTemplateIn, db: DB):
    return template_out(db, service.create(db=db, data=data))


@router.patch(
    "/{template_id}",
    response_model=AnswerTemplateOut,
    summary="Change an answer template (what is left out stays; active true takes it back into use)",
    dependencies=[WRITERS],
    responses={
        404: {"description": "No such template or category"},
        422: {"description": "An unknown placeholder"},
    },
)
def update_answer(template_id: int, data: AnswerTemplateUpdate, db: DB):
    return template_out(db, service.update(db=db, template_id=template_id, data=data))


@router.post(
    "/{template_id}/deactivate",
    response_model=AnswerTemplateOut,
    summary="Take an answer template out of use (kept: cases answered with it name it)",
    dependencies=[WRITERS],
    responses={404: {"description": "No such template"}},
)
def deactivate_answer(template_id: int, db: DB):
    return template_out(db, service.deactivate(db=db, template_id=template_id))
