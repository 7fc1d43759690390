"""Resident populations (常住人口) of the grids: the small CSV import, the populations the statistics read
(a grid without its own counts the sum of its children's), and the demo city's synthetic ones."""

from __future__ import annotations

import csv
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from server.errors import Invalid
from server.grid.models import CURRENT, Grid
from server.grid.subtree import within_sql

CODE_COLUMNS = ("网格编码", "code")
POPULATION_COLUMNS = ("常住人口", "population")
MAX_ROWS = 200_000

# The demo city's residents per district: rounded, synthetic, of the order of the real districts' (历下区
# about 750,000); spread over each district's villages (社区/村) with random weights from the seed.
DEMO_DISTRICT_RESIDENTS = {
    "370102": 750_000, "370103": 720_000, "370104": 600_000, "370105": 700_000, "370112": 1_100_000,
    "370113": 600_000, "370114": 1_060_000, "370115": 520_000, "370116": 990_000, "370117": 300_000,
    "370124": 340_000, "370126": 550_000,
}  # fmt: skip


@dataclass
class PopulationImport:
    rows: int
    changed: int


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    return next((i for i, h in enumerate(header) if h.strip() in names), None)


def import_populations(*, db: Session, data: bytes) -> PopulationImport:
    """Set the populations a CSV lists (columns 网格编码 or code, 常住人口 or population; UTF-8, a BOM
    allowed) on the current grids, after checking the whole file: on any error nothing is written and
    ``Invalid`` lists every bad row in words."""
    try:
        lines = data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError:
        raise Invalid("grid.population_encoding") from None
    rows = list(csv.reader(lines))
    if not rows:
        raise Invalid("grid.population_empty")
    header, body = rows[0], rows[1:]
    code_at, count_at = _column(header, CODE_COLUMNS), _column(header, POPULATION_COLUMNS)
    if code_at is None or count_at is None:
        raise Invalid("grid.population_columns")
    if len(body) > MAX_ROWS:
        raise Invalid("grid.population_too_many", limit=MAX_ROWS)
    errors: list[tuple[int, str]] = []
    wanted: dict[str, int] = {}
    seen: dict[str, int] = {}
    for line, row in enumerate(body, 2):
        if not any(cell.strip() for cell in row):
            continue
        code = row[code_at].strip() if code_at < len(row) else ""
        value = row[count_at].strip().replace(",", "") if count_at < len(row) else ""
        if not code:
            errors.append((line, "没有网格编码"))
            continue
        if code in seen:
            errors.append((line, f"网格 {code} 已在第 {seen[code]} 行出现过，每个网格只能列一次"))
            continue
        seen[code] = line
        if not value.isdigit():
            errors.append((line, f"网格 {code} 的常住人口「{value}」应为不小于 0 的整数"))
            continue
        wanted[code] = int(value)
    known = set(db.scalars(select(Grid.code).where(CURRENT, Grid.code.in_(list(seen)))))
    errors += [(line, f"没有编码为 {code} 的网格") for code, line in seen.items() if code not in known]
    if errors:
        listed = [f"第 {line} 行：{problem}" for line, problem in sorted(errors)]
        raise Invalid("grid.population_invalid", count=len(errors), errors=listed)
    changed = 0
    for code, population in wanted.items():
        result = db.execute(
            update(Grid)
            .where(CURRENT, Grid.code == code, Grid.population.is_distinct_from(population))
            .values(population=population)
        )
        changed += result.rowcount
    db.commit()
    return PopulationImport(rows=len(wanted), changed=changed)


def populations(db: Session, area: str) -> dict[str, int | None]:
    """The population of every current grid in the subtree of the path ``area``: its own when it has one,
    else the sum of its children's when every child has one (its own or so summed), else None (unknown:
    a partial sum would overstate a rate per resident)."""
    rows = db.execute(
        text(
            f"SELECT code, parent_code, population FROM grid "
            f"WHERE valid_to IS NULL AND {within_sql('path', ':area')} ORDER BY nlevel(path) DESC"
        ),
        {"area": area},
    ).all()
    children: dict[str, list[str]] = {}
    out: dict[str, int | None] = {}
    for code, parent, _ in rows:
        children.setdefault(parent, []).append(code)
    for code, _, own in rows:  # deepest first: the children are done before their parent
        kids = [out[k] for k in children.get(code, [])]
        summed = sum(kids) if kids and None not in kids else None
        out[code] = own if own is not None else summed
    return out


def load_demo_populations(*, db: Session, seed: int) -> int:
    """Give the demo city's villages without a population a synthetic one: each district's residents
    (``DEMO_DISTRICT_RESIDENTS``) spread over its villages by log-normal weights drawn from ``seed``;
    streets and districts then count their villages' sum. Returns how many villages got one."""
    rng = np.random.default_rng(seed)
    given = 0
    for district, residents in DEMO_DISTRICT_RESIDENTS.items():
        villages = db.execute(
            text(
                "SELECT code, population FROM grid WHERE valid_to IS NULL AND level = 'village' "
                "AND path ~ CAST(:query AS lquery) ORDER BY code"
            ),
            {"query": f"*.{district}.*"},
        ).all()
        if not villages:
            continue
        weights = rng.lognormal(0, 0.4, len(villages))
        shares = np.floor(residents * weights / weights.sum()).astype(int)
        missing = [
            {"code": code, "population": int(share)}
            for (code, population), share in zip(villages, shares, strict=True)
            if population is None
        ]
        if missing:
            db.execute(
                text("UPDATE grid SET population = :population WHERE valid_to IS NULL AND code = :code"),
                missing,
            )
        given += len(missing)
    db.commit()
    return given
