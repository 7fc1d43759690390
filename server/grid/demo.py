"""The demo city's other grid layers (synthetic, marked so in their descriptions): 责任网格, responsibility
grids each joining a few neighbouring unit grids of one 历下区 village, and 生态环境网格, the environmental
layer with no grids of its own (its people are assigned to the shared village grids), with heads and
inspectors among the demo users."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.geometry import as_multipolygon, orient
from grids.records import GridRecord
from grids.topology import TopologyReport
from server.auth.models import User
from server.grid import importer, people
from server.grid.models import CURRENT, Grid, GridAssignment, GridLayer

UNIT_DISTRICT = "370102"  # 历下区: the district with unit grids
DUTY, ENV = "duty", "env"
# A responsibility grid joins the unit grids of one village whose centres fall in one block of about 200 m
# (larger in a village that would need more than 99).
RESPONSIBILITY_LEVEL = "duty:14=责任网格"
RESPONSIBILITY_BLOCK_DEG = 0.002
MAX_RESPONSIBILITY = 99  # per village: the sequence has 2 digits
POLLUTION_CATEGORY = "E06020"  # 餐饮油烟污染: its cases go to the environmental layer's people
LAYERS = (
    (
        DUTY,
        "责任网格",
        RESPONSIBILITY_LEVEL,
        "示例数据（合成）：每个责任网格由历下区同一社区相邻的几个单元网格合成",
    ),
    (ENV, "生态环境网格", "", "示例数据（合成）：市、区、街道、社区村四级环境网格，网格员负责辖区内的污染源"),
)


@dataclass
class DemoLayers:
    layers: int = 0
    grids: int = 0
    assignments: int = 0


def load_demo_layers(*, db: Session) -> DemoLayers:
    """Add the demo layers, the responsibility grids and their people if missing. The people: each
    inspector of a demo village in 城市管理网格 patrols the first responsibility grid of that village and,
    in 生态环境网格, the next demo village; the demo street's head also heads the first village's
    responsibility grid and, in 生态环境网格, that village."""
    done = DemoLayers()
    for code, name, levels, description in LAYERS:
        if db.get(GridLayer, code) is None:
            importer.add_layer(db=db, code=code, name=name, levels=levels, description=description)
            done.layers += 1
    if db.scalar(select(Grid.id).where(CURRENT, Grid.layer == DUTY).limit(1)) is None:
        unit_codes = db.scalars(
            select(Grid.code).where(CURRENT, Grid.level == "unit", Grid.code.startswith(UNIT_DISTRICT))
        )
        grids = responsibility_grids(importer.stored_records(db=db, codes=unit_codes).values())
        result = importer.import_grids(
            db=db, records=grids, report=TopologyReport(checked=len(grids)), layer=DUTY
        )
        if not result.report.ok:
            raise RuntimeError(result.report.format_text())
        done.grids = len(result.created)
    inspectors = db.execute(
        select(User, Grid)
        .join(GridAssignment, GridAssignment.user_id == User.id)
        .join(Grid, (Grid.code == GridAssignment.grid_code) & CURRENT)
        .join(GridLayer, GridLayer.code == GridAssignment.layer)
        .where(GridAssignment.role == "inspector", GridLayer.is_default)
        .where(Grid.level == "village", Grid.code.startswith(UNIT_DISTRICT))
        .order_by(Grid.code, User.id)
    ).all()
    villages = sorted({village.code for _, village in inspectors})
    wanted = [(user, f"{village.code}01", DUTY, "inspector") for user, village in inspectors]
    wanted += [
        (user, villages[(villages.index(village.code) + 1) % len(villages)], ENV, "inspector")
        for user, village in inspectors
    ]
    head = (
        db.scalar(
            select(User)
            .join(GridAssignment, GridAssignment.user_id == User.id)
            .where(GridAssignment.role == "head", GridAssignment.grid_code == inspectors[0][1].parent_code)
        )
        if inspectors
        else None
    )
    if head is not None:
        wanted += [(head, f"{villages[0]}01", DUTY, "head"), (head, villages[0], ENV, "head")]
    for user, code, layer, role in wanted:
        if not people.assignments(db=db, grid_code=code, user_id=user.id, layer=layer):
            people.assign(db=db, grid_code=code, user=user, role=role, layer=layer)
            done.assignments += 1
    return done


def responsibility_grids(units: Iterable[GridRecord]) -> list[GridRecord]:
    """The demo's 责任网格 (synthetic, level ``duty``): each the union of the neighbouring unit grids of one
    village whose centres fall in one block, coded the village's code and a 2-digit sequence in reading
    order (north to south, west to east). They tile their village as its units do."""
    by_village: dict[str, list[GridRecord]] = defaultdict(list)
    for unit in units:
        by_village[unit.parent_code].append(unit)
    grids = []
    for village, members in sorted(by_village.items()):
        size = RESPONSIBILITY_BLOCK_DEG
        while len(blocks := _blocks(members, size)) > MAX_RESPONSIBILITY:
            size *= 1.5
        village_name = members[0].name.rsplit("第", 1)[0]
        for k, block in enumerate(blocks, start=1):
            geometry = as_multipolygon(orient(shapely.union_all([u.geometry for u in block])))
            grids.append(
                GridRecord(f"{village}{k:02d}", f"{village_name}第{k:02d}责任网格", "duty", village, geometry)
            )
    return grids


def _blocks(units: list[GridRecord], size: float) -> list[list[GridRecord]]:
    """``units`` grouped by the block of ``size`` degrees their centre falls in, blocks in reading order."""
    groups: dict[tuple[int, int], list[GridRecord]] = defaultdict(list)
    for unit in units:
        centre = unit.geometry.centroid
        groups[(-math.floor(centre.y / size), math.floor(centre.x / size))].append(unit)
    return [groups[key] for key in sorted(groups)]
