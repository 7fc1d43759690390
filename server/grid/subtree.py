""" "Inside this grid subtree": a grid path (an ``ltree`` of grid codes from the root down) lies inside an
area when it is the area's own path or any path under it. The one rule, as a SQL expression, as SQL text,
and in Python, for every domain that narrows by area (scope, stats, review, patrol, tiles)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, false, or_


def within(path: ColumnElement, areas: Iterable[str | ColumnElement]) -> ColumnElement[bool]:
    """SQL: ``path`` (an ltree column or expression) lies inside any of ``areas`` (paths, or ltree
    expressions); false for no area."""
    return or_(false(), *(path.op("<@")(area) for area in areas))


def within_sql(path: str, area: str) -> str:
    """SQL text: ``path`` lies inside ``area`` (both SQL expressions; ``area`` is cast to ltree)."""
    return f"{path} <@ CAST({area} AS ltree)"


def path_within(path: str, areas: Iterable[str]) -> bool:
    """Python: ``path`` lies inside any of ``areas``."""
    return any(path == area or path.startswith(area + ".") for area in areas)
