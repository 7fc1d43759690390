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
from server.stats.export import FORMS, HEADERS, cell, csv_text, table_rows
from server.stats.export import TITLES as EXPORT_TITLES
from server.stats.schemas import TABLES

stats_app = typer.Typer(help="统计评价：各项指标、排名、CSV；重建汇总表。", no_args_is_help=True)
out = Console()
RANKINGS = ("districts", "streets", "departments", "inspectors")
TITLES = {"totals": "总计", **EXPORT_TITLES}
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


# The columns of the three rates in each form (the other form's rates are in the CSV of the dashboard).
RATE_FIELDS = {
    "beijing": ["rank", "code", "name", "received", "called_back", "contacted", "response_rate",
                "resolution_rate", "satisfaction_rate", "score", "grade"],
    "pingshan": ["rank", "code", "name", "received", "complaints", "population", "complaint_rate",
                 "complaint_rate_note", "closed", "completion_rate", "satisfaction_rate", "score", "grade"],
}  # fmt: skip
BY = {"street": "streets", "department": "departments"}


@stats_app.command("rates")
def rates(
    start: datetime = typer.Option(
        None, "--from", formats=["%Y-%m-%d"], help="第一天（如 2026-10-01；默认为 --to 之前 29 天）。"
    ),
    end: datetime = typer.Option(None, "--to", formats=["%Y-%m-%d"], help="最后一天，含当天（默认今天）。"),
    grid: str = typer.Option(None, help="网格编码：统计它及其下级网格（默认全市）。"),
    by: str = typer.Option("street", help="street（按街道）或 department（按部门）。"),
    as_csv: bool = typer.Option(False, "--csv", help="只把三率排名以 CSV 输出。"),
) -> None:
    """按设置的考核口径输出街道或部门的三率排名，以及市民评价和平均办结用时。"""
    if by not in BY:
        raise typer.BadParameter("只能按 street（街道）或 department（部门）排名")
    with session() as db:
        request = stats_request.resolve(
            db=db,
            principal=ADMINISTRATOR,
            start=start.date() if start else None,
            end=end.date() if end else None,
            grid=grid,
        )
        board = service.dashboard(db=db, request=request)
    fields = RATE_FIELDS[board.rates_form]
    table = f"rates_{BY[by]}"
    rows = [r.model_dump(mode="json") for r in getattr(board, table)]
    if as_csv:
        print(csv_text(rows, fields).lstrip("\ufeff"), end="")
        return
    out.print(
        f"[bold]{board.grid.name}（{board.grid.code}）{request.start} 至 {request.end}[/bold]，"
        f"考核口径：{FORMS[board.rates_form]}",
        highlight=False,
    )
    _print_table(table, rows, fields)
    for name in (f"ratings_{BY[by]}", f"working_days_{BY[by]}"):
        _print_table(name, *table_rows(board, name))


@stats_app.command("rebuild")
def rebuild() -> None:
    """以拥有数据库结构的角色，从案件和流转记录重新计算汇总表（在关闭触发器批量导入之后使用）。"""
    # As the owner: the rebuild renews the trigger functions and locks the audit trail.
    with session(owner=True) as db, progress_bar() as update:
        rows = service.rebuild(db=db, progress=lambda done, total: update("重建汇总表", done, total))
    out.print(f"汇总表已重建，共 {rows:,} 行", highlight=False)
