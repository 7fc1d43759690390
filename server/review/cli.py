"""``gridops review ...``: the grid heads' review of a grid, and moving an inspector, as an administrator."""

from __future__ import annotations

from datetime import datetime, timedelta

import typer
from rich.console import Console
from rich.table import Column, Table

from server.auth import service as user_service
from server.auth.principal import ADMINISTRATOR
from server.case.scope import scope_of
from server.cli_common import console, level_label, session
from server.review import service

review_app = typer.Typer(help="网格长的考评：人员配备、巡查覆盖、网格员的工作。", no_args_is_help=True)
DAY = ["%Y-%m-%d"]


def _percent(share: float) -> str:
    return f"{share * 100:.1f}%"


def _hours(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))


@review_app.command("show")
def show(
    grid: str = typer.Option(..., "--grid", help="考评的网格（同时列出它的下级网格）。"),
    day: datetime = typer.Option(None, formats=DAY, help="考评的日期（本地日期，如 2026-10-01；默认今天）。"),
) -> None:
    """一个网格及其下级网格：网格长、网格员、今日和本周的巡查覆盖、在办和超期案件；
    每位网格员的里程、在岗时长、上报、核实和核查；无人负责的网格。"""
    with session() as db:
        scope = scope_of(db=db, principal=ADMINISTRATOR)
        found = service.review(db=db, scope=scope, code=grid, day=day.date() if day else None)
    right = lambda name: Column(name, justify="right")  # noqa: E731
    title = f"{found.grid.code} {found.grid.name}：{found.day}（本周自 {found.week_from} 起）"
    grids = Table(
        "网格", "层级", "名称", "网格长", "网格员", right("今日覆盖"), right("本周覆盖"), right("在办"),
        right("超期"), title=title + f"，巡查覆盖按 {found.coverage_m:g} 米以内计",
    )  # fmt: skip
    for row in found.grids:
        grids.add_row(
            row.code,
            level_label(row.level),
            f"[red]{row.name}（无人负责）[/red]" if row.nobody else row.name,
            row.head or "",
            ", ".join(row.inspectors),
            _percent(row.coverage_today),
            _percent(row.coverage_week),
            str(row.open),
            str(row.overdue),
        )
    figures = ("里程（公里）", "在岗", "上报", "核实", "核查")
    spans = [right(f"{span}{figure}") for span in ("今日", "本周") for figure in figures]
    people = Table("网格员", "网格", *spans, title="网格员")
    for person in found.inspectors:
        cells = []
        for effort in (person.today, person.week):
            cells += [f"{effort.distance_m / 1000:.2f}", _hours(effort.duration_s)]
            cells += [str(effort.reports), str(effort.verifications), str(effort.checks)]
        people.add_row(person.name, ", ".join(g.code for g in person.grids), *cells)
    out = Console()
    out.print(grids)
    out.print(people)
    levels = "、".join(map(level_label, found.levels))
    hint = "：用 gridops grids assign 安排网格长或网格员" if found.unstaffed_total else ""
    out.print(f"{levels}中有 {found.unstaffed_total} 个网格无人负责{hint}", highlight=False)
    for ref in found.unstaffed:
        out.print(f"  {ref.code}\t{level_label(ref.level)}\t{ref.name}", highlight=False)


@review_app.command("reassign")
def reassign(
    user: str = typer.Argument(..., help="网格员的手机号、用户名或编号。"),
    from_grid: str = typer.Option(..., "--from", help="网格员离开的网格。"),
    to_grid: str = typer.Option(..., "--to", help="网格员调入的网格。"),
    on: datetime = typer.Option(None, formats=DAY, help="在新网格的第一天（如 2026-10-01；默认今天）。"),
) -> None:
    """把网格员调到另一个网格：原任职到前一天结束（若原任职当天才开始，则当天结束），新任职从当天开始。"""
    with session() as db:
        person = user_service.find_user(db=db, key=user)
        ended, started = service.reassign(
            db=db,
            scope=scope_of(db=db, principal=ADMINISTRATOR),
            user_id=person.id,
            from_grid=from_grid,
            to_grid=to_grid,
            on=on.date() if on else None,
        )
        console.print(
            f"{person.name}：网格 {ended.grid_code} 的网格员任职到 {ended.ends_on} 为止，"
            f"自 {started.starts_on} 起任网格 {started.grid_code} 的网格员（任职编号 {started.id}）",
            highlight=False,
        )
