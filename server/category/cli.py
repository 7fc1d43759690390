"""``gridops categories ...``: load a taxonomy file, list categories, departments and tags."""

from __future__ import annotations

from pathlib import Path

import typer

from server.category import service
from server.category.loader import load_taxonomy
from server.category.sample import write_sample
from server.category.schemas import URGENCY_LABELS, Kind, TaxonomyFormat
from server.cli_common import console, fail, session
from server.errors import Invalid

categories_app = typer.Typer(help="问题分类（部件和事件）、处置部门和案件标签。", no_args_is_help=True)


@categories_app.command("load")
def load(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="分类文件：taxonomy.yaml 或 categories.csv。"
    ),
    fmt: TaxonomyFormat = typer.Option(None, "--format", help="文件格式；默认按文件名判断。"),
    dry_run: bool = typer.Option(False, "--dry-run", help="只检查和计数，不写入。"),
) -> None:
    """载入分类文件（YAML：部门、大类、小类、标签；CSV：小类）：按编码新增或更新，文件里没有的停用。
    有错误时列出每一处错误，什么都不载入。"""
    try:
        taxonomy = load_taxonomy(file, fmt)
        with session() as db:
            result = service.load(db=db, taxonomy=taxonomy, dry_run=dry_run)
    except Invalid as exc:
        for error in exc.params.get("errors", []):
            console.print(error, markup=False, highlight=False)
        fail(exc.message)
    console.print(result.summary(), highlight=False)
    if not result.written:
        console.print("只做了检查，没有写入：去掉 --dry-run 再运行一次即可载入")


@categories_app.command("list")
def list_categories(
    kind: Kind = typer.Option(None, help="只列部件（component）或只列事件（event）。"),
) -> None:
    """列出在用的类别（大类、中类、小类……）：编码、名称、所属上级类别（从大类起，用 / 分隔）、
    紧急程度、处置时限、处置部门（各项含从上级类别继承的）。"""
    with session() as db:
        for c in service.list_categories(db=db, kind=kind):
            department = c.department.code if c.department else ""
            urgency = URGENCY_LABELS[c.urgency] if c.urgency else ""
            trail = " / ".join(c.trail)
            print(f"{c.code}\t{c.name}\t{trail}\t{urgency}\t{c.handling_limit or ''}\t{department}")


@categories_app.command("sample")
def sample(
    file: Path = typer.Argument(
        ..., dir_okay=False, help="要写出的分类文件：.yaml（分层嵌套）或 .csv（每行一个类别）。"
    ),
    classes: int = typer.Option(
        1007,
        "--classes",
        min=1,
        max=8000,
        help="最细一级的类别数；大类和中类的数目按坪山的比例（17 / 189 / 1007）。",
    ),
    seed: int = typer.Option(1, "--seed", help="随机数种子：同一种子写出同样的文件。"),
) -> None:
    """写出一个坪山式的三级分类示例文件（大类、中类、小类，部门和时限写在大类上，部分中类和小类另行设定），
    用于试验和测速，可用 gridops categories load 载入。"""
    counts = write_sample(file, classes=classes, seed=seed)
    console.print(
        f"已写出 {file}：大类 {counts[0]} 个，中类 {counts[1]} 个，小类 {counts[2]} 个", highlight=False
    )


@categories_app.command("departments")
def departments() -> None:
    """列出在用的处置部门：编码、名称、电话。"""
    with session() as db:
        for d in service.list_departments(db=db):
            print(f"{d.code}\t{d.name}\t{d.phone or ''}")


@categories_app.command("tags")
def tags() -> None:
    """列出在用的案件标签：编码、名称、说明。"""
    with session() as db:
        for t in service.list_tags(db=db):
            print(f"{t.code}\t{t.name}\t{t.description or ''}")
