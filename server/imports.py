"""What the importing of a file shares, whatever it holds (the address register, the pollution sources, a
taxonomy): the routes' parameters and answers, and how an import's transaction ends."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from sqlalchemy.orm import Session

from gis.crs import CRS
from grids.registers import Register

# The routes importing a register file (addresses, pollution sources).
IMPORT_RESPONSES = {
    413: {"description": "The file is over the size limit"},
    422: {"description": "The file has errors: nothing was imported; `errors` lists every one"},
}
FileCRS = Annotated[CRS, Query(description="Coordinate system of the file's points")]
DryRun = Annotated[bool, Query(description="Only check and count, write nothing")]


def import_counts(register: Register, result) -> dict:
    """What an import answers of the file read (``register``) and of what was, or would be, written
    (``result``: the importer's added, changed and unchanged)."""
    return {
        "written": result.written, "checked": register.checked, "added": result.added,
        "changed": result.changed, "unchanged": result.unchanged, "ignored_columns": register.ignored,
    }  # fmt: skip


def end_import(db: Session, result, *, dry_run: bool) -> None:
    """End the transaction of an import: commit it and set ``result.written``, or on a dry run roll it
    back."""
    if dry_run:
        db.rollback()
    else:
        db.commit()
        result.written = True
