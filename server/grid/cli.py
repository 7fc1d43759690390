"""``gridops grids ...``: import, check, locate, export, people."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gis.crs import CRS
from gis.geojson import dumps, feature_collection
from grids.loaders import load_features
from grids.topology import TopologyReport
from server.auth import service as user_service
from server.cli_common import console, fail, session
from server.config import get_settings
from server.grid import importer as grid_importer
from server.grid import lookup as grid_lookup
from server.grid import people as grid_people
from server.grid import service

grids_app = typer.Typer(help="The grid hierarchy: import, check, locate, export.", no_args_is_help=True)

STAGES = {"check": "checking topology", "write": "writing grids", "index": "indexing for lookup"}


@contextmanager
def progress_bar():
    """A rich progress bar fed with ``(stage, done, total)`` calls."""
    columns = (TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        tasks: dict[str, int] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(STAGES.get(stage, stage), total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


def print_report(report: TopologyReport) -> None:
    console.print(report.format_text(), markup=False, highlight=False)


def import_records(records, report, *, dry_run: bool) -> grid_importer.ImportResult:
    with session() as db, progress_bar() as update:
        return grid_importer.import_grids(
            db=db, records=records, report=report, dry_run=dry_run, progress=update
        )


@grids_app.command("import")
def import_file(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="GeoJSON FeatureCollection."),
    crs: CRS = typer.Option(CRS.WGS84, help="Coordinate system of the file."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the topology report only; write nothing."),
) -> None:
    """Import grids (features with code, name, level, parent_code), checked before anything is written."""
    records, report = load_features(file.read_bytes(), crs=crs, scheme=get_settings().scheme)
    result = import_records(records, report, dry_run=dry_run)
    print_report(result.report)
    if not result.report.ok:
        fail("the import has errors: nothing was written")
    if result.written:
        console.print(
            f"imported: {len(result.created)} new, {len(result.new_versions)} new versions, "
            f"{len(result.renamed)} renamed, {result.unchanged} unchanged"
        )
    else:
        console.print("dry run: nothing was written")


@grids_app.command("check")
def check() -> None:
    """Topology report over every stored grid (exit 1 when it has errors)."""
    with session() as db, progress_bar() as update:
        report = grid_importer.check_stored(db=db, progress=update)
    print_report(report)
    if not report.ok:
        raise typer.Exit(1)


@grids_app.command("locate")
def locate(
    lon: float = typer.Argument(..., help="Longitude."),
    lat: float = typer.Argument(..., help="Latitude."),
    crs: CRS = typer.Option(CRS.WGS84, help="Coordinate system of LON LAT."),
) -> None:
    """Print the grids holding a point, one line per level: level, code, name."""
    with session() as db:
        _, _, chain = grid_lookup.locate(db=db, lon=lon, lat=lat, crs=crs)
    if not chain:
        fail(f"the point ({lon}, {lat}) lies outside every grid")
    for grid in chain:
        print(f"{grid.level}\t{grid.code}\t{grid.name}")


@grids_app.command("export")
def export(code: str = typer.Argument(None, help="Only this grid and its subtree.")) -> None:
    """Write current grids as a GeoJSON FeatureCollection to standard output."""
    with session() as db:
        features = service.export_features(db=db, code=code)
    sys.stdout.write(dumps(feature_collection(features)) + "\n")


@grids_app.command("assign")
def assign(
    code: str = typer.Argument(..., help="Grid code."),
    user: str = typer.Argument(..., help="The user's phone, username or id."),
    role: str = typer.Option("inspector", help="head or inspector."),
    starts_on: str = typer.Option(None, "--from", help="First day (YYYY-MM-DD); default today."),
) -> None:
    """Make a user the head (replacing the current one) or an inspector of a grid."""
    with session() as db:
        person = user_service.find_user(db=db, key=user)
        start = date.fromisoformat(starts_on) if starts_on else None
        assignment = grid_people.assign(db=db, grid_code=code, user=person, role=role, starts_on=start)
        console.print(
            f"{person.name} is {role} of {code} from {assignment.starts_on} (assignment {assignment.id})"
        )


@grids_app.command("unassign")
def unassign(
    assignment_id: int = typer.Argument(..., help="Assignment id (see `gridops grids people`)."),
    ends_on: str = typer.Option(
        None,
        "--on",
        help="Last day in force, included (YYYY-MM-DD); default today, yesterday ends it at once.",
    ),
) -> None:
    """End an assignment (it stays in the history)."""
    with session() as db:
        end = date.fromisoformat(ends_on) if ends_on else None
        assignment = grid_people.end_assignment(db=db, assignment_id=assignment_id, ends_on=end)
        console.print(f"assignment {assignment.id} ended on {assignment.ends_on}")


@grids_app.command("people")
def people(
    code: str = typer.Argument(None, help="Only this grid."),
    history: bool = typer.Option(False, "--history", help="Include ended and scheduled assignments."),
) -> None:
    """List who is responsible for which grid today: id, grid, role, name, phone, from, to (last day)."""
    with session() as db:
        for assignment, user in grid_people.assignments(db=db, grid_code=code, include_ended=history):
            print(
                f"{assignment.id}\t{assignment.grid_code}\t{assignment.role}\t{user.name}\t{user.phone}\t"
                f"{assignment.starts_on}\t{assignment.ends_on or ''}"
            )
