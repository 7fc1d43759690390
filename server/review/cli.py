"""``gridops review ...``: the grid heads' review of a grid, and moving an inspector, as an administrator."""

from __future__ import annotations

from datetime import datetime, timedelta

import typer
from rich.console import Console
from rich.table import Column, Table

from server.auth import service as user_service
from server.auth.principal import ADMINISTRATOR
from server.case.scope import scope_of
from server.cli_common import console, session
from server.review import service

review_app = typer.Typer(
    help="The grid heads' review: staffing, patrol coverage, inspectors' work.", no_args_is_help=True
)
DAY = ["%Y-%m-%d"]


def _percent(share: float) -> str:
    return f"{share * 100:.1f}%"


def _hours(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))


@review_app.command("show")
def show(
    grid: str = typer.Option(..., "--grid", help="The grid reviewed (its children are listed too)."),
    day: datetime = typer.Option(None, formats=DAY, help="The day reviewed, local date (default: today)."),
) -> None:
    """A grid and its children: head, inspectors, coverage today and this week, open and overdue cases;
    each inspector's shifts, distance, time on shift, reports, verifications and checks; unstaffed grids."""
    with session() as db:
        scope = scope_of(db=db, principal=ADMINISTRATOR)
        found = service.review(db=db, scope=scope, code=grid, day=day.date() if day else None)
    right = lambda name: Column(name, justify="right")  # noqa: E731
    title = f"{found.grid.code} {found.grid.name}: {found.day} (week from {found.week_from})"
    grids = Table(
        "grid", "level", "name", "head", "inspectors", right("today"), right("week"), right("open"),
        right("overdue"), title=title + f", coverage within {found.coverage_m:g} m",
    )  # fmt: skip
    for row in found.grids:
        grids.add_row(
            row.code,
            row.level,
            f"[red]{row.name} (nobody)[/red]" if row.nobody else row.name,
            row.head or "",
            ", ".join(row.inspectors),
            _percent(row.coverage_today),
            _percent(row.coverage_week),
            str(row.open),
            str(row.overdue),
        )
    figures = ("km", "on shift", "reports", "verif.", "checks")
    spans = [right(f"{figure} {span}") for span in ("today", "week") for figure in figures]
    people = Table("inspector", "grids", *spans, title="inspectors")
    for person in found.inspectors:
        cells = []
        for effort in (person.today, person.week):
            cells += [f"{effort.distance_m / 1000:.2f}", _hours(effort.duration_s)]
            cells += [str(effort.reports), str(effort.verifications), str(effort.checks)]
        people.add_row(person.name, ", ".join(g.code for g in person.grids), *cells)
    out = Console()
    out.print(grids)
    out.print(people)
    out.print(f"{found.unstaffed_total} grids of {', '.join(found.levels)} with nobody")
    for ref in found.unstaffed:
        out.print(f"  {ref.code}\t{ref.level}\t{ref.name}", highlight=False)


@review_app.command("reassign")
def reassign(
    user: str = typer.Argument(..., help="The inspector's phone, username or id."),
    from_grid: str = typer.Option(..., "--from", help="The grid the inspector leaves."),
    to_grid: str = typer.Option(..., "--to", help="The grid the inspector joins."),
    on: datetime = typer.Option(None, formats=DAY, help="First day on the new grid (default: today)."),
) -> None:
    """Move an inspector to another grid: the current assignment ends the day before (or that day, if it
    started that day), the new one starts on the day."""
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
            f"{person.name}: inspector of {ended.grid_code} until {ended.ends_on}, "
            f"of {started.grid_code} from {started.starts_on} (assignment {started.id})"
        )
