"""``gridops sources ...``: import the pollution-source register, list its sources."""

from __future__ import annotations

from pathlib import Path

import typer

from gis.crs import CRS
from grids.sources import KINDS, MAX_BYTES, read_sources
from server import messages
from server.cli_common import console, fail, session
from server.grid.cli import progress_bar
from server.source import service

sources_app = typer.Typer(help="污染源台账：导入、列出污染源。", no_args_is_help=True)
STAGES = {"write": "写入污染源台账"}


def _say(text: str) -> None:
    console.print(text, highlight=False, markup=False)


@sources_app.command("import")
def import_file(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV 或 GeoJSON 污染源台账文件。"),
    crs: CRS = typer.Option(CRS.WGS84, help="文件中经纬度所用的坐标系。"),
    dry_run: bool = typer.Option(False, "--dry-run", help="只检查并统计，不写入。"),
) -> None:
    """导入污染源台账：先整体检查，有任何错误都不导入；按编号新增或更新。"""
    if file.stat().st_size > MAX_BYTES:
        fail(messages.text("source.file_too_large", megabytes=MAX_BYTES // 2**20))
    register = read_sources(file.read_bytes(), crs=crs)
    if register.ignored:
        _say(f"没有读取这些列（不是污染源台账的列）：{'、'.join(register.ignored)}")
    with session() as db:
        users = service.responsible_ids(db=db, register=register) if register.ok else {}
        if not register.ok:
            for problem in register.listed():
                _say(problem)
            fail(messages.text("source.file_invalid", count=register.error_count))
        with progress_bar() as update:
            result = service.import_sources(
                db=db,
                records=register.records,
                users=users,
                dry_run=dry_run,
                progress=lambda stage, done, total: update(STAGES[stage], done, total),
            )
    counts = f"新增 {result.added} 个，更新 {result.changed} 个，未变 {result.unchanged} 个"
    if result.written:
        _say(f"已导入 {register.checked} 个污染源：{counts}")
    else:
        _say(f"检查通过，没有写入（{counts}）：去掉 --dry-run 再运行一次即可导入")


@sources_app.command("list")
def list_sources(
    kind: str = typer.Option(None, help=f"只列出这一类型：{'、'.join(KINDS.values())}。"),
    text: str = typer.Option(None, "--text", help="编号、名称或地址中的字。"),
    limit: int = typer.Option(50, min=1, max=service.MAX_LIMIT, help="最多列出几个。"),
) -> None:
    """列出污染源（按编号）；每行：编号、类型、名称、地址、责任人、经纬度、是否在用。"""
    code = {name: code for code, name in KINDS.items()}.get(kind, kind)
    if kind and code not in KINDS:
        fail(f"类型“{kind}”不认识：应为 {'、'.join(KINDS.values())} 之一")
    with session() as db:
        found, total = service.list_sources(db=db, kind=code, text=text, limit=limit)
    for f in found:
        s = f.source
        state = "在用" if s.active else "停用"
        print(
            f"{s.code}\t{KINDS[s.kind]}\t{s.name}\t{s.address}\t{f.responsible}\t{f.lon:.6f},{f.lat:.6f}\t{state}"
        )
    if not found:
        fail("没有找到相符的污染源：请换一个条件，或先用 gridops sources import 导入污染源台账")
    if total > len(found):
        _say(
            f"共 {total} 个，只列出了前 {len(found)} 个：用 --limit 多列一些，或加上 --kind、--text 缩小范围"
        )
