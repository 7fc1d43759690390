"""The working-time calendar on the wire: a year's special days, the holiday file's years."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field


class SpecialDayOut(BaseModel):
    day: date
    off: bool = Field(description="A day off (true) or a make-up working day (false)")
    name: str | None = Field(description="The public holiday, in Chinese, when the calendar package knows it")
    source: Literal["package", "holiday file"] = Field(description="Who says so: the package or the file")


class YearOut(BaseModel):
    year: int
    package_covers: bool = Field(
        description="Whether the calendar package knows the year's holidays (else Monday to Friday, "
        "corrected by the holiday file)"
    )
    holiday_file: bool = Field(description="Whether there is a holiday file")
    days: list[SpecialDayOut] = Field(
        description="Days off on weekdays, working days on weekends, a holiday's weekend days, listed days"
    )


class ListedYearOut(BaseModel):
    year: int
    holidays: int = Field(description="Days off the file lists in the year")
    workdays: int = Field(description="Make-up working days the file lists in the year")
    package_covers: bool


class HolidayFileOut(BaseModel):
    exists: bool = Field(description="Whether a holiday file is in use (none: no corrections)")
    written: bool = Field(description="Whether this request wrote it (false for a check and for reading)")
    years: list[ListedYearOut] = Field(description="The years the file lists dates of")
