"""``gridops stats ...``: the dashboard's figures in the terminal, and the summaries' rebuild."""

from __future__ import annotations

from datetime import datetime

import typer
from rich.console import Console
from rich.table import Table

from server.auth import service as user_service
from server.auth.principal import ADMINISTRATOR, Principal
from server.cli_common import session
from server.grid.cli import progress_bar
from server.stats import request as stats_request
from server.stats import service
from server.stats.export import HEADERS, cell, csv_text, table_rows
from server.stats.schemas import TABLES

stats_app = typer.Typer(help="统计评价：各项指标、排名、CSV；重建汇总表。", no_args_is_help=True)
out = Console()
RANKINGS = ("districts", "streets", "departments", "inspectors")
TITLES = {
    "totals": "总计",
    "districts": "区县排名",
    "streets": "街道排名",
    "departments": "部门排名",
    "inspectors": "网格员排名",
    "trend_day": "按日趋势",
    "trend_week": "按周趋势",
    "categories": "高发类别",
    "grids": "高发网格",
    "hours": "时段分布",
    "warnings": "预警",
    "three_rates_districts": "区县三率排名",
    "three_rates_streets": "街道三率排名",
}
SOURCES = {"summary": "汇总表", "cases": "案件表"}


def _print_table(name: str, rows: list[dict], fields: list[str]) -> None:
    table = Table(title=TITLES[name])
    for field in fields:
        table.add_column(HEADERS[field], overflow="fold")
    for row in rows:
        table.add_row(*(cell(f, row.get(f)) for f in fields))
    out.print(table)


@stats_app.command("dashboard")
def dashboard(
    start: datetime = typer.Option(
        None, "--from", formats=["%Y-%m-%d"], help="第一天（如 2026-10-01；默认为 --to 之前 29 天）。"
    ),
    end: datetime = typer.Option(None, "--to", formats=["%Y-%m-%d"], help="最后一天，含当天（默认今天）。"),
    grid: str = typer.Option(None, help="网格编码：统计它及其下级网格（默认为用户的最上级网格或全市）。"),
    department: str = typer.Option(None, help="部门编码：只统计它主办的案件。"),
    table: str = typer.Option(
        None, help=f"只输出这张表：{'、'.join(f'{name}（{TITLES[name]}）' for name in TABLES)}。"
    ),
    as_csv: bool = typer.Option(False, "--csv", help="把 --table 指定的表以 CSV 输出。"),
    as_user: str = typer.Option(
        None, "--as", help="以这位用户的身份统计（手机号、用户名或编号）；默认为管理员。"
    ),
) -> None:
    """输出一段时间、一个网格范围内的总计和各项排名（或其中一张表，或它的 CSV）。"""
    if table is not None and table not in TABLES:
        raise typer.BadParameter(f"没有这张表，可选：{'、'.join(TABLES)}")
    if as_csv and table is None:
        raise typer.BadParameter("--csv 只输出一张表：请用 --table 指定")
    with session() as db:
        principal = (
            ADMINISTRATOR if as_user is None else Principal.of(user_service.find_user(db=db, key=as_user))
        )
        request = stats_request.resolve(
            db=db,
            principal=principal,
            start=start.date() if start else None,
            end=end.date() if end else None,
            grid=grid,
            department=department,
        )
        board = service.dashboard(db=db, request=request)
    if as_csv:
        rows, fields = table_rows(board, table)
        print(csv_text(rows, fields).lstrip("\ufeff"), end="")
        return
    head = f"{board.grid.name}（{board.grid.code}）{request.start} 至 {request.end}"
    if board.department:
        head += f"，{board.department.name}"
    out.print(f"[bold]{head}[/bold]（按{SOURCES[board.source]}计算）", highlight=False)
    if table is None:
        totals = board.totals.model_dump(mode="json")
        _print_table("totals", [totals], list(totals))
    for name in [table] if table else RANKINGS:
        rows, fields = table_rows(board, name)
        _print_table(name, rows, fields)


@stats_app.command("rebuild")
def rebuild() -> None:
    """以拥有数据库结构的角色，从案件和流转记录重新计算汇总表（在关闭触发器批量导入之后使用）。"""
    # As the owner: the rebuild renews the trigger functions and locks the audit trail.
    with session(owner=True) as db, progress_bar() as update:
        rows = service.rebuild(db=db, progress=lambda done, total: update("重建汇总表", done, total))
    out.print(f"汇总表已重建，共 {rows:,} 行", highlight=False)
