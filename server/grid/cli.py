"""``gridops grids ...``: import, check, locate, export, people."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gis.crs import CRS
from gis.geojson import dumps, feature_collection
from grids.loaders import load_features
from grids.topology import TopologyReport
from server.auth import service as user_service
from server.cli_common import console, fail, session
from server.errors import Invalid
from server.grid import importer as grid_importer
from server.grid import layers as grid_layers
from server.grid import lookup as grid_lookup
from server.grid import people as grid_people
from server.grid import population as grid_population
from server.grid import service
from server.messages import role_name

grids_app = typer.Typer(
    help="网格层级：导入、检查、定位、导出，网格图层，以及网格的负责人。", no_args_is_help=True
)
layers_app = typer.Typer(help="网格图层（城市管理网格、生态环境网格等）：列出、新增。", no_args_is_help=True)
grids_app.add_typer(layers_app, name="layers")
LAYER_HELP = "网格图层的编号（见 gridops grids layers list）；默认为默认图层。"

STAGES = {"check": "检查拓扑", "write": "写入网格", "index": "建立定位索引"}
ASSIGNED_AS = {"head": "grid_head", "inspector": "inspector"}  # an assignment's role, as a user's role


@contextmanager
def progress_bar():
    """A rich progress bar fed with ``(stage, done, total)`` calls."""
    columns = (TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        tasks: dict[str, int] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(STAGES.get(stage, stage), total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


def print_report(report: TopologyReport) -> None:
    console.print(report.format_text(), markup=False, highlight=False)


def import_records(records, report, *, dry_run: bool, layer: str | None = None) -> grid_importer.ImportResult:
    with session() as db, progress_bar() as update:
        return grid_importer.import_grids(
            db=db, records=records, report=report, dry_run=dry_run, progress=update, layer=layer
        )


@grids_app.command("import")
def import_file(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="GeoJSON 文件（FeatureCollection）。"),
    crs: CRS = typer.Option(CRS.WGS84, help="文件所用的坐标系。"),
    dry_run: bool = typer.Option(False, "--dry-run", help="只输出拓扑检查报告，不写入。"),
    layer: str = typer.Option(None, "--layer", help=LAYER_HELP),
) -> None:
    """导入一个图层的网格（要素属性含 code、name、level、parent_code），写入前先整体检查。"""
    with session() as db:
        scheme = grid_layers.scheme_of(grid_layers.get_layer(db=db, code=layer))
    records, report = load_features(file.read_bytes(), crs=crs, scheme=scheme)
    result = import_records(records, report, dry_run=dry_run, layer=layer)
    print_report(result.report)
    if not result.report.ok:
        fail("文件有错误，什么都没有写入：请按上面的报告改正文件后重新导入")
    if result.written:
        console.print(
            f"已导入：新增 {len(result.created)} 个，新版本 {len(result.new_versions)} 个，"
            f"改名 {len(result.renamed)} 个，更新人口 {len(result.repopulated)} 个，"
            f"未变 {result.unchanged} 个",
            highlight=False,
        )
    else:
        console.print("只做了检查，没有写入：去掉 --dry-run 再运行一次即可导入")


@grids_app.command("population")
def population(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV 文件：网格编码、常住人口两列。"),
) -> None:
    """导入各网格的常住人口（先整体检查，有错误时逐行列出，什么都不写入）。"""
    with session() as db:
        try:
            result = grid_population.import_populations(db=db, data=file.read_bytes())
        except Invalid as exc:
            for problem in exc.params.get("errors", []):
                console.print(problem, markup=False, highlight=False)
            fail(exc.message)
    console.print(f"已导入 {result.rows} 个网格的常住人口，其中 {result.changed} 个有变化", highlight=False)


@grids_app.command("check")
def check(layer: str = typer.Option(None, "--layer", help=LAYER_HELP)) -> None:
    """对一个图层的已存网格（共用的行政区划和本图层自己的网格）做拓扑检查并输出报告（有错误时退出码为 1）。"""
    with session() as db, progress_bar() as update:
        report = grid_importer.check_stored(db=db, layer=layer, progress=update)
    print_report(report)
    if not report.ok:
        raise typer.Exit(1)


@grids_app.command("locate")
def locate(
    lon: float = typer.Argument(..., help="经度。"),
    lat: float = typer.Argument(..., help="纬度。"),
    crs: CRS = typer.Option(CRS.WGS84, help="经纬度所用的坐标系。"),
    layer: str = typer.Option(None, "--layer", help=LAYER_HELP),
) -> None:
    """列出一个图层中包含这个点的各级网格，每级一行：层级、编码、名称。"""
    with session() as db:
        scheme = grid_layers.scheme_of(grid_layers.get_layer(db=db, code=layer))
        _, _, chain = grid_lookup.locate(db=db, lon=lon, lat=lat, crs=crs, layer=layer)
    if not chain:
        fail(f"点（{lon}, {lat}）不在任何网格内：请核对经纬度和坐标系")
    for grid in chain:
        print(f"{scheme.get(grid.level).label}\t{grid.code}\t{grid.name}")


@grids_app.command("export")
def export(
    code: str = typer.Argument(None, help="只导出这个网格及其下级网格。"),
    layer: str = typer.Option(None, "--layer", help=LAYER_HELP),
) -> None:
    """把一个图层的现行网格（共用的行政区划和本图层自己的网格）以 GeoJSON 写到标准输出。"""
    with session() as db:
        features = service.export_features(db=db, code=code, layer=layer)
    sys.stdout.write(dumps(feature_collection(features)) + "\n")


@grids_app.command("assign")
def assign(
    code: str = typer.Argument(..., help="网格编码。"),
    user: str = typer.Argument(..., help="用户的手机号、用户名或编号。"),
    role: str = typer.Option("inspector", help="head（网格长）或 inspector（网格员）。"),
    starts_on: str = typer.Option(None, "--from", help="开始日期（如 2026-10-01）；默认今天。"),
    layer: str = typer.Option(
        None,
        "--layer",
        help="在哪个网格图层任职（共用的行政区划网格才需要）；默认为网格自己的图层或默认图层。",
    ),
) -> None:
    """让一位用户在一个网格图层中担任网格的网格长（替换现任）或网格员。"""
    with session() as db:
        person = user_service.find_user(db=db, key=user)
        start = date.fromisoformat(starts_on) if starts_on else None
        assignment = grid_people.assign(
            db=db, grid_code=code, user=person, role=role, starts_on=start, layer=layer
        )
        role_words = role_name(ASSIGNED_AS[assignment.role])
        layer_name = grid_layers.get_layer(db=db, code=assignment.layer).name
        console.print(
            f"{person.name} 自 {assignment.starts_on} 起担任网格 {code} 在{layer_name}中的{role_words}"
            f"（任职编号 {assignment.id}）",
            highlight=False,
        )


@grids_app.command("unassign")
def unassign(
    assignment_id: int = typer.Argument(..., help="任职编号（见 gridops grids people）。"),
    ends_on: str = typer.Option(
        None,
        "--on",
        help="任职的最后一天（含当天，如 2026-10-01）；默认今天，填昨天则立即结束。",
    ),
) -> None:
    """结束一项任职（仍保留在历史中）。"""
    with session() as db:
        end = date.fromisoformat(ends_on) if ends_on else None
        assignment = grid_people.end_assignment(db=db, assignment_id=assignment_id, ends_on=end)
        console.print(f"任职 {assignment.id} 的最后一天为 {assignment.ends_on}", highlight=False)


@grids_app.command("people")
def people(
    code: str = typer.Argument(None, help="只列这个网格。"),
    history: bool = typer.Option(False, "--history", help="也列出已结束和尚未开始的任职。"),
    layer: str = typer.Option(None, "--layer", help=LAYER_HELP),
) -> None:
    """列出今天一个网格图层中各网格的负责人：任职编号、网格、身份、姓名、手机号、开始日期、最后一天。"""
    with session() as db:
        chosen = grid_layers.get_layer(db=db, code=layer).code
        found = grid_people.assignments(db=db, grid_code=code, include_ended=history, layer=chosen)
        for assignment, user in found:
            print(
                f"{assignment.id}\t{assignment.grid_code}\t{role_name(ASSIGNED_AS[assignment.role])}\t"
                f"{user.name}\t{user.phone}\t{assignment.starts_on}\t{assignment.ends_on or ''}"
            )


@layers_app.command("list")
def list_layers() -> None:
    """列出网格图层，每个一行：编号、名称、本图层自己的层级、是否默认、说明。"""
    with session() as db:
        for layer in grid_layers.all_layers(db=db):
            own = layer.levels or "（无，用共用的行政区划网格）"
            default = "默认" if layer.is_default else ""
            print(f"{layer.code}\t{layer.name}\t{own}\t{default}\t{layer.description}")


@layers_app.command("add")
def add_layer(
    code: str = typer.Argument(..., help="图层编号：小写英文字母开头，可含数字和下划线，如 duty。"),
    name: str = typer.Argument(..., help="图层名称，如 责任网格。"),
    levels: str = typer.Option(
        "", help="本图层自己的层级（在共用的行政区划之下），如 duty:14=责任网格；不填则没有自己的网格。"
    ),
    description: str = typer.Option("", help="说明。"),
) -> None:
    """新增一个网格图层，之后用 gridops grids import 文件 --layer 编号 导入它的网格。"""
    with session() as db:
        layer = grid_importer.add_layer(db=db, code=code, name=name, levels=levels, description=description)
        console.print(f"已新增网格图层 {layer.code}（{layer.name}）", highlight=False)
