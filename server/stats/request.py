"""The dashboard request: the period, the grid subtree and the department a user asks for, checked against
their roles and scope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.auth.principal import Principal
from server.case.scope import scope_of
from server.category import service as category_service
from server.category.models import Department
from server.config import get_settings
from server.errors import Forbidden, Invalid
from server.grid import service as grid_service
from server.grid.models import CURRENT, Grid, today
from server.grid.subtree import path_within

# Roles that see dashboards (inspectors see their own figures in the app).
DASHBOARD_ROLES = frozenset(
    {"admin", "leader", "grid_head", "acceptor", "shift_lead", "dispatcher", "department"}
)


@dataclass(frozen=True)
class Request:
    start: date
    end: date
    grid: Grid
    department: Department | None
    category_level: int | None = (
        None  # rank categories by their ancestors at this depth (1: top); None: leaves
    )


def resolve(
    *,
    db: Session,
    principal: Principal,
    start: date | None = None,
    end: date | None = None,
    grid: str | None = None,
    department: str | None = None,
    category_level: int | None = None,
) -> Request:
    """The request a user may make: the period (default the last 30 days ending today), the grid (default
    their top grid, else the city root), the department, checked against their scope, and the level of the
    category tree the categories are ranked at (at most the settings' depth)."""
    if not principal.has(*DASHBOARD_ROLES):
        raise Forbidden("stats.dashboard_roles")
    end = end or today()
    start = start or end - timedelta(days=29)
    if start > end:
        raise Invalid("stats.period_reversed", start=start, end=end)
    deepest = get_settings().category_max_depth
    if category_level is not None and not 1 <= category_level <= deepest:
        raise Invalid("stats.category_level", level=category_level, deepest=deepest)
    longest = get_settings().stats_max_days
    if (end - start).days + 1 > longest:
        raise Invalid(
            "stats.period_too_long", longest=longest, start=start, end=end, days=(end - start).days + 1
        )
    scope = scope_of(db=db, principal=principal)
    if not scope.everything and not scope.grid_paths and scope.department_id is None:
        raise Forbidden("stats.no_scope")
    if grid is None:
        paths = sorted(scope.grid_paths, key=lambda p: (p.count("."), p))
        target = _top_grid(db) if scope.everything or not paths else _grid_at(db, paths[0])
    else:
        target = grid_service.get_grid(db=db, code=grid)
        inside = path_within(target.path, scope.grid_paths)
        if not scope.everything and scope.grid_paths and not inside:
            mine = "、".join(p.rsplit(".", 1)[-1] for p in scope.grid_paths)
            raise Forbidden("stats.grid_outside", grid=grid, mine=mine)
    dept = (
        category_service.get_department(db=db, code=department, include_inactive=True) if department else None
    )
    if not scope.everything and scope.department_id is not None:
        if dept is not None and dept.id != scope.department_id:
            raise Forbidden("stats.other_department", department=department)
        dept = db.get(Department, scope.department_id)
    return Request(start, end, target, dept, category_level)


def _top_grid(db: Session) -> Grid:
    root = db.scalar(select(Grid).where(CURRENT, Grid.parent_code.is_(None)).order_by(Grid.code).limit(1))
    if root is None:
        raise Invalid("stats.no_grids")
    return root


def _grid_at(db: Session, path: str) -> Grid:
    return db.scalar(select(Grid).where(CURRENT, Grid.path == path))
