"""Dispatch in two tiers (docs/DOMAIN.md section 5, "Two tiers and the simple flow"): the top command center
(the district's, or the city's: it has no row) and the dispatch centers below it (``DispatchCenter``: street
sub-centers, Pingshan's "1+6+N", Beijing's street-led "吹哨报到"), each dispatching the cases of its grid's
subtree.

- A case filed (立案) goes to the deepest active center whose current grid holds it, else to the top
  (``Case.dispatch_center`` NULL): ``assign``.
- A dispatcher whose home grid is an active center dispatches that center's cases; every other dispatcher
  (city-wide, or bound to a district that is no center) the top's. The top also takes the cases of a center
  deactivated since they were filed, so that no case is left with nobody: ``holder``, ``held_by``.
- The center holding a case may send it up (上报) to the next active center above, or to the top:
  ``send_up``.
- A street's own team (a department with a street grid) leads or co-handles only the cases inside its
  street: ``check_teams``; ``choices`` are the departments a case may go to.

Administrators act for every center."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_, cast, func, or_, select, true
from sqlalchemy.orm import Session

from server.auth.principal import Principal
from server.case.models import Case
from server.category.models import Department, DispatchCenter
from server.errors import Conflict, DomainError, Forbidden, Invalid
from server.grid.models import CURRENT, Grid
from server.grid.subtree import path_within, within
from server.types import LTree

TOP = "上级指挥中心"  # how people name the top center, which has no row
EVERY = "*"  # an administrator's center in its scope: it dispatches the cases of every center


def _centers_over(db: Session, grid_path: str) -> list[DispatchCenter]:
    """The active centers whose current grid holds ``grid_path``, deepest first."""
    return list(
        db.scalars(
            select(DispatchCenter)
            .join(Grid, and_(Grid.code == DispatchCenter.grid_code, CURRENT))
            .where(DispatchCenter.active, within(cast(grid_path, LTree), [Grid.path]))
            .order_by(func.nlevel(Grid.path).desc())
        )
    )


def assign(db: Session, case: Case) -> None:
    """At filing: the case goes to the deepest active center holding it, else to the top."""
    centers = _centers_over(db, case.grid_path)
    case.dispatch_center = centers[0].grid_code if centers else None


def center_of(db: Session, grid_code: str | None) -> str | None:
    """The center a dispatcher works for: the active center at its home grid, else the top (None)."""
    if not grid_code:
        return None
    return db.scalar(
        select(DispatchCenter.grid_code).where(DispatchCenter.grid_code == grid_code, DispatchCenter.active)
    )


def holder(db: Session, case: Case) -> DispatchCenter | None:
    """The center dispatching the case now: its own while active, else the top (None)."""
    if case.dispatch_center is None:
        return None
    return db.scalar(
        select(DispatchCenter).where(DispatchCenter.grid_code == case.dispatch_center, DispatchCenter.active)
    )


def held_by(center: str | None) -> ColumnElement[bool]:
    """SQL: the cases ``center`` dispatches (a center's grid code; None the top; ``EVERY`` all)."""
    if center == EVERY:
        return true()
    if center is None:
        active = select(DispatchCenter.grid_code).where(DispatchCenter.active)
        return or_(Case.dispatch_center.is_(None), Case.dispatch_center.not_in(active))
    return Case.dispatch_center == center


def _refusal(db: Session, principal: Principal, case: Case, up: bool) -> DomainError | None:
    """Why ``principal`` may not dispatch the case now, or with ``up`` send it up (None: it may)."""
    held = holder(db, case)
    held_code = held.grid_code if held else None
    if not principal.has("admin") and center_of(db, principal.user.grid_code) != held_code:
        return Forbidden("case.other_center", center=held.name if held else TOP)
    if up and held is None:
        return Conflict("case.top_center")
    return None


def dispatches(db: Session, principal: Principal, case: Case) -> DomainError | None:
    """Guard of 派遣: the case is dispatched by the center holding it (403 naming that center)."""
    return _refusal(db, principal, case, up=False)


def sends_up(db: Session, principal: Principal, case: Case) -> DomainError | None:
    """Guard of 上报: only the center holding the case sends it up, and the top has nothing above it."""
    return _refusal(db, principal, case, up=True)


def send_up(db: Session, case: Case) -> dict:
    """Move the case from the center holding it (an active one: the guard made sure) to the next active
    center above, or to the top; what the event records: both centers' grid codes (None: the top) and
    names."""
    held, chain = holder(db, case), _centers_over(db, case.grid_path)
    above = chain[chain.index(held) + 1 :] if held in chain else []
    case.dispatch_center = above[0].grid_code if above else None
    to_name = above[0].name if above else TOP
    return {"from": held.grid_code, "from_name": held.name, "to": case.dispatch_center, "to_name": to_name}


def check_teams(db: Session, case: Case, departments: Iterable[Department]) -> None:
    """A street's own team leads or co-handles only the cases inside its street (422 naming it)."""
    teams = [d for d in departments if d.grid_code]
    if not teams:
        return
    codes = {d.grid_code for d in teams}
    found = select(Grid.code, Grid.name, Grid.path).where(CURRENT, Grid.code.in_(codes))
    streets = {code: (name, path) for code, name, path in db.execute(found)}
    for team in teams:
        name, path = streets.get(team.grid_code, (team.grid_code, None))
        if path is None or not path_within(case.grid_path, [path]):
            raise Invalid("case.team_outside_street", department=team.name, street=name)


def choices(db: Session, case: Case) -> list[tuple[Department, str | None]]:
    """The active departments the case may go to: the city's and the districts', then the teams of the
    street holding it, each with its street's name."""
    query = (
        select(Department, Grid.name)
        .outerjoin(Grid, and_(Grid.code == Department.grid_code, CURRENT))
        .where(
            Department.active,
            or_(Department.grid_code.is_(None), within(cast(case.grid_path, LTree), [Grid.path])),
        )
        .order_by(Department.grid_code.is_not(None), Department.code)
    )
    return [(department, street) for department, street in db.execute(query)]
