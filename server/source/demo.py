"""The demo city's pollution-source register (示例数据，非真实台账): 20 made-up sources in the communities
of 历下区, each at a random point inside its community's grid (the same seed, the same points), every name
marked （示例） and every code starting with ``DEMO-PS-``; the responsible members are the demo inspectors.
Imported as a register file would be."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grids.sources import SourceRecord
from server.auth.models import User
from server.grid.models import CURRENT, Grid
from server.source.service import ImportResult, import_sources

DISTRICT = "370102"  # 历下区
VILLAGE_DIGITS = 12  # the communities (社区村) of the default level scheme
# (kind, what the source is): the demo's register, in order.
SOURCES = (
    ("fume", "老街坊餐馆"), ("fume", "泉城烧烤"), ("fume", "鲁菜小馆"), ("fume", "社区食堂"),
    ("dust", "住宅楼建设工地"), ("dust", "道路改造工地"), ("dust", "管网施工工地"),
    ("air", "印刷厂"), ("air", "汽车维修喷漆车间"), ("air", "家具加工厂"),
    ("water", "洗车场"), ("water", "医院污水站"), ("water", "食品加工厂"),
    ("noise", "夜市"), ("noise", "石材加工点"), ("noise", "KTV"),
    ("solid", "废品收购站"), ("solid", "装修垃圾临时堆放点"), ("solid", "农贸市场"), ("fume", "早餐店"),
)  # fmt: skip


def load_demo_sources(*, db: Session, seed: int) -> ImportResult:
    """Place the register in the district's current communities and upsert it (again: nothing changes).
    PostGIS takes a positive seed only: any ``seed`` is made one."""
    inside = (
        select(Grid.code, Grid.name, func.ST_GeneratePoints(Grid.geom, 1, abs(seed) + 1).label("p"))
        .where(CURRENT, Grid.code.startswith(DISTRICT), func.length(Grid.code) == VILLAGE_DIGITS)
        .subquery()
    )
    point = func.ST_GeometryN(inside.c.p, 1)
    villages = db.execute(
        select(inside.c.name, func.ST_X(point), func.ST_Y(point)).order_by(inside.c.code)
    ).all()
    inspectors = list(
        db.execute(
            select(User.phone, User.id)
            .where(User.roles.contains(["inspector"]), User.active)
            .order_by(User.phone)
        ).all()
    )
    if not villages or not inspectors:
        return ImportResult()
    records = []
    for i, (kind, what) in enumerate(SOURCES):
        name, lon, lat = villages[i % len(villages)]
        community = name.removesuffix("居民委员会")
        records.append(
            SourceRecord(
                where=f"第 {i + 1} 个",
                code=f"DEMO-PS-{i + 1:03d}",
                name=f"{community}{what}（示例）",
                kind=kind,
                address=f"济南市历下区{community}（示例地址）",
                lon=lon,
                lat=lat,
                phone=inspectors[i % len(inspectors)].phone,
            )
        )
    return import_sources(db=db, records=records, users=dict(inspectors))
