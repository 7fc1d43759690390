"""The ``gridops`` command."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer

from server import cli_common
from server.address.cli import addresses_app
from server.anticipate.cli import evaluate, forecast_app
from server.basemaps.cli import basemaps_app, configured_layers
from server.case.callers import callers_app
from server.case.cli import cases_app
from server.category.cli import categories_app
from server.city.cli import cities_app
from server.cli_common import console, fail, print_error, session
from server.config import get_settings
from server.database import app_role, database_url, embedded_cluster, owner_database_url
from server.errors import DomainError
from server.grid.cli import grids_app
from server.knowledge.cli import answers_app
from server.localdb import LocalDBError
from server.open311.cli import open311_app
from server.patrol.cli import patrol_app
from server.proactive.cli import daily
from server.report.cli import reports_app
from server.review.cli import review_app
from server.source.cli import sources_app
from server.stats.cli import stats_app
from server.triage.cli import triage_app
from server.users.cli import users_app
from server.warning.cli import warnings_app
from server.worktime.cli import calendar_app

app = typer.Typer(help="GridOps 网格化城市管理。", no_args_is_help=True)
db_app = typer.Typer(help="内置的 PostgreSQL/PostGIS 数据库（位于 ./var/pg）。", no_args_is_help=True)
demo_app = typer.Typer(help="示例城市（济南、北京）。", no_args_is_help=True)


@app.callback()
def work_in(
    city: str = typer.Option(
        None,
        "--city",
        help="在哪个城市里工作（城市代码，如 370100）；不写：GRIDOPS_CITY 所指的城市，或最先登记的城市。",
    ),
) -> None:
    """GridOps 网格化城市管理。"""
    cli_common.working_city = city


app.add_typer(db_app, name="db")
app.add_typer(cities_app, name="cities")
app.add_typer(grids_app, name="grids")
app.add_typer(addresses_app, name="addresses")
app.add_typer(sources_app, name="sources")
app.add_typer(answers_app, name="answers")
app.add_typer(triage_app, name="triage")
app.add_typer(users_app, name="users")
app.add_typer(demo_app, name="demo")
app.add_typer(categories_app, name="categories")
app.add_typer(calendar_app, name="calendar")
app.add_typer(cases_app, name="cases")
app.add_typer(callers_app, name="callers")
app.add_typer(patrol_app, name="patrol")
app.add_typer(stats_app, name="stats")
app.add_typer(reports_app, name="reports")
app.add_typer(review_app, name="review")
warnings_app.command("evaluate")(evaluate)
forecast_app.command("daily")(daily)
app.add_typer(warnings_app, name="warnings")
app.add_typer(forecast_app, name="forecast")
app.add_typer(open311_app, name="open311")
app.add_typer(basemaps_app, name="basemaps")
media_app = typer.Typer(help="照片文件的存储。", no_args_is_help=True)
app.add_typer(media_app, name="media")


@db_app.command("start")
def db_start() -> None:
    """初始化（仅第一次）并启动内置数据库，建好数据库及其扩展。"""
    settings = get_settings()
    if settings.database_url:
        console.print("已设置 DATABASE_URL，使用其中的数据库，不启动内置数据库")
        return
    cluster = embedded_cluster(settings)
    try:
        cluster.start()
        cluster.ensure_database()
    except LocalDBError as exc:
        fail(str(exc))
    console.print(
        f"内置数据库已启动：127.0.0.1:{cluster.port}，套接字目录 {cluster.sockdir}；"
        "接着运行 gridops migrate 建立或升级数据库结构",
        highlight=False,
    )


@db_app.command("stop")
def db_stop() -> None:
    """停止内置数据库。"""
    try:
        embedded_cluster(get_settings()).stop()
    except LocalDBError as exc:
        fail(str(exc))


@db_app.command("status")
def db_status() -> None:
    """说明内置数据库是否在运行（没有运行时退出码为 3）。"""
    settings = get_settings()
    if settings.database_url:
        print("使用外部数据库（DATABASE_URL）")
        return
    cluster = embedded_cluster(settings)
    if cluster.running():
        print(f"运行中：127.0.0.1:{cluster.port}，数据目录 {cluster.data}")
    else:
        print(
            "已停止：用 gridops db start 启动"
            if cluster.initialised()
            else "尚未初始化：用 gridops db start 初始化并启动"
        )
        raise typer.Exit(3)


@db_app.command("url")
def db_url(
    owner: bool = typer.Option(
        False, "--owner", help="输出拥有数据库结构的角色（迁移使用）的连接地址，而不是应用的。"
    ),
) -> None:
    """输出应用使用的数据库连接地址（加 --owner 时输出迁移使用的）。"""
    try:
        print(owner_database_url() if owner else database_url())
    except RuntimeError as exc:
        fail(str(exc))


@demo_app.command("load")
def demo_load(
    seed: int = typer.Option(370100, help="生成济南的街道、社区村和单元网格所用的随机种子。"),
) -> None:
    """载入济南、北京两个示例城市（网格、人员、起步分类、案件，济南另有本周的巡查）和两市通用的平台管理员；
    再次运行时，只在新的一天补上济南当天的巡查。"""
    from server.demo import load_demo_city

    load_demo_city(seed=seed)


@demo_app.command("history")
def demo_history(
    years: float = typer.Option(2.0, help="生成多少年的历史（到今天为止），可以是小数。"),
    days: int = typer.Option(None, help="改为按天数生成（如 60），优先于年数。"),
    seed: int = typer.Option(19, help="随机种子：同一种子在同一天生成同样的历史。"),
) -> None:
    """在示例城市（先载入它）里生成一段模拟的历史案件：按周、季节、节假日起伏，含长期高发点、
    几次突增和表现各异的处置部门，每件案件都有完整的流转记录、计时、回访和评价；生成参数和
    埋入的突增记为真值。再次运行会替换上一次生成的历史，示例案件不受影响；最后重建统计汇总表。"""
    from server.case import history
    from server.grid.cli import progress_bar
    from server.stats import service as stats_service

    span = days or round(years * 365)
    if span < 1:
        fail("历史至少要有一天：请给出大于零的年数或天数")
    started = datetime.now()
    with session(owner=True) as db, progress_bar() as update:
        try:
            made = history.generate(db=db, days=span, seed=seed, progress=update)
        except LookupError:
            fail("没有找到示例城市的历下区单元网格或起步分类：请先载入济南示例城市，再生成历史")
        stats_service.rebuild(db=db, progress=lambda done, total: update("重建汇总表", done, total))
    seconds = (datetime.now() - started).total_seconds()
    console.print(
        f"模拟历史：{made.first_day} 至 {made.last_day}，案件 {made.cases:,} 件，"
        f"流转记录 {made.events:,} 条，用时 {seconds:.0f} 秒；统计汇总表已重建",
        highlight=False,
    )


@app.command()
def migrate(
    revision: str = typer.Argument("head", help="目标版本（head 为最新，base 为空结构）。"),
    down: bool = typer.Option(False, "--down", help="降级到 REVISION，而不是升级。"),
) -> None:
    """以拥有数据库结构的角色，把数据库结构升级到 REVISION（默认最新），或加 --down 降级到它，
    并授予应用的角色它能做的操作。"""
    from server import migrate as migrations

    step = migrations.downgrade if down else migrations.upgrade
    try:
        step(owner_database_url(), revision, app_role=app_role())
    except RuntimeError as exc:
        fail(str(exc))
    console.print(f"数据库结构已{'降级' if down else '升级'}到 {revision}", highlight=False)
    if not down and not migrations.comparisons_leakproof(owner_database_url()):
        console.print(
            "注意：网格路径和空间的比较函数还没有标记为 LEAKPROOF，按城市隔离的查询用不上索引、会很慢："
            "请以数据库超级用户执行 README「Database roles」一节里的语句",
            highlight=False,
        )


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="监听的地址。"),
    port: int = typer.Option(8000, help="监听的端口。"),
    reload: bool = typer.Option(False, help="代码改动后自动重启（开发时用）。"),
    workers: int = typer.Option(1, min=1, help="服务进程数：留给本程序的每个处理器核心约一个。"),
) -> None:
    """运行网页服务（接口、指挥中心、公众页面）。"""
    import uvicorn

    try:
        database_url()
    except RuntimeError as exc:
        fail(str(exc))
    configured_layers()  # a bad base map file: every problem now, not a traceback from the server's start
    console.print(f"管理员令牌（用于写操作）：{get_settings().resolved_admin_token()}", highlight=False)
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
        None, "--older-than", help="分钟数：只删除比这更旧的文件（默认取 GRIDOPS_MEDIA_ORPHAN_MINUTES）。"
    ),
) -> None:
    """删除没有照片记录的存储文件（上传失败时留下的），只删足够旧的。"""
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


@media_app.command("copy")
def media_copy() -> None:
    """把本地照片目录中的全部文件复制到配置的对象存储（GRIDOPS_PHOTO_STORAGE=s3），已有的跳过。"""
    from server.grid.cli import progress_bar
    from server.photo.storage import LocalStorage, get_storage

    settings = get_settings()
    if settings.photo_storage != "s3":
        fail("没有配置对象存储：请先设置 GRIDOPS_PHOTO_STORAGE=s3 和 GRIDOPS_S3_... 各项，再运行本命令")
    source, target = LocalStorage(settings.media_root), get_storage(settings)
    try:
        present = {key for key, _ in target.files()}
        local = [key for key, _ in source.files()]
        keys = [key for key in local if key not in present]
        with progress_bar() as update:
            for done, key in enumerate(keys, 1):
                target.put(source.get(key))
                update("复制照片文件", done, len(keys))
    except OSError:
        fail("对象存储无法访问：请检查网络和 GRIDOPS_S3_... 各项设置后重新运行（已复制的会跳过）")
    console.print(f"复制了 {len(keys)} 个照片文件；另有 {len(local) - len(keys)} 个对象存储中已有，跳过了")


@app.command("backup")
def backup_command(
    directory: Path = typer.Argument(
        None, help="一个新的（或空的）目录；默认为 var 目录下的 backups/gridops-日期-时间。"
    ),
) -> None:
    """把数据库（用 pg_dump）和照片文件备份到 DIRECTORY，附清单和校验和。"""
    from server import backup
    from server.grid.cli import progress_bar
    from server.photo.storage import get_storage

    settings = get_settings()
    directory = directory or settings.var_dir / "backups" / f"gridops-{datetime.now():%Y%m%d-%H%M%S}"
    try:
        url = owner_database_url(settings)
        with progress_bar() as update:
            manifest = backup.backup(
                directory=directory, url=url, storage=get_storage(settings), progress=update
            )
    except RuntimeError as exc:
        fail(str(exc))
    counts = manifest["counts"]
    console.print(
        f"备份已写入 {directory}：{counts['cases']} 个案件、{counts['events']} 条记录、"
        f"{counts['photos']} 张照片（{len(manifest['files']) - 1} 个文件）："
        "请把这个目录另存到别的磁盘或机器上",
        highlight=False,
    )
    if manifest["missing"]:
        fail(
            f"有 {len(manifest['missing'])} 个照片文件在存储中缺失或已损坏，未能备份"
            f"（清单 {directory / 'manifest.json'} 的 missing 中列出）：请检查照片存储所在的磁盘"
        )


@app.command("restore")
def restore_command(
    directory: Path = typer.Argument(..., help="由 gridops backup 写出的备份目录。"),
    force: bool = typer.Option(False, "--force", help="目标数据库不是空的时，也替换其中的数据。"),
) -> None:
    """先核对每个文件的校验和，再把备份恢复到配置的（空）数据库和照片存储中。"""
    from server import backup
    from server.grid.cli import progress_bar
    from server.photo.storage import get_storage

    settings = get_settings()
    try:
        url = owner_database_url(settings)
        with progress_bar() as update:
            manifest = backup.restore(
                directory=directory,
                url=url,
                storage=get_storage(settings),
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
        print_error(exc.message)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
