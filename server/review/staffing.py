"""Who looks after a grid: the inspectors assigned now to it, to a grid above it (a village's inspector
patrols its units) or to a grid in its subtree (a street is looked after through its villages). The
inspected levels are ``review_levels`` (default village and unit: the demo's inspectors are assigned to
villages, a city may assign them to units); a grid of those levels that nobody looks after is listed, the
highest of its branch only (a village with nobody stands for its units)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, defer

from server.auth.models import User
from server.config import get_settings
from server.grid.layers import of_layer
from server.grid.models import CURRENT, Grid, GridAssignment, in_force
from server.grid.subtree import path_within, within
from server.review.schemas import GridRef


def inspected_levels() -> list[str]:
    return [level.strip() for level in get_settings().review_levels.split(",") if level.strip()]


def related_paths(a: str, b: str) -> bool:
    """Whether one of two grid paths lies in the other's subtree (or they are the same)."""
    return path_within(a, [b]) or path_within(b, [a])


def _prefixes(path: str) -> list[str]:
    """``a``, ``a.b``, ``a.b.c`` for ``a.b.c``: the paths of a grid and the grids above it."""
    labels = path.split(".")
    return [".".join(labels[: i + 1]) for i in range(len(labels))]


def _related(root: Grid):
    """The SQL condition on ``Grid`` for the grids in ``root``'s subtree or above it."""
    return or_(within(Grid.path, [root.path]), Grid.path.op("@>")(root.path))


def roster_of(db: Session, root: Grid, day: date, layer: str) -> list[tuple[GridAssignment, User, Grid]]:
    """The inspectors' assignments in grid layer ``layer`` in force on ``day`` to grids of its hierarchy in
    ``root``'s subtree or above it."""
    query = (
        select(GridAssignment, User, Grid)
        .join(User, User.id == GridAssignment.user_id)
        .join(Grid, (Grid.code == GridAssignment.grid_code) & CURRENT)
        .options(defer(Grid.geom))
        .where(
            GridAssignment.role == "inspector",
            GridAssignment.layer == layer,
            in_force(day),
            _related(root),
            of_layer(layer),
        )
        .order_by(User.name, User.id, Grid.path)
    )
    return [tuple(row) for row in db.execute(query)]


class Staffing:
    """Whether a grid is looked after: an inspector assigned to it, above it, or in its subtree."""

    def __init__(self, paths: set[str]) -> None:
        self.at_or_above = paths
        self.at_or_below = {prefix for path in paths for prefix in _prefixes(path)}

    def staffed(self, path: str) -> bool:
        return path in self.at_or_below or any(p in self.at_or_above for p in _prefixes(path))


def unstaffed_under(
    db: Session, root: Grid, staffing: Staffing, levels: list[str], layer: str
) -> list[GridRef]:
    """The grids of the inspected levels of grid layer ``layer``'s hierarchy in ``root``'s subtree that
    nobody looks after, the highest of each branch only, in code order."""
    grids = db.execute(
        select(Grid.code, Grid.name, Grid.level, Grid.parent_code, Grid.path)
        .where(CURRENT, within(Grid.path, [root.path]), Grid.level.in_(levels), of_layer(layer))
        .order_by(Grid.code)
    ).all()
    path_of = {g.code: g.path for g in grids}
    return [
        GridRef(code=g.code, name=g.name, level=g.level)
        for g in grids
        if not staffing.staffed(g.path)
        and (g.parent_code not in path_of or staffing.staffed(path_of[g.parent_code]))
    ]
