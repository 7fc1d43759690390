"""``gridops warnings ...``: scan a week for unusual counts and raise warnings, list them, close one."""

from __future__ import annotations

from datetime import datetime, timedelta

import typer
from rich.console import Console
from rich.table import Table

from server.auth.principal import ADMINISTRATOR
from server.case.scope import scope_of
from server.cli_common import session
from server.grid import service as grid_service
from server.grid.models import today
from server.warning import service
from server.warning.models import STATE_NAMES, STATES

warnings_app = typer.Typer(help="预警：扫描异常的案件数量、查看和关闭预警。", no_args_is_help=True)
DAY = ["%Y-%m-%d"]
STATE_HELP = "只列出这些状态（可重复）：" + "、".join(STATES)


@warnings_app.command("scan")
def scan(
    week: datetime = typer.Option(
        None, formats=DAY, help="扫描的一周中的任一天（本地日期，如 2026-11-30；默认昨天所在的一周）。"
    ),
) -> None:
    """检测一周（周一至周日；本周只到昨天）内各区域各类别的突增高频和长期高频问题，产生预警；已有的未关闭
    预警更新数字。"""
    from server.anticipate.detect import scan as detect

    yesterday = today() - timedelta(days=1)
    day = week.date() if week else yesterday
    start = day - timedelta(days=day.weekday())
    end = min(start + timedelta(days=6), yesterday)
    if end < start:
        raise typer.BadParameter("这一周还没有过完一天：请选择昨天或更早的日期", param_hint="--week")
    with session() as db:
        signals = detect(db, start, end)
        raised = service.raise_signals(db, signals)
        new = sum(1 for w in raised if w.resignalled == 0)
        out = Console()
        out.print(
            f"{start} 至 {end}：发现 {len(signals)} 个异常，新产生 {new} 条预警，"
            f"{len(raised) - new} 条未关闭的预警更新了数字",
            highlight=False,
        )
        for warning in raised:
            out.print(f"  #{warning.id} {warning.message}", highlight=False)


@warnings_app.command("list")
def list_warnings(
    state: list[str] = typer.Option(None, "--state", help=STATE_HELP),
    grid: str = typer.Option(None, "--grid", help="只列出这个网格及其下级网格的预警。"),
) -> None:
    """列出预警（默认未关闭的），最新的在前。"""
    with session() as db:
        scope = scope_of(db=db, principal=ADMINISTRATOR)
        path = None
        if grid:
            path = grid_service.get_grid(db=db, code=grid).path
        for name in state or ():
            if name not in STATES:
                raise typer.BadParameter(
                    f"没有状态 {name}：请从 {'、'.join(STATES)} 中选择", param_hint="--state"
                )
        found = service.listing(db, scope, states=state or service.OPEN, grid_path=path)
        table = Table(
            "编号", "状态", "区域", "时段", "实际", "预期", "提醒函", "说明", title=f"预警 {len(found)} 条"
        )
        for w in found:
            table.add_row(
                str(w.id),
                STATE_NAMES[w.state],
                w.area_name,
                f"{w.period_start} 至 {w.period_end}",
                str(w.observed),
                f"{w.expected:.1f}",
                w.letter_number or "",
                w.message,
            )
        Console().print(table)


@warnings_app.command("close")
def close(
    warning_id: int = typer.Argument(..., help="预警编号（gridops warnings list 中的编号）。"),
    reason: str = typer.Option(..., "--reason", help="关闭的原因。"),
) -> None:
    """以管理员身份关闭一条预警并记下原因。"""
    with session() as db:
        scope = scope_of(db=db, principal=ADMINISTRATOR)
        warning = service.close(db, ADMINISTRATOR, scope, warning_id, reason=reason)
        Console().print(
            f"预警 #{warning.id}（{warning.area_name}）已关闭：{warning.close_reason}", highlight=False
        )
