"""Warning routes: the warnings a user sees, one with its trail, its steps (seen, reminder letter,
acknowledged, closed) and the letter as a printable page."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.anticipate.signals import KINDS
from server.auth.dependencies import require_roles
from server.auth.principal import Principal
from server.case.views import ScopeDep
from server.category.models import Category
from server.deps import DB
from server.errors import NotFound
from server.grid import service as grid_service
from server.stats.request import DASHBOARD_ROLES
from server.warning import service
from server.warning.models import STATE_NAMES, STATES, Warning
from server.warning.schemas import (
    WarningCloseIn,
    WarningEventOut,
    WarningLetterIn,
    WarningList,
    WarningOut,
    WarningReplyIn,
)

router = APIRouter(prefix="/warnings", tags=["warnings"])
Viewer = Annotated[Principal, require_roles(*DASHBOARD_ROLES)]
Command = Annotated[Principal, require_roles(*service.COMMAND_ROLES)]
Closer = Annotated[Principal, require_roles(*service.CLOSE_ROLES)]
Addressee = Annotated[Principal, require_roles(*service.ACK_ROLES)]
WarningId = Annotated[int, Path(ge=1, le=2**62, description="The warning's id")]
NOT_FOUND = {404: {"description": "No such warning in your scope"}}


def describe(
    db: Session, principal: Principal, warnings: list[Warning], *, trail: bool = False
) -> list[WarningOut]:
    ids = {w.category_id for w in warnings}
    categories = {c.id: c for c in db.scalars(select(Category).where(Category.id.in_(ids)))} if ids else {}
    out = []
    for w in warnings:
        category = categories[w.category_id]
        out.append(
            WarningOut.model_validate(
                {
                    **{k: getattr(w, k) for k in WarningOut.model_fields if hasattr(w, k) and k != "trail"},
                    "kind_name": KINDS[w.kind],
                    "state_name": STATE_NAMES[w.state],
                    "category_code": category.code,
                    "category_name": category.name,
                    "can_acknowledge": w.state == "letter" and service.is_addressee(db, principal, w),
                    "trail": [
                        WarningEventOut.model_validate(e, from_attributes=True) for e in service.trail(db, w)
                    ]
                    if trail
                    else None,
                }
            )
        )
    return out


@router.get(
    "", response_model=WarningList, summary="The warnings you see, newest first (open ones by default)"
)
def list_warnings(
    principal: Viewer,
    scope: ScopeDep,
    db: DB,
    state: Annotated[
        list[Literal[STATES]] | None,  # type: ignore[valid-type]
        Query(max_length=len(STATES), description="States to list; default every open state"),
    ] = None,
    kind: Annotated[Literal["surge", "persistent"] | None, Query(description="突增高频 or 长期高频")] = None,
    grid: Annotated[
        str | None, Query(pattern=r"^[0-9]{6,15}$", description="Only areas in this grid's subtree")
    ] = None,
):
    path = grid_service.get_grid(db=db, code=grid).path if grid else None
    warnings = service.listing(db, scope, states=state or service.OPEN, kind=kind, grid_path=path)
    return WarningList(items=describe(db, principal, warnings))


@router.get(
    "/{warning_id}", response_model=WarningOut, summary="One warning with its trail", responses=NOT_FOUND
)
def one_warning(warning_id: WarningId, principal: Viewer, scope: ScopeDep, db: DB):
    return describe(db, principal, [service.get(db, scope, warning_id)], trail=True)[0]


@router.post(
    "/{warning_id}/seen",
    response_model=WarningOut,
    summary="Mark a warning seen by the command center",
    responses={**NOT_FOUND, 409: {"description": "Already seen, or closed"}},
)
def seen(warning_id: WarningId, principal: Command, scope: ScopeDep, db: DB):
    return describe(db, principal, [service.mark_seen(db, principal, scope, warning_id)])[0]


@router.post(
    "/{warning_id}/letter",
    response_model=WarningOut,
    summary="Send the reminder letter (提醒函) to the responsible street or department",
    responses={
        **NOT_FOUND,
        409: {"description": "A letter was already sent, or the warning is closed"},
        422: {"description": "The category has no responsible department in the district"},
    },
)
def letter(warning_id: WarningId, body: WarningLetterIn, principal: Command, scope: ScopeDep, db: DB):
    warning = service.send_letter(db, principal, scope, warning_id, to=body.addressee)
    return describe(db, principal, [warning])[0]


@router.post(
    "/{warning_id}/acknowledge",
    response_model=WarningOut,
    summary="Acknowledge a reminder letter with a reply (its addressee)",
    responses={
        **NOT_FOUND,
        403: {"description": "You are not the letter's addressee"},
        409: {"description": "No letter yet, already acknowledged, or closed"},
    },
)
def acknowledge(warning_id: WarningId, body: WarningReplyIn, principal: Addressee, scope: ScopeDep, db: DB):
    warning = service.acknowledge(db, principal, scope, warning_id, reply=body.reply)
    return describe(db, principal, [warning])[0]


@router.post(
    "/{warning_id}/close",
    response_model=WarningOut,
    summary="Close a warning with a reason (shift leads, leaders)",
    responses={**NOT_FOUND, 409: {"description": "Already closed"}},
)
def close(warning_id: WarningId, body: WarningCloseIn, principal: Closer, scope: ScopeDep, db: DB):
    return describe(db, principal, [service.close(db, principal, scope, warning_id, reason=body.reason)])[0]


@router.get(
    "/{warning_id}/letter.html",
    response_class=HTMLResponse,
    summary="The reminder letter as sent, a printable page (A4)",
    responses={404: {"description": "No such warning in your scope, or no letter sent for it yet"}},
)
def letter_html(warning_id: WarningId, principal: Viewer, scope: ScopeDep, db: DB):
    html = service.get(db, scope, warning_id).letter_html
    if html is None:
        raise NotFound("warning.no_letter_yet")
    return HTMLResponse(html)
