"""``gridops patrol ...``: the patrol shifts of a day and a shift's track, as an administrator sees them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import typer
from rich.console import Console
from rich.table import Column, Table

from server.auth import service as user_service
from server.auth.principal import ADMINISTRATOR
from server.cli_common import console, session
from server.patrol import service, visibility

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
