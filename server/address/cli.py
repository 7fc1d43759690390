"""``gridops addresses ...``: import a register file, find addresses by words or near a point, link them
again to the grids."""

from __future__ import annotations

from pathlib import Path

import typer

from gis.crs import CRS, to_wgs84
from grids.addresses import MAX_BYTES, read_register
from server import messages
from server.address import importer, service
from server.address.models import KINDS
from server.cli_common import console, fail, session
from server.grid.cli import progress_bar

addresses_app = typer.Typer(
    help="标准地址库（门牌、楼栋、兴趣点）：导入、查找、按位置找最近的地址。", no_args_is_help=True
)

STAGES = {
    "copy": "读入地址",
    "link": "关联网格",
    "write": "写入地址库",
    "relink": "重新关联网格",
    "cases": "为已有案件补上附近地址",
}
SHOWN_OUTSIDE = 50  # addresses outside every grid printed; the rest are counted


def _say(text: str) -> None:
    console.print(text, highlight=False, markup=False)


def _bar(update):
    """The importer's stages in words on the progress bar."""
    return lambda stage, done, total: update(STAGES[stage], done, total)


@addresses_app.command("import")
def import_file(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV 或 GeoJSON 地址库文件。"),
    crs: CRS = typer.Option(CRS.WGS84, help="文件中经纬度所用的坐标系。"),
    dry_run: bool = typer.Option(False, "--dry-run", help="只检查并统计，不写入。"),
) -> None:
    """导入地址库文件：先整体检查，有任何错误都不导入；按编码新增或更新，每个地址关联到所在的最下级网格。"""
    if file.stat().st_size > MAX_BYTES:
        fail(messages.text("address.file_too_large", megabytes=MAX_BYTES // 2**20))
    register = read_register(file.read_bytes(), crs=crs)
    if register.ignored:
        _say(f"没有读取这些列（不是地址库的列）：{'、'.join(register.ignored)}")
    if not register.ok:
        for problem in register.listed():
            _say(problem)
        fail(messages.text("address.file_invalid", count=register.error_count))
    with session() as db, progress_bar() as update:
        result = importer.import_addresses(
            db=db, records=register.records, dry_run=dry_run, progress=_bar(update)
        )
    counts = f"新增 {result.added} 个，更新 {result.changed} 个，未变 {result.unchanged} 个"
    if result.outside_count:
        _say(f"有 {result.outside_count} 个地址不在任何网格内（没有关联网格）：")
        for register_id, text in result.outside[:SHOWN_OUTSIDE]:
            _say(f"  {register_id}\t{text}")
        if result.outside_count > SHOWN_OUTSIDE:
            _say(f"  ……还有 {result.outside_count - SHOWN_OUTSIDE} 个")
    if result.written:
        _say(f"已导入 {register.checked} 个地址：{counts}")
        if result.cases_linked:
            _say(f"已为 {result.cases_linked} 件原先没有附近地址的案件补上附近地址")
    else:
        _say(f"检查通过，没有写入（{counts}）：去掉 --dry-run 再运行一次即可导入")


@addresses_app.command("search")
def search(
    text: str = typer.Argument(..., help="地址或地名中的词，可以是一部分，次序不限（如 “山大南路27号”）。"),
    limit: int = typer.Option(10, min=1, max=service.MAX_LIMIT, help="最多列出几个。"),
) -> None:
    """按词查找地址，最相符的在前；每行：类型、名称或地址、完整地址、经纬度、所在网格。"""
    with session() as db:
        found = service.search(db=db, text=text, limit=limit)
        chains = service.grid_chains(db=db, codes=(f.address.grid_code for f in found))
        for f in found:
            grids = " / ".join(g.name for g in chains.get(f.address.grid_code, [])) or "不在任何网格内"
            print(
                f"{KINDS[f.address.kind]}\t{f.address.label}\t{f.address.address_text}\t"
                f"{f.lon:.6f},{f.lat:.6f}\t{grids}"
            )
    if not found:
        fail(f"没有找到与“{text}”相符的地址：请换一个词，或只输入路名、门牌号或地名的一部分")


@addresses_app.command("near")
def near(
    lon: float = typer.Argument(..., help="经度。"),
    lat: float = typer.Argument(..., help="纬度。"),
    radius: float = typer.Option(100.0, help="查找范围（米）。"),
    limit: int = typer.Option(5, min=1, max=service.MAX_LIMIT, help="最多列出几个。"),
    crs: CRS = typer.Option(CRS.WGS84, help="经纬度所用的坐标系。"),
) -> None:
    """列出离这个点最近的地址（在查找范围内），最近的在前；每行：距离、类型、名称或地址、完整地址。"""
    x, y = to_wgs84(lon, lat, crs)
    with session() as db:
        found = service.nearest(db=db, lon=x, lat=y, radius_m=radius, limit=limit)
    for f in found:
        print(f"{f.distance_m:.0f} 米\t{KINDS[f.address.kind]}\t{f.address.label}\t{f.address.address_text}")
    if not found:
        fail(f"{radius:g} 米内没有地址库中的地址：请加大查找范围，或核对经纬度和坐标系")


@addresses_app.command("relink")
def relink() -> None:
    """导入或修改网格之后，把每个地址重新关联到所在的最下级现行网格。"""
    with session() as db, progress_bar() as update:
        result = importer.relink(db=db, progress=_bar(update))
    _say(
        f"检查了 {result.checked} 个地址：{result.changed} 个改了所在网格，{result.outside} 个不在任何网格内"
    )
