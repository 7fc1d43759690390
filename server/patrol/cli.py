"""``gridops patrol ...``: the patrol shifts of a day and a shift's track, as an administrator sees them;
``gridops patrol task ...``: proactive patrol tasks (server/patrol/tasks.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import typer
from rich.console import Console
from rich.table import Column, Table

from server.auth import service as user_service
from server.auth.principal import ADMINISTRATOR, Principal
from server.cli_common import console, session
from server.grid.models import today
from server.patrol import service, tasks, visibility

patrol_app = typer.Typer(help="巡查班次及其轨迹。", no_args_is_help=True)
ON_SHIFT = "巡查中"


def _duration(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))


@patrol_app.command("shifts")
def shifts(
    user: str = typer.Option(None, "--user", help="只列这位用户的班次（手机号、用户名或编号）。"),
    day: datetime = typer.Option(
        None, formats=["%Y-%m-%d"], help="班次开始的日期（本地日期，如 2026-10-01；默认今天）。"
    ),
) -> None:
    """某一天开始的巡查班次：谁、何时、轨迹点数、里程和在岗时长。"""
    on = day.date() if day else service.local_day(datetime.now(UTC))
    with session() as db:
        user_id = user_service.find_user(db=db, key=user).id if user else None
        viewer = visibility.viewer_of(db=db, principal=ADMINISTRATOR)
        found = service.describe(
            db=db, shifts=visibility.list_shifts(db=db, viewer=viewer, day=on, user_id=user_id)
        )
    figures = (Column(name, justify="right") for name in ("轨迹点", "里程（米）", "在岗时长"))
    table = Table(Column("班次", no_wrap=True), "巡查人", "开始", "结束", *figures, title=f"{on} 的巡查")
    for shift in found:
        table.add_row(
            str(shift.client_uuid),
            f"{shift.user_name} ({shift.user_id})",
            service.local_time(shift.started_at),
            service.local_time(shift.ended_at) if shift.ended_at else ON_SHIFT,
            str(shift.points),
            f"{shift.distance_m:.1f}",
            _duration(shift.duration_s),
        )
    Console().print(table)
    console.print(f"共 {len(found)} 个班次：用 gridops patrol track 班次 查看轨迹", highlight=False)


@patrol_app.command("track")
def track(
    client_uuid: UUID = typer.Argument(..., help="班次的编号（UUID，见 gridops patrol shifts）。"),
    geojson: bool = typer.Option(False, "--geojson", help="以 GeoJSON（Feature）输出轨迹。"),
) -> None:
    """一个班次的轨迹：汇总数字和每个点（时间、位置、是否计入里程）。"""
    with session() as db:
        viewer = visibility.viewer_of(db=db, principal=ADMINISTRATOR)
        feature = service.track_feature(
            db=db, shift=visibility.get_shift(db=db, viewer=viewer, client_uuid=client_uuid)
        )
    if geojson:
        print(feature.model_dump_json())
        return
    shift = feature.properties
    started = service.local_time(shift.started_at)
    ended = service.local_time(shift.ended_at) if shift.ended_at else ON_SHIFT
    print(f"{shift.client_uuid}  {shift.user_name}（{shift.user_id}）  {started} 至 {ended}")
    print(f"{shift.points} 个轨迹点，里程 {shift.distance_m:.1f} 米，在岗 {_duration(shift.duration_s)}")
    table = Table("序号", "记录时间", "经度", "纬度", "计入里程")
    skipped = set(shift.skipped)
    coordinates = feature.geometry.coordinates if feature.geometry else []  # none below two points
    for i, (moment, (lon, lat)) in enumerate(zip(shift.times, coordinates, strict=False)):
        counted = "否" if i in skipped else "是"
        table.add_row(str(i), service.local_time(moment), f"{lon:.7f}", f"{lat:.7f}", counted)
    Console().print(table)


task_app = typer.Typer(help="主动巡查任务：布置、列出、取消。", no_args_is_help=True)
patrol_app.add_typer(task_app, name="task")


@task_app.command("add")
def task_add(
    grid: str = typer.Option(..., "--grid", help="巡查的网格编码（社区村或单元网格）。"),
    inspector: str = typer.Option(..., "--inspector", help="网格员（手机号、用户名或编号）。"),
    reason: str = typer.Option(..., "--reason", help="布置的原因，网格员会在手机上看到。"),
    starts_on: datetime = typer.Option(None, "--from", formats=["%Y-%m-%d"], help="开始日期（默认今天）。"),
    ends_on: datetime = typer.Option(
        None, "--to", formats=["%Y-%m-%d"], help="结束日期（含当天，默认同开始日期）。"
    ),
    category: str = typer.Option(None, "--category", help="重点查找的问题类别编码（可不填）。"),
    as_user: str = typer.Option(
        None, "--as", help="以这位用户的身份布置（手机号、用户名或编号）；默认为管理员。"
    ),
) -> None:
    """给网格员布置一次主动巡查：在哪个网格、哪几天、重点查什么、为什么。"""
    first = starts_on.date() if starts_on else today()
    with session() as db:
        by = ADMINISTRATOR if as_user is None else Principal.of(user_service.find_user(db=db, key=as_user))
        task = tasks.assign(
            db,
            grid=grid,
            category=category,
            assignee=user_service.find_user(db=db, key=inspector).id,
            by=by,
            source="manual",
            reason=reason,
            starts_on=first,
            ends_on=ends_on.date() if ends_on else first,
        )
        (out,) = tasks.describe(db, [task])
    where = f"{out.grid_name}（{out.grid_code}）"
    print(f"已布置巡查任务 {out.id}：{out.assignee} 于 {out.starts_on} 至 {out.ends_on} 巡查 {where}")


@task_app.command("list")
def task_list(
    grid: str = typer.Option(None, "--grid", help="只列这个网格及其下级网格的任务。"),
    day: datetime = typer.Option(
        None, "--on", formats=["%Y-%m-%d"], help="列出这天及以后结束的任务（默认今天）。"
    ),
) -> None:
    """尚未结束的主动巡查任务及其巡查进度。"""
    with session() as db:
        found = tasks.describe(
            db, tasks.listing(db, by=ADMINISTRATOR, grid=grid, on=day.date() if day else None)
        )
    table = Table(
        "编号",
        "网格",
        "网格员",
        "类别",
        "日期",
        "状态",
        "巡查（分钟）",
        "主动发现",
        "原因",
        title="主动巡查任务",
    )
    for t in found:
        table.add_row(
            str(t.id),
            f"{t.grid_name}（{t.grid_code}）",
            t.assignee,
            t.category.name if t.category else "—",
            f"{t.starts_on} 至 {t.ends_on}",
            t.state_label,
            f"{t.covered_minutes:g} / {t.needed_minutes:g}",
            str(t.found),
            t.reason,
        )
    Console().print(table)
    console.print(f"共 {len(found)} 个任务：用 gridops patrol task cancel 编号 取消", highlight=False)


@task_app.command("cancel")
def task_cancel(
    task_id: int = typer.Argument(..., help="任务的编号（见 gridops patrol task list）。"),
) -> None:
    """取消一个进行中的主动巡查任务。"""
    with session() as db:
        task = tasks.cancel(db, task_id=task_id, by=ADMINISTRATOR)
    print(f"已取消巡查任务 {task.id}")
