"""``gridops categories ...``: load a taxonomy file, list categories, departments and tags."""

from __future__ import annotations

from pathlib import Path

import typer

from server.category import service
from server.category.loader import load_taxonomy
from server.category.schemas import Kind, TaxonomyFormat
from server.cli_common import console, fail, session
from server.errors import Invalid

categories_app = typer.Typer(
    help="The category taxonomy (部件 and 事件), its departments and the case tags.", no_args_is_help=True
)


@categories_app.command("load")
def load(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="taxonomy.yaml or categories.csv."),
    fmt: TaxonomyFormat = typer.Option(None, "--format", help="Default: from the file name."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and count only; write nothing."),
) -> None:
    """Load a taxonomy file (YAML: departments, major classes, categories, tags; CSV: categories): upsert
    by code and deactivate what the file no longer holds. Any error: every one is printed, nothing loaded."""
    try:
        taxonomy = load_taxonomy(file, fmt)
        with session() as db:
            result = service.load(db=db, taxonomy=taxonomy, dry_run=dry_run)
    except Invalid as exc:
        for error in exc.details.get("errors", []):
            console.print(error, markup=False, highlight=False)
        fail(exc.message)
    console.print(result.summary(), highlight=False)
    if not result.written:
        console.print("dry run: nothing was written")


@categories_app.command("list")
def list_categories(kind: Kind = typer.Option(None, help="Only components or only events.")) -> None:
    """List the categories in use: code, name, major class, urgency, handling limit, department."""
    with session() as db:
        for c in service.list_categories(db=db, kind=kind):
            department = c.department.code if c.department else ""
            print(f"{c.code}\t{c.name}\t{c.major_name}\t{c.urgency}\t{c.handling_limit}\t{department}")


@categories_app.command("departments")
def departments() -> None:
    """List the departments in use: code, name, phone."""
    with session() as db:
        for d in service.list_departments(db=db):
            print(f"{d.code}\t{d.name}\t{d.phone or ''}")


@categories_app.command("tags")
def tags() -> None:
    """List the case tags in use: code, name, description."""
    with session() as db:
        for t in service.list_tags(db=db):
            print(f"{t.code}\t{t.name}\t{t.description or ''}")
