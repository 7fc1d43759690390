"""The ``gridops`` command."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer

from server.case.cli import cases_app
from server.category.cli import categories_app
from server.cli_common import console, fail, session
from server.config import get_settings
from server.database import app_role, database_url, embedded_cluster, owner_database_url
from server.errors import DomainError
from server.grid.cli import grids_app
from server.localdb import LocalDBError
from server.open311.cli import open311_app
from server.patrol.cli import patrol_app
from server.review.cli import review_app
from server.stats.cli import stats_app
from server.users.cli import users_app
from server.worktime.cli import calendar_app

app = typer.Typer(help="GridOps: grid-based city management.", no_args_is_help=True)
db_app = typer.Typer(help="The embedded PostgreSQL/PostGIS cluster under ./var/pg.", no_args_is_help=True)
demo_app = typer.Typer(help="The Jinan demo city.", no_args_is_help=True)
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
media_app = typer.Typer(help="The media store (the photos' files).", no_args_is_help=True)
app.add_typer(media_app, name="media")


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
def db_url(
    owner: bool = typer.Option(
        False, "--owner", help="The URL of the role that owns the schema (migrations), not the application's."
    ),
) -> None:
    """Print the database URL the application uses (or, with --owner, the migrations)."""
    try:
        print(owner_database_url() if owner else database_url())
    except RuntimeError as exc:
        fail(str(exc))


@demo_app.command("load")
def demo_load(
    seed: int = typer.Option(370100, help="Seed of the generated streets, villages and units."),
) -> None:
    """Load the Jinan demo city (grids, people, the starter taxonomy, cases in every state, this week's
    patrols); running it again adds only today's patrols on a new day."""
    from server.demo import load_demo_city

    load_demo_city(seed=seed)


@app.command()
def migrate(
    revision: str = typer.Argument("head", help="Target revision ('base' is the empty schema)."),
    down: bool = typer.Option(False, "--down", help="Downgrade to REVISION instead of upgrading."),
) -> None:
    """Bring the database schema up to REVISION (default: the newest), or down to it with --down, as the
    role that owns the schema, granting the application's role what it may do."""
    from server import migrate as migrations

    step = migrations.downgrade if down else migrations.upgrade
    try:
        step(owner_database_url(), revision, app_role=app_role())
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
        # uvicorn would believe X-Forwarded-For from any loopback client; the app reads forwarded
        # headers itself, only from the proxies in the settings (server.deps.client_address).
        proxy_headers=False,
    )


@media_app.command("sweep")
def media_sweep(
    older_than: float = typer.Option(
        None, "--older-than", help="Minutes: only older files go (default GRIDOPS_MEDIA_ORPHAN_MINUTES)."
    ),
) -> None:
    """Delete the stored files no photo names (left by failed uploads) once they are old enough."""
    from server.grid.cli import progress_bar
    from server.photo.storage import get_storage
    from server.photo.sweep import sweep_media

    settings = get_settings()
    minutes = settings.media_orphan_minutes if older_than is None else older_than
    storage = get_storage(settings)
    total = sum(1 for _ in storage.files())
    done = 0
    with session() as db, progress_bar() as update:

        def on_file() -> None:
            nonlocal done
            done += 1
            update("检查照片文件", done, total)

        result = sweep_media(db=db, storage=storage, older_than_s=minutes * 60, on_file=on_file)
    if result.skipped:
        fail("另一个进程正在清理照片文件，请稍后再试")
    console.print(
        f"检查了 {result.files} 个文件，其中 {result.old} 个超过 {minutes:g} 分钟；"
        f"删除 {result.deleted} 个没有照片记录的文件和 {result.parts} 个未写完的临时文件"
    )


@app.command("backup")
def backup_command(
    directory: Path = typer.Argument(
        None, help="A new (or empty) directory; default: <var_dir>/backups/gridops-<time>."
    ),
) -> None:
    """Back up the database (pg_dump) and the photos' files into DIRECTORY, with a manifest and checksums."""
    from server import backup
    from server.grid.cli import progress_bar
    from server.photo.storage import LocalStorage

    settings = get_settings()
    directory = directory or settings.var_dir / "backups" / f"gridops-{datetime.now():%Y%m%d-%H%M%S}"
    try:
        url = owner_database_url(settings)
        with progress_bar() as update:
            manifest = backup.backup(
                directory=directory, url=url, storage=LocalStorage(settings.media_root), progress=update
            )
    except RuntimeError as exc:
        fail(str(exc))
    counts = manifest["counts"]
    console.print(
        f"备份已写入 {directory}：{counts['cases']} 个案件、{counts['events']} 条记录、"
        f"{counts['photos']} 张照片（{len(manifest['files']) - 1} 个文件）"
    )
    if manifest["missing"]:
        fail(
            f"有 {len(manifest['missing'])} 个照片文件在存储中缺失或已损坏，未能备份"
            f"（清单 {directory / 'manifest.json'} 的 missing 中列出）：请检查照片存储所在的磁盘"
        )


@app.command("restore")
def restore_command(
    directory: Path = typer.Argument(..., help="A directory written by `gridops backup`."),
    force: bool = typer.Option(False, "--force", help="Replace the data of a database that is not empty."),
) -> None:
    """Restore a backup into the configured (empty) database and the media store, checking every file's
    checksum first."""
    from server import backup
    from server.grid.cli import progress_bar
    from server.photo.storage import LocalStorage

    settings = get_settings()
    try:
        url = owner_database_url(settings)
        with progress_bar() as update:
            manifest = backup.restore(
                directory=directory,
                url=url,
                storage=LocalStorage(settings.media_root),
                force=force,
                progress=update,
            )
    except RuntimeError as exc:
        fail(str(exc))
    counts = manifest["counts"]
    console.print(
        f"已从 {directory} 恢复 {counts['cases']} 个案件、{counts['events']} 条记录、"
        f"{counts['photos']} 张照片。请先运行 gridops migrate 把数据库结构升级到本程序的版本，再启动服务"
    )
    if manifest["missing"]:
        console.print(
            f"[yellow]注意：[/yellow]备份时有 {len(manifest['missing'])} 个照片文件缺失，这些照片无法显示"
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
