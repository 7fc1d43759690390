"""``gridops calendar ...``: holidays, make-up workdays, deadlines, and the holiday file."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime

import typer

from server.cli_common import console, fail
from server.config import get_settings
from server.worktime.calendar import (
    EXAMPLE_HOLIDAY_FILE,
    PACKAGE,
    WorkCalendar,
    load_calendar,
    package_covers,
)

calendar_app = typer.Typer(help="工作时间日历：法定节假日、调休上班日、时限计算。", no_args_is_help=True)
SOURCES = {"package": "日历包", "holiday file": "节假日文件"}  # where a special day comes from
WEEKDAYS = "一二三四五六日"


def _weekday(day: date) -> str:
    return f"周{WEEKDAYS[day.weekday()]}"


def current_calendar() -> WorkCalendar:
    try:
        return load_calendar(get_settings())
    except ValueError as exc:
        fail(str(exc))


@contextmanager
def shown_warnings() -> Iterator[None]:
    """Print the warnings raised inside (the calendar's fallback to the holiday file) as lines on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        console.print(f"[yellow]注意：[/yellow]{warning.message}", highlight=False)


@calendar_app.command("year")
def year(year: int = typer.Argument(..., min=1, max=9999, help="年份，如 2026。")) -> None:
    """列出一年的法定节假日和调休上班日，以及它们的来源。"""
    cal = current_calendar()
    source = PACKAGE if package_covers(year) else f"周一至周五上班（{PACKAGE} 没有 {year} 年的节假日）"
    missing = "" if cal.holiday_file.exists() else "（文件不存在：用 gridops calendar install-example 创建）"
    print(f"{year} 年：{source}，按节假日文件 {cal.holiday_file} 修正{missing}")
    with shown_warnings():
        days = cal.special_days(year)
    for title, off in (("放假", True), ("调休上班", False)):
        print(f"{title}：")
        for special in (d for d in days if d.off == off):
            source = SOURCES[special.source]
            print(f"  {special.day} {_weekday(special.day)}  {special.name or '-'}  （{source}）")


@calendar_app.command("due")
def due(
    start: str = typer.Argument(
        ..., help="开始计时的时间：ISO 格式的日期和时间，如 2026-09-30T16:00（不带时区时按本地时间）。"
    ),
    limit: str = typer.Argument(..., help="工作时长：30m、2h、1.5h、1d（一个工作日）。"),
) -> None:
    """输出从 START 起经过 LIMIT 工作时长后的时刻（本地时间）。"""
    cal = current_calendar()
    try:
        moment = datetime.fromisoformat(start)
    except ValueError:
        fail(f"开始时间“{start}”不是日期和时间：请按 2026-09-30T16:00 这样的 ISO 格式填写")
    try:
        minutes = cal.parse_limit(limit)
    except ValueError as exc:
        fail(str(exc))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=cal.tz)
    with shown_warnings():
        moment = cal.add(moment, minutes).astimezone(cal.tz)
    print(f"{moment.isoformat(timespec='seconds')}（{_weekday(moment)}）")


@calendar_app.command("file")
def file() -> None:
    """输出在用的节假日文件，以及它每年列出的放假和调休上班天数。"""
    path = get_settings().holiday_path
    if not path.exists():
        print(f"{path}：没有节假日文件，不做修正（用 gridops calendar install-example 创建一个）")
        return
    cal = current_calendar()
    print(path)
    years = sorted({day.year for day in cal.holidays | cal.workdays})
    for listed in years:
        holidays = sum(day.year == listed for day in cal.holidays)
        workdays = sum(day.year == listed for day in cal.workdays)
        known = "修正日历包" if package_covers(listed) else "日历包没有这一年"
        print(f"  {listed} 年：放假 {holidays} 天，调休上班 {workdays} 天（{known}）")
    if not years:
        print("  没有列出任何日期")


@calendar_app.command("install-example")
def install_example() -> None:
    """把随附的示例节假日文件复制到配置的路径（那里已有文件时不复制）。"""
    path = get_settings().holiday_path
    if path.exists():
        fail(f"{path} 已经存在：请直接编辑它")
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(EXAMPLE_HOLIDAY_FILE, path)
    console.print(f"已把示例节假日文件复制到 {path}：请把每年国务院公布的放假安排填进去", highlight=False)
