"""``gridops basemaps ...``: check the base map configuration, and make raster MBTiles packages of a grid's
area for the phone (cut from a local package, or downloaded once from a tile service)."""

from __future__ import annotations

from pathlib import Path

import typer

from server import messages
from server.basemaps import config
from server.basemaps.config import BasemapsError, Layer
from server.basemaps.pack import cut, grid_bounds, pack, parse_zooms, tile_client
from server.cli_common import console, fail, session
from server.config import get_settings
from server.errors import DomainError
from server.grid.cli import progress_bar

basemaps_app = typer.Typer(help="底图：检查底图配置，为手机裁切或下载瓦片包。", no_args_is_help=True)
KINDS = {"xyz": "瓦片服务", "style": "地图样式", "package": "本地瓦片包"}
GROUPS = {"base": "底图", "overlay": "叠加注记"}
STAGES = {"cut": "裁切瓦片", "pack": "下载瓦片"}


def configured_layers() -> tuple[Layer, ...]:
    """The configured layers, or every problem of the file and exit status 1."""
    try:
        return config.configured()
    except BasemapsError as exc:
        for problem in exc.problems:
            console.print(f"- {problem}", markup=False, highlight=False)
        fail(exc.summary)


def _layer(layer_id: str) -> Layer:
    found = next((layer for layer in configured_layers() if layer.id == layer_id), None)
    if found is None:
        fail(messages.text("basemaps.unknown_layer", layer=layer_id))
    return found


@basemaps_app.command("check")
def check() -> None:
    """检查底图配置文件（GRIDOPS_BASEMAPS）：列出每个图层，或每一处错误及改法。"""
    layers = configured_layers()
    if not layers:
        console.print("没有配置底图：地图只显示网格和案件，不从别处取任何瓦片", highlight=False)
        return
    for layer in layers:
        console.print(
            f"{layer.id}  {layer.name}  {GROUPS[layer.group]}  {KINDS[layer.kind]}",
            markup=False,
            highlight=False,
        )
    console.print(f"底图配置没有问题：共 {len(layers)} 个图层", highlight=False)


def _zooms_and_bounds(grid: str, zooms: str) -> tuple[tuple[int, int], tuple[float, float, float, float]]:
    span = parse_zooms(zooms)
    with session() as db:
        return span, grid_bounds(db, grid)


@basemaps_app.command("cut")
def cut_command(
    layer: str = typer.Argument(..., help="本地瓦片包图层的编号（底图配置中的编号）。"),
    grid: str = typer.Option(..., "--grid", help="网格编码：裁切这个网格范围内的瓦片。"),
    zooms: str = typer.Option("12-17", "--zooms", help="缩放级别范围，如 12-17。"),
    out: Path = typer.Option(..., "--out", dir_okay=False, help="写出的瓦片包文件（.mbtiles）。"),
) -> None:
    """从本地图片瓦片包中裁切一个网格范围内的瓦片，写成手机可用的瓦片包（用手机应用的 --mbtiles 打开）。"""
    found = _layer(layer)
    try:
        span, bounds = _zooms_and_bounds(grid, zooms)
        with progress_bar() as update:
            count = cut(found, grid=grid, bounds=bounds, zooms=span, out=out, progress=_staged(update))
    except DomainError as exc:
        fail(exc.message)
    console.print(f"已把 {count} 个瓦片写入 {out}：把这个文件复制到手机上，用手机应用打开它", highlight=False)


@basemaps_app.command("pack")
def pack_command(
    layer: str = typer.Option(..., "--layer", help="瓦片服务图层的编号（底图配置中的编号）。"),
    grid: str = typer.Option(..., "--grid", help="网格编码：下载这个网格范围内的瓦片。"),
    zooms: str = typer.Option("12-17", "--zooms", help="缩放级别范围，如 12-17。"),
    out: Path = typer.Option(..., "--out", dir_okay=False, help="写出的瓦片包文件（.mbtiles）。"),
) -> None:
    """从瓦片服务（本市的瓦片服务器，或用本市密钥的天地图）逐个下载一个网格范围内的瓦片，写成瓦片包；
    在能访问该服务的地方运行一次即可，瓦片数超过上限（GRIDOPS_BASEMAPS_PACK_MAX_TILES）时不下载。"""
    found = _layer(layer)
    try:
        span, bounds = _zooms_and_bounds(grid, zooms)
        with tile_client() as http, progress_bar() as update:
            count = pack(
                found,
                grid=grid,
                bounds=bounds,
                zooms=span,
                out=out,
                progress=_staged(update),
                max_tiles=get_settings().basemaps_pack_max_tiles,
                http=http,
            )
    except DomainError as exc:
        fail(exc.message)
    console.print(f"已下载 {count} 个瓦片，写入 {out}", highlight=False)


def _staged(update):
    """The progress bar's update with the stage in words."""
    return lambda stage, done, total: update(STAGES[stage], done, total)
