"""The ``gridops`` command."""

from __future__ import annotations

import typer

from server.auth.cli import users_app
from server.case.cli import cases_app
from server.category.cli import categories_app
from server.cli_common import console, fail
from server.config import get_settings
from server.database import database_url, embedded_cluster
from server.errors import DomainError
from server.grid.cli import demo_app, grids_app
from server.localdb import LocalDBError
from server.open311.cli import open311_app
from server.patrol.cli import patrol_app
from server.review.cli import review_app
from server.stats.cli import stats_app
from server.worktime.cli import calendar_app

app = typer.Typer(help="GridOps: grid-based city management.", no_args_is_help=True)
db_app = typer.Typer(help="The embedded PostgreSQL/PostGIS cluster under ./var/pg.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(grids_app, name="grids")
app.add_typer(users_app, name="users")
app.add_typer(demo_app, name="demo")
app.add_typer(categories_app, name="categories")
app.add_typer(calendar_app, name="calendar")
app.add_typer(cases_app, name="cases")
app.add_typer(patrol_app, name="patrol")
app.add_typer(stats_app, name="stats")
app.add_typer(review_app, name="review")
app.add_typer(open311_app, name="open311")


@db_app.command("start")
def db_start() -> None:
    """Initialise (once) and start the embedded cluster, and create the database with its extensions."""
    settings = get_settings()
    if settings.database_url:
        console.print("DATABASE_URL is set: the embedded cluster is not used.")
        return
    cluster = embedded_cluster(settings)
    try:
        cluster.start()
        cluster.ensure_database()
    except LocalDBError as exc:
        fail(str(exc))
    console.print(f"embedded database running on 127.0.0.1:{cluster.port} and {cluster.sockdir}")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded cluster."""
    try:
        embedded_cluster(get_settings()).stop()
    except LocalDBError as exc:
        fail(str(exc))


@db_app.command("status")
def db_status() -> None:
    """Say whether the embedded cluster runs (exit 3 when it does not)."""
    settings = get_settings()
    if settings.database_url:
        print("external database (DATABASE_URL)")
        return
    cluster = embedded_cluster(settings)
    if cluster.running():
        print(f"running on 127.0.0.1:{cluster.port}, data in {cluster.data}")
    else:
        print("stopped" if cluster.initialised() else "not initialised")
        raise typer.Exit(3)


@db_app.command("url")
def db_url() -> None:
    """Print the database URL the product uses."""
    try:
        print(database_url())
    except RuntimeError as exc:
        fail(str(exc))


@app.command()
def migrate(
    revision: str = typer.Argument("head", help="Target revision ('base' is the empty schema)."),
    down: bool = typer.Option(False, "--down", help="Downgrade to REVISION instead of upgrading."),
) -> None:
    """Bring the database schema up to REVISION (default: the newest), or down to it with --down."""
    from server import migrate as migrations

    step = migrations.downgrade if down else migrations.upgrade
    try:
        step(database_url(), revision)
    except RuntimeError as exc:
        fail(str(exc))
    console.print(f"database {'downgraded' if down else 'migrated'} to {revision}")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    reload: bool = typer.Option(False, help="Restart on code changes (development)."),
    workers: int = typer.Option(1, min=1, help="Server processes: about one per core left to the app."),
) -> None:
    """Run the web server (API, command center, public pages)."""
    import uvicorn

    try:
        database_url()
    except RuntimeError as exc:
        fail(str(exc))
    console.print(f"admin token for write routes: {get_settings().resolved_admin_token()}")
    uvicorn.run(
        "server.main:create_app",
        factory=True,
        host=host,
        port=port,
        reload=reload,
        workers=workers,
        timeout_graceful_shutdown=5,  # open event streams must not hold a shutdown
    )


def main() -> None:
    """The console entry point: domain errors become one line on stderr and exit code 1."""
    try:
        app()
    except DomainError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
