"""The media sweep: delete the stored files no photo row names, once they are older than
``media_orphan_minutes``.

Files are written before the rows that name them and committed with those rows, so a transaction that
fails after writing leaves orphans. Files are content-addressed: one file may be named by several rows, and
a new row may name a file stored long ago (its put makes it young again), so a file goes only when no row
names it and it was last put before the cutoff; ``Storage.delete_if_older`` checks the age again under the
store's lock. The cutoff must exceed the longest transaction that writes photos (minutes, not seconds).

The server sweeps every ``media_sweep_seconds`` (one process at a time: an advisory lock), operators with
``gridops media sweep``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from sqlalchemy import text
from sqlalchemy.orm import Session

from server.config import get_settings
from server.database import new_session
from server.photo.storage import Storage, get_storage
from server.tenant import use_every_city

log = logging.getLogger(__name__)

BATCH = 5000  # old files looked up in one query
_LOCK = "gridops media sweep"
_UNREFERENCED = text(
    "SELECT k FROM unnest(CAST(:keys AS text[])) AS k "
    "EXCEPT SELECT unnest(ARRAY[sha256, public_key, thumbnail_key]) FROM case_photo"
)


@dataclass(frozen=True)
class SweepResult:
    files: int  # stored files seen
    old: int  # of which older than the cutoff, looked up
    deleted: int  # of which no row named: deleted
    parts: int  # leftovers of interrupted writes deleted
    skipped: bool = False  # another process was sweeping


def sweep_media(
    *,
    db: Session,
    storage: Storage,
    older_than_s: float,
    on_file: Callable[[], None] | None = None,
) -> SweepResult:
    """Delete the files of ``storage`` older than ``older_than_s`` seconds that no photo row names."""
    if not db.scalar(text("SELECT pg_try_advisory_xact_lock(hashtext(:name))"), {"name": _LOCK}):
        return SweepResult(files=0, old=0, deleted=0, parts=0, skipped=True)
    use_every_city(db)  # the cities share the store: a file goes only when no city's photo names it
    cutoff = time.time() - older_than_s
    seen = old = deleted = 0

    def old_keys() -> Iterator[str]:
        nonlocal seen, old
        for key, mtime in storage.files():
            seen += 1
            if on_file:
                on_file()
            if mtime < cutoff:
                old += 1
                yield key

    for batch in _batches(old_keys(), BATCH):
        for key in db.scalars(_UNREFERENCED, {"keys": batch}):
            deleted += storage.delete_if_older(key, cutoff)
    parts = storage.delete_stale_parts(cutoff)
    db.rollback()  # read only; ends the transaction and its lock
    return SweepResult(files=seen, old=old, deleted=deleted, parts=parts)


def _batches(items: Iterable[str], size: int) -> Iterator[list[str]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def sweep_orphan_media() -> None:
    """The server's periodic sweep, with the configured store and age."""
    settings = get_settings()
    with new_session() as db:
        result = sweep_media(
            db=db, storage=get_storage(settings), older_than_s=settings.media_orphan_minutes * 60
        )
    if result.deleted or result.parts:
        log.info("media sweep deleted %d orphan files and %d partial writes", result.deleted, result.parts)
