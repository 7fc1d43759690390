"""``gridops triage ...``: train the city's model, evaluate it against the baselines, list its versions and
roll one back."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from server.cli_common import console, session
from server.grid.cli import progress_bar
from server.triage import evaluate, service

triage_app = typer.Typer(help="智能分拣：按描述推荐问题类别、紧急程度和处置部门。", no_args_is_help=True)
WHO = "命令行"


def _say(text: str) -> None:
    console.print(text, highlight=False, markup=False)


@triage_app.command("train")
def train(note: str = typer.Option(None, help="说明这次训练的原因，随版本保存。")) -> None:
    """用本市已结案件（按最终类别和最终处置部门）训练新版本并立即启用；旧版本保留以便回退。"""
    with session() as db, progress_bar() as update:
        row = service.train(db=db, trained_by=WHO, note=note, progress=update)
    m = row.metrics
    _say(
        f"已训练并启用分拣模型第 {row.version} 版：{row.cases:,} 件已结案件、{row.categories} 个类别、"
        f"{row.features:,} 个特征，读取 {m['read_seconds']} 秒、训练 {m['train_seconds']} 秒，"
        f"模型 {m['bytes'] / 1024:.0f} KB"
    )


@triage_app.command("versions")
def versions() -> None:
    """列出保留的模型版本：版本、训练时间、训练者、案件数、是否在用。"""
    with session() as db:
        rows = service.versions(db=db)
        if not rows:
            _say("还没有训练过分拣模型：现在按分类表的名称和别名推荐。运行 gridops triage train 训练。")
            return
        table = Table("版本", "训练时间", "训练者", "案件数", "类别", "特征", "在用", "说明")
        for r in rows:
            when = r.trained_at.astimezone().strftime("%Y-%m-%d %H:%M")
            table.add_row(
                str(r.version), when, r.trained_by, f"{r.cases:,}", str(r.categories), f"{r.features:,}",
                "是" if r.active else "", r.note or "",
            )  # fmt: skip
        console.print(table)


@triage_app.command("use")
def use(version: int = typer.Argument(..., help="要启用的版本号（见 gridops triage versions）。")) -> None:
    """启用一个保留的版本（回退到旧模型，或换回新模型）。"""
    with session() as db:
        row = service.activate(db=db, version=version)
        _say(f"已启用分拣模型第 {row.version} 版")


@triage_app.command("rollback")
def rollback() -> None:
    """回退到在用版本之前的那一版。"""
    with session() as db:
        row = service.roll_back(db=db)
        _say(f"已回退到分拣模型第 {row.version} 版")


@triage_app.command("evaluate")
def evaluate_command(
    held_out: float = typer.Option(0.1, min=0.01, max=0.5, help="留出最近已结案件的比例（默认最近 10%）。"),
    markdown: Path = typer.Option(None, help="把结果表另存为 Markdown 文件（如写入文档）。"),
) -> None:
    """留出最近的已结案件，用此前的案件训练，比较模型与两个基线（本网格最常见、仅关键词匹配）的
    类别和部门 top-1、top-3 准确率；不改变在用的模型。"""
    with session() as db, progress_bar() as update:
        result = evaluate.run(db=db, held_out=held_out, progress=update)
    table = Table("方法", "类别 top-1", "类别 top-3", "部门 top-1", "部门 top-3")
    for name, *rates in result.rows():
        table.add_row(name, *(f"{r:.1%}" for r in rates))
    _say(result.markdown().splitlines()[0])
    console.print(table)
    _say(f"训练 {result.train_seconds:.1f} 秒；每件推荐（含分词）中位 {result.suggest_ms:.3f} 毫秒")
    if markdown:
        markdown.write_text(result.markdown() + "\n", encoding="utf-8")
        _say(f"结果表已写入 {markdown}")
