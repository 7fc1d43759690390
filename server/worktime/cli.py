"""``gridops calendar ...``: holidays, make-up workdays, deadlines, and the holiday file."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

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

calendar_app = typer.Typer(
    help="The working-time calendar: holidays, make-up workdays, deadlines.", no_args_is_help=True
)


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
        console.print(f"[yellow]warning:[/yellow] {warning.message}", highlight=False)


@calendar_app.command("year")
def year(year: int = typer.Argument(..., min=1, max=9999, help="The year, for example 2026.")) -> None:
    """List a year's public holidays and make-up workdays, and where they come from."""
    cal = current_calendar()
    source = PACKAGE if package_covers(year) else f"Monday to Friday ({PACKAGE} does not know {year})"
    missing = "" if cal.holiday_file.exists() else " (missing)"
    print(f"{year}: {source}, corrected by the holiday file {cal.holiday_file}{missing}")
    with shown_warnings():
        days = cal.special_days(year)
    for title, off in (("holidays", True), ("make-up workdays", False)):
        print(f"{title}:")
        for special in (d for d in days if d.off == off):
            print(f"  {special.day} {special.day:%a}  {special.name or '-'}  ({special.source})")


@calendar_app.command("due")
def due(
    start: str = typer.Argument(
        ..., help="When the clock starts: ISO date and time (local without an offset)."
    ),
    limit: str = typer.Argument(..., help="Working time: 30m, 2h, 1.5h, 1d (one working day)."),
) -> None:
    """Print the instant, in local time, when LIMIT of working time after START has passed."""
    cal = current_calendar()
    try:
        moment = datetime.fromisoformat(start)
    except ValueError:
        fail(f"start {start!r}: use an ISO date and time, for example 2026-09-30T16:00")
    try:
        minutes = cal.parse_limit(limit)
    except ValueError as exc:
        fail(str(exc))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=cal.tz)
    with shown_warnings():
        moment = cal.add(moment, minutes).astimezone(cal.tz)
    print(f"{moment.isoformat(timespec='seconds')} ({moment:%a})")


@calendar_app.command("file")
def file() -> None:
    """Print the holiday file in use and how many days off and working days it lists per year."""
    path = get_settings().holiday_path
    if not path.exists():
        print(f"{path}: no holiday file, so no corrections ('gridops calendar install-example' creates one)")
        return
    cal = current_calendar()
    print(path)
    years = sorted({day.year for day in cal.holidays | cal.workdays})
    for listed in years:
        holidays = sum(day.year == listed for day in cal.holidays)
        workdays = sum(day.year == listed for day in cal.workdays)
        known = "corrects the calendar package" if package_covers(listed) else "the package does not know it"
        print(f"  {listed}: days off {holidays}, make-up workdays {workdays} ({known})")
    if not years:
        print("  lists no dates")


@calendar_app.command("install-example")
def install_example() -> None:
    """Copy the shipped example holiday file to the configured path, unless a file is already there."""
    path = get_settings().holiday_path
    if path.exists():
        fail(f"{path} already exists: edit it")
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(EXAMPLE_HOLIDAY_FILE, path)
    console.print(f"copied the example holiday file to {path}: load each year's announcement into it")
