"""``gridops reports ...``: make a report now, make the due ones, list the reports kept."""

from __future__ import annotations

from datetime import datetime

import typer
from rich.console import Console
from rich.table import Table

from server.auth.principal import ADMINISTRATOR
from server.case.scope import scope_of
from server.cli_common import session
from server.grid.cli import progress_bar
from server.grid.models import today
from server.report import service
from server.report.document import KIND_NAMES

reports_app = typer.Typer(
    help="日报、周报、月报：立即生成、生成到期的报告、列出已有的报告。", no_args_is_help=True
)
out = Console()
KIND_HELP = "报告类型：day（日报）、week（周报）或 month（月报）。"


def _kind(value: str) -> str:
    if value not in KIND_NAMES:
        kinds = "、".join(f"{k}（{n}）" for k, n in KIND_NAMES.items())
        raise typer.BadParameter(f"没有这种报告，可选：{kinds}")
    return value


@reports_app.command("make")
def make(
    kind: str = typer.Option(..., help=KIND_HELP, callback=_kind),
    period: datetime = typer.Option(
        None,
        formats=["%Y-%m-%d"],
        help="报告时段中的任意一天（如 2026-11-05；默认为今天之前最近结束的一期）。",
    ),
    grid: str = typer.Option(None, help="网格编码：全市、区县或街道（默认全市）。"),
) -> None:
    """立即生成（或重新生成）一份报告，保存以供下载。"""
    day = period.date() if period else None
    with session() as db:
        area = service.area(db, grid)
        with progress_bar() as update:
            report = service.make_now(db, kind, area, day, progress=update)
    out.print(f"已生成：{service.name(report)}（编号 {report.id}）", highlight=False)


@reports_app.command("due")
def due() -> None:
    """生成今天到期而还没有生成的报告（昨天的日报、上周的周报、上月的月报），与服务器的定时任务相同。"""
    with session() as db, progress_bar() as update:
        made = service.make_due(db, today(), lambda done, total: update("到期报告", done, total))
    out.print(f"生成了 {len(made)} 份报告" if made else "没有到期未生成的报告", highlight=False)


@reports_app.command("list")
def list_reports(
    kind: str = typer.Option(None, help=KIND_HELP, callback=lambda v: v and _kind(v)),
    grid: str = typer.Option(None, help="只列出这个网格的报告（网格编码）。"),
    limit: int = typer.Option(20, min=1, max=1000, help="最多列出几份。"),
) -> None:
    """列出已生成的报告，最近的时段在前。"""
    with session() as db:
        rows = service.listed(db, scope_of(db=db, principal=ADMINISTRATOR), kind, grid, limit)
    if not rows:
        out.print("还没有报告：可用 gridops reports make 生成")
        return
    table = Table(title="报告")
    for head in ("编号", "报告", "网格编码", "生成时间"):
        table.add_column(head)
    for r in rows:
        made = f"{r.generated_at.astimezone():%Y-%m-%d %H:%M}"
        table.add_row(str(r.id), service.name(r), r.grid_code, made)
    out.print(table)
