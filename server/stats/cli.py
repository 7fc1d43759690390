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
from server.stats.export import cell, csv_text, table_rows
from server.stats.schemas import TABLES

stats_app = typer.Typer(
    help="Dashboards: figures, rankings, CSV; rebuilding the summaries.", no_args_is_help=True
)
out = Console()
RANKINGS = ("districts", "streets", "departments", "inspectors")


def _print_table(title: str, rows: list[dict], fields: list[str]) -> None:
    table = Table(title=title)
    for field in fields:
        table.add_column(field, overflow="fold")
    for row in rows:
        table.add_row(*(cell(f, row.get(f)) for f in fields))
    out.print(table)


@stats_app.command("dashboard")
def dashboard(
    start: datetime = typer.Option(
        None, "--from", formats=["%Y-%m-%d"], help="First day (default: 29 days before --to)."
    ),
    end: datetime = typer.Option(
        None, "--to", formats=["%Y-%m-%d"], help="Last day, inclusive (default: today)."
    ),
    grid: str = typer.Option(
        None, help="Grid code: its subtree (default: the user's top grid, or the city)."
    ),
    department: str = typer.Option(None, help="Department code: the cases it leads."),
    table: str = typer.Option(None, help=f"Only this table: {', '.join(TABLES)}."),
    as_csv: bool = typer.Option(False, "--csv", help="Print the table (--table) as CSV instead."),
    as_user: str = typer.Option(
        None, "--as", help="As this user (phone, username or id); default: administrator."
    ),
) -> None:
    """Print the totals and the rankings (or one table, or it as CSV) for a period and a grid subtree."""
    if table is not None and table not in TABLES:
        raise typer.BadParameter(f"--table is one of {', '.join(TABLES)}")
    if as_csv and table is None:
        raise typer.BadParameter("--csv prints one table: name it with --table")
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
    head = f"{board.grid.name} ({board.grid.code}) {request.start}..{request.end}"
    if board.department:
        head += f", {board.department.name}"
    out.print(f"[bold]{head}[/bold]  (from the {board.source})")
    if table is None:
        totals = board.totals.model_dump(mode="json")
        _print_table("totals", [totals], list(totals))
    for name in [table] if table else RANKINGS:
        rows, fields = table_rows(board, name)
        _print_table(name, rows, fields)


@stats_app.command("rebuild")
def rebuild() -> None:
    """Recompute the summary tables from the cases and events (after a bulk load with triggers off), as the
    role that owns the schema (the rebuild renews the trigger functions and locks the audit trail)."""
    with session(owner=True) as db, progress_bar() as update:
        rows = service.rebuild(
            db=db, progress=lambda done, total: update("rebuilding summaries", done, total)
        )
    out.print(f"{rows:,} summary rows")
