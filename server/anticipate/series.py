"""Daily counts of reports per area x category at one grid level, as numpy arrays: the one input of the
forecasts (``forecast``), the backtest (``backtest``), the detection (``detect``) and its measurement
(``evaluate``).

A report is a ``case_file`` row not merged into another (``merged_into_id IS NULL``), counted on the local
day (``settings.timezone``) it was received, in the area its grid path has at the level's depth (district 2,
street 3, village 4 labels). Cells are the area x category pairs with at least one report in the span: a
pair never reported is expected at about zero and costs nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from server.category.models import Category
from server.config import get_settings
from server.grid.models import CURRENT, Grid

LEVELS = {"district": 2, "street": 3, "village": 4}
LEVEL_NAMES = {"district": "区县", "street": "街道", "village": "社区"}


@dataclass(frozen=True)
class Series:
    """``counts[i, d]``: reports of cell ``i`` on day ``first + d``. Per cell: its area's code, name and
    path and its category's id, code and name; ``category[i]`` indexes ``categories`` (ids), ``area[i]``
    indexes ``areas`` (codes)."""

    level: str
    first: date
    counts: np.ndarray  # cells x days, int64
    area_code: list[str]
    area_name: list[str]
    area_path: list[str]
    category_id: list[int]
    category_code: list[str]
    category_name: list[str]
    category: np.ndarray  # cell -> index into categories
    area: np.ndarray  # cell -> index into areas
    categories: list[int]
    areas: list[str]

    @property
    def days(self) -> int:
        return self.counts.shape[1]

    def day(self, index: int) -> date:
        return self.first + timedelta(days=index)

    def index(self, day: date) -> int:
        return (day - self.first).days

    def by_category(self) -> np.ndarray:
        """categories x days: the sums of the cells of each category."""
        out = np.zeros((len(self.categories), self.days), dtype=np.int64)
        np.add.at(out, self.category, self.counts)
        return out


def load(db: Session, level: str, first: date, last: date, *, grid_path: str | None = None) -> Series:
    """The daily counts from ``first`` to ``last`` (local dates, inclusive) at ``level``, optionally only
    under ``grid_path``: one GROUP BY over the cases."""
    depth = LEVELS[level]
    tz = get_settings().timezone
    rows = db.execute(
        text(
            """
            SELECT subpath(grid_path, 0, :depth)::text AS path, category_id,
                   (received_at AT TIME ZONE :tz)::date - CAST(:first AS date) AS day, count(*) AS n
            FROM case_file
            WHERE merged_into_id IS NULL AND nlevel(grid_path) >= :depth
              AND received_at >= (CAST(:first AS timestamp) AT TIME ZONE :tz)
              AND received_at < (CAST(:after AS timestamp) AT TIME ZONE :tz)
              AND (CAST(:under AS ltree) IS NULL OR grid_path <@ CAST(:under AS ltree))
            GROUP BY 1, 2, 3
            """
        ),
        {"depth": depth, "tz": tz, "first": first, "after": last + timedelta(days=1), "under": grid_path},
    ).all()
    days = (last - first).days + 1
    keys = sorted({(r.path, r.category_id) for r in rows})
    cell = {k: i for i, k in enumerate(keys)}
    counts = np.zeros((len(keys), days), dtype=np.int64)
    if rows:
        idx = np.array([cell[(r.path, r.category_id)] for r in rows])
        day = np.array([r.day for r in rows])
        counts[idx, day] = np.array([r.n for r in rows])
    paths = sorted({p for p, _ in keys})
    codes = [p.rsplit(".", 1)[-1] for p in paths]
    names = dict(db.execute(select(Grid.code, Grid.name).where(CURRENT, Grid.code.in_(codes))).all())
    cats = sorted({c for _, c in keys})
    info = {c.id: c for c in db.scalars(select(Category).where(Category.id.in_(cats)))}
    area_of = {p: i for i, p in enumerate(paths)}
    cat_of = {c: i for i, c in enumerate(cats)}
    return Series(
        level=level,
        first=first,
        counts=counts,
        area_code=[p.rsplit(".", 1)[-1] for p, _ in keys],
        area_name=[names.get(p.rsplit(".", 1)[-1], p.rsplit(".", 1)[-1]) for p, _ in keys],
        area_path=[p for p, _ in keys],
        category_id=[c for _, c in keys],
        category_code=[info[c].code for _, c in keys],
        category_name=[info[c].name for _, c in keys],
        category=np.array([cat_of[c] for _, c in keys], dtype=np.int64),
        area=np.array([area_of[p] for p, _ in keys], dtype=np.int64),
        categories=cats,
        areas=codes,
    )
