"""What a reviewer may review: a grid head its subtrees (the grids of ``server.case.scope``), a city-wide
scope (leaders, shift leads, administrators) any grid."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from server.case.scope import Scope
from server.errors import Forbidden
from server.grid import service as grid_service
from server.grid.models import CURRENT, Grid
from server.grid.subtree import path_within


def reviewable(scope: Scope, grid: Grid) -> bool:
    """Whether ``grid`` is in the subtree of a grid of the scope, in any grid layer."""
    return scope.everything or path_within(grid.path, [*scope.grid_paths, *(p for _, p in scope.layer_paths)])


def top_grids(*, db: Session, scope: Scope) -> list[Grid]:
    """The grids a reviewer starts from: the roots for a city-wide scope, else the highest of its grids."""
    if scope.everything:
        return grid_service.list_grids(db=db)
    grids = list(
        db.scalars(
            select(Grid)
            .options(defer(Grid.geom))
            .where(CURRENT, Grid.path.in_([*scope.grid_paths, *(p for _, p in scope.layer_paths)]))
            .order_by(Grid.path)
        )
    )
    return [g for g in grids if not path_within(g.path, [o.path for o in grids if o.path != g.path])]


def review_grid(*, db: Session, scope: Scope, code: str | None = None) -> Grid:
    """The grid ``code`` (404 when there is none, 403 outside the scope), or the reviewer's first grid."""
    if code is None:
        tops = top_grids(db=db, scope=scope)
        if not tops:
            raise Forbidden("review.no_grid")
        return tops[0]
    grid = grid_service.get_grid(db=db, code=code)
    if not reviewable(scope, grid):
        raise Forbidden("review.grid_outside", grid=code, name=grid.name)
    return grid
