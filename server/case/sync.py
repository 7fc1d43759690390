"""The inspectors' phone sync: cases changed since a cursor, and the grids of their scope."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session, defer

from server.auth.principal import Principal
from server.case.models import Case, CaseEvent, CasePhoto
from server.case.present import describe, photo_out
from server.case.schemas import SyncCases, TaskOut
from server.case.scope import Scope
from server.case.states import State
from server.config import get_settings
from server.grid.layers import get_layer, of_layer
from server.grid.models import CURRENT, Grid, GridLayer
from server.grid.subtree import within

TASK_KINDS = {State.VERIFYING: "verification", State.CHECKING: "check"}  # the phone's two tasks
CHANGE_LOCK = 7472660  # the advisory lock every case write holds shared until commit (migration 0004)


def changed_since(*, db: Session, principal: Principal, kind: str, since: int, limit: int) -> list[Case]:
    """My tasks (verification and check tasks given to me) or my reports, changed after cursor ``since``
    (a case's ``change_seq``), oldest change first.

    Change numbers are taken when a write happens, not when it commits: reading while a lower number is
    still uncommitted would move the cursor past it for good. So the read waits, on an exclusive advisory
    lock, for the writes in flight to commit, and holds new ones back for the length of one query."""
    mine = Case.task_assignee_id if kind == "tasks" else Case.reporter_id
    query = (
        select(Case)
        .where(mine == principal.user_id, Case.change_seq > since)
        .order_by(Case.change_seq)
        .limit(limit)
    )
    db.execute(select(func.pg_advisory_lock(CHANGE_LOCK)))
    try:
        return list(db.scalars(query))
    finally:
        db.execute(select(func.pg_advisory_unlock(CHANGE_LOCK)))


def sync_cases(*, db: Session, principal: Principal, kind: str, since: int, limit: int) -> SyncCases:
    """The phone's answer: at most ``limit`` of my tasks or reports changed after ``since``, described, with
    their photos and the department's last handling note (read in one query each), whether each is a task
    of mine to do now, and the next cursor."""
    cases = changed_since(db=db, principal=principal, kind=kind, since=since, limit=limit + 1)
    more, cases = len(cases) > limit, cases[:limit]
    photos: dict[int, list[CasePhoto]] = {case.id: [] for case in cases}
    query = select(CasePhoto).where(CasePhoto.case_id.in_(photos)).order_by(CasePhoto.id)
    for photo in db.scalars(query) if cases else ():
        photos[photo.case_id].append(photo)
    handled = (
        select(CaseEvent.case_id, CaseEvent.note)
        .where(CaseEvent.case_id.in_(photos), CaseEvent.action == "report_handling")
        .ext(distinct_on(CaseEvent.case_id))
        .order_by(CaseEvent.case_id, CaseEvent.at.desc(), CaseEvent.id.desc())
    )
    notes = dict(db.execute(handled).all()) if cases else {}
    items = []
    for summary, case in zip(describe(db=db, cases=cases), cases, strict=True):
        task_kind = TASK_KINDS.get(State(case.state))
        active = task_kind is not None and case.task_assignee_id == principal.user_id
        shown = [photo_out(p) for p in photos[case.id]]
        items.append(
            TaskOut(
                **summary.model_dump(),
                kind=task_kind,
                active=active,
                photos=shown,
                handling_note=notes.get(case.id),
            )
        )
    return SyncCases(
        cursor=cases[-1].change_seq if cases else since,
        more=more,
        items=items,
        photo_far_m=get_settings().photo_geotag_max_m,
    )


def my_layers(*, db: Session, scope: Scope) -> list[GridLayer]:
    """The grid layers I work in: the default one, and those of my assignments in the others."""
    codes = {layer for layer, _ in scope.layer_paths}
    query = select(GridLayer).where(GridLayer.is_default | GridLayer.code.in_(codes))
    return list(db.scalars(query.order_by(GridLayer.position, GridLayer.code)))


def my_grids(*, db: Session, scope: Scope, since: datetime | None) -> tuple[dict[str, list[str]], list[Grid]]:
    """The codes of every current grid in my grid subtrees by layer (my default-layer subtrees hold the
    shared grids and the default layer's own, those of another layer the shared grids and that layer's: a
    shared grid is in a layer's list only when an assignment in that layer brings it), and the grids of
    them all changed after ``since``."""
    default = get_layer(db=db).code
    paths: dict[str, list[str]] = {default: list(scope.grid_paths)} if scope.grid_paths else {}
    for layer, path in scope.layer_paths:
        paths.setdefault(layer, []).append(path)
    areas = {layer: and_(within(Grid.path, p), of_layer(layer)) for layer, p in paths.items()}
    if not areas:
        return {}, []
    codes = {
        layer: list(db.scalars(select(Grid.code).where(CURRENT, area).order_by(Grid.path)))
        for layer, area in areas.items()
    }
    query = select(Grid).options(defer(Grid.geom)).where(CURRENT, or_(*areas.values())).order_by(Grid.path)
    if since is not None:
        query = query.where(Grid.valid_from > since)
    return codes, list(db.scalars(query))
