"""What a user may see: the grid subtrees it is bound to, and the cases dispatched to its department.

- An administrator sees the whole city.
- The city-wide roles (``CITY_WIDE_ROLES``: command-center staff and leaders) see the whole city, or the
  subtree of their home grid (``user.grid_code``) when they have one. Assignments never widen or narrow
  this: city-wide scope comes from the role, never from the absence of an assignment.
- Everyone else (grid heads, inspectors) sees the subtrees of their home grid and of the grids they head
  or patrol by an assignment in force today (``server.grid.models.in_force``: from its first to its last
  day, both included, local dates). A grid head with no assignment in force and no home grid sees no grid.
  An assignment in another grid layer than the default one (生态环境网格, 责任网格) covers the cases whose
  grid in that layer (``CaseLayerGrid``, recorded at intake) lies in the assigned grid's subtree.
- A department user sees the cases ever dispatched to its department.
- Everyone sees the cases they reported and the tasks given to them.

Every case query goes through ``visible``, so a list never shows what a detail would refuse."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.orm import Session

from server.auth.principal import Principal
from server.case import tiers
from server.case.models import Case, CaseDispatch, CaseLayerGrid
from server.case.states import State
from server.category.models import Department
from server.grid.models import CURRENT, Grid, GridAssignment, GridLayer, in_force, today
from server.grid.subtree import path_within, within

CITY_WIDE_ROLES = frozenset({"acceptor", "shift_lead", "dispatcher", "leader"})


@dataclass(frozen=True)
class Scope:
    user_id: int | None
    everything: bool
    grid_paths: tuple[str, ...]
    department_id: int | None
    # the dispatch center whose cases a dispatcher dispatches (server.case.tiers): a center's grid code,
    # None the top center, tiers.EVERY for an administrator
    dispatch_center: str | None = None
    # (layer, path) of the grids assigned in the other grid layers than the default one
    layer_paths: tuple[tuple[str, str], ...] = ()


def scope_of(*, db: Session, principal: Principal) -> Scope:
    if principal.has("admin"):
        return Scope(principal.user_id, True, (), None, tiers.EVERY)
    user = principal.user
    department_id = None
    if user.department_code and principal.has("department"):
        department_id = db.scalar(select(Department.id).where(Department.code == user.department_code))
    if principal.has(*CITY_WIDE_ROLES) and not user.grid_code:
        return Scope(user.id, True, (), department_id)
    assigned = db.execute(
        select(GridAssignment.layer, GridLayer.is_default, Grid.path)
        .join(GridLayer, GridLayer.code == GridAssignment.layer)
        .join(Grid, (Grid.code == GridAssignment.grid_code) & CURRENT)
        .where(GridAssignment.user_id == user.id, in_force(today()))
    ).all()
    paths = {path for _, is_default, path in assigned if is_default}
    if user.grid_code:
        paths.update(db.scalars(select(Grid.path).where(CURRENT, Grid.code == user.grid_code)))
    layer_paths = tuple(sorted({(layer, path) for layer, is_default, path in assigned if not is_default}))
    center = tiers.center_of(db, user.grid_code) if principal.has("dispatcher") else None
    return Scope(user.id, False, tuple(sorted(paths)), department_id, center, layer_paths)


def visible(scope: Scope) -> ColumnElement[bool]:
    """The SQL condition on ``Case`` for the cases this scope may see."""
    if scope.everything:
        return true()
    terms = [within(Case.grid_path, scope.grid_paths)] if scope.grid_paths else []
    if scope.layer_paths:
        in_layers = [
            and_(CaseLayerGrid.layer == layer, within(CaseLayerGrid.grid_path, [path]))
            for layer, path in scope.layer_paths
        ]
        terms.append(Case.id.in_(select(CaseLayerGrid.case_id).where(or_(*in_layers))))
    if scope.department_id is not None:
        terms.append(
            Case.id.in_(select(CaseDispatch.case_id).where(CaseDispatch.department_id == scope.department_id))
        )
    if scope.user_id is not None:
        terms += [Case.reporter_id == scope.user_id, Case.task_assignee_id == scope.user_id]
    return or_(*terms) if terms else false()


# Before filing a report is unconfirmed, and a voided one was never a case: the public never sees these.
NOT_PUBLIC = (State.REPORTED, State.VERIFYING, State.REGISTERED, State.VOIDED)


def public() -> ColumnElement[bool]:
    """The SQL condition on ``Case`` for the cases the public may see (the citizens' pages, Open311): filed
    or later, never voided. The one place this is decided."""
    return Case.state.not_in([s.value for s in NOT_PUBLIC])


def sees_notification(scope: Scope, payload: dict) -> bool:
    """Whether a case-change notification (see the trigger ``case_file_notify``) is for this scope."""
    if scope.everything:
        return True
    path = payload.get("grid_path") or ""
    if path_within(path, scope.grid_paths):
        return True
    # a grid assigned in another layer: the case's grids in the layers (a shared grid holds its default path)
    in_layers = [p for _, p in scope.layer_paths]
    if in_layers and any(path_within(p, in_layers) for p in [path, *(payload.get("layer_paths") or [])]):
        return True
    if scope.department_id is not None and scope.department_id in (payload.get("departments") or []):
        return True
    return scope.user_id is not None and scope.user_id in (
        payload.get("reporter_id"),
        payload.get("task_assignee_id"),
    )
