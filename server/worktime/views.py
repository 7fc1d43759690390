"""Working-time routes (administrators): the special days of a year as deadlines count them, and the holiday
file: what it lists, and an upload checked whole before it replaces the file where the settings say."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Path, Query, UploadFile

from server.auth.dependencies import AdminRequired
from server.config import get_settings
from server.errors import Invalid
from server.worktime import service
from server.worktime.calendar import WorkCalendar, load_calendar, package_covers
from server.worktime.schemas import HolidayFileOut, ListedYearOut, SpecialDayOut, YearOut

router = APIRouter(prefix="/calendar", tags=["calendar"], dependencies=[AdminRequired])


def _calendar() -> WorkCalendar:
    """The calendar deadlines count in now; 422 when the holiday file in use has become unreadable."""
    try:
        return load_calendar(get_settings())
    except ValueError as exc:
        raise Invalid("worktime.holiday_file_broken", errors=[str(exc)]) from None


def _file_out(holidays, workdays, *, exists: bool, written: bool) -> HolidayFileOut:
    years = [
        ListedYearOut(year=year, holidays=off, workdays=on, package_covers=package_covers(year))
        for year, off, on in service.listed_years(holidays, workdays)
    ]
    return HolidayFileOut(exists=exists, written=written, years=years)


@router.get(
    "/years/{year}",
    response_model=YearOut,
    summary="A year's special days (holidays, make-up working days) and who says so: package or file",
)
def year(year: Annotated[int, Path(ge=1900, le=2100, description="The year", examples=[2027])]):
    calendar = _calendar()
    days = [SpecialDayOut.model_validate(day, from_attributes=True) for day in calendar.special_days(year)]
    exists = get_settings().holiday_path.exists()
    return YearOut(year=year, package_covers=package_covers(year), holiday_file=exists, days=days)


@router.get(
    "/holiday-file", response_model=HolidayFileOut, summary="What the holiday file in use lists per year"
)
def holiday_file():
    calendar = _calendar()
    exists = get_settings().holiday_path.exists()
    return _file_out(calendar.holidays, calendar.workdays, exists=exists, written=False)


@router.post(
    "/holiday-file",
    response_model=HolidayFileOut,
    summary="Upload a holiday file: checked whole first (any problem: nothing written), then it replaces "
    "the file in use at once",
    responses={422: {"description": "The file has problems: nothing was written; `errors` lists them"}},
)
def upload_holiday_file(
    file: Annotated[UploadFile, File(description="holidays.yaml: the lists holidays and workdays (UTF-8)")],
    dry_run: Annotated[bool, Query(description="Only check, write nothing")] = False,
):
    content = file.file.read()  # the body limit of the settings bounds it
    holidays, workdays = service.check_holiday_file(content, file.filename or "holidays.yaml")
    if not dry_run:
        service.save_holiday_file(content, get_settings().holiday_path)
    exists = not dry_run or get_settings().holiday_path.exists()
    return _file_out(holidays, workdays, exists=exists, written=not dry_run)
