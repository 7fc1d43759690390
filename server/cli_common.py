"""What every ``gridops`` sub-command shares: the error console and a database session."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from server.database import new_session, owner_database_url

console = Console(stderr=True)


def fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(1)


@contextmanager
def session(*, owner: bool = False) -> Iterator[Session]:
    """A session as the application, or with ``owner`` as the role that owns the schema (maintenance that
    alters or locks what only the owner may)."""
    try:
        db = new_session(owner_database_url()) if owner else new_session()
    except RuntimeError as exc:
        fail(str(exc))
    with db:
        yield db
