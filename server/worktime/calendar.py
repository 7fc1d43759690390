"""Working time: which days are worked, the daily working periods, and deadlines in working minutes.

Pure (no database, no web framework): the case service and the phone app use it alike.

Which days are worked: for the years the ``chinese_calendar`` package covers, the package decides (weekends,
public holidays, make-up workdays 调休); for other years, Monday to Friday. The holiday file's days off and
working days win over both: an administrator's correction, or a year the package does not know yet. The
first time a calendar answers for a year without the package it says so with a
:class:`HolidayFallbackWarning`, and :attr:`WorkCalendar.fallback_years` lists those years.

Limits are a number and a unit: ``30m``, ``1.5h``, ``2d``. Minutes and hours are fixed lengths; a day is
one working day, whose length comes from the working periods, so converting a limit is a calendar method:
``cal.parse_limit("1d")``. :func:`split_limit` and :func:`parse_step_limits` only check the form.
"""

from __future__ import annotations

import itertools
import math
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar
import yaml

EXAMPLE_HOLIDAY_FILE = Path(__file__).with_name("holidays.yaml")
PACKAGE = f"chinese-calendar {chinese_calendar.__version__}"

ONE_MINUTE = timedelta(minutes=1)
ONE_DAY = timedelta(days=1)
UNIT_MINUTES = {"m": 1, "h": 60}
LIMIT_FORM = re.compile(r"(\d+(?:\.\d+)?)([mhd])")
PERIOD_FORM = re.compile(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})")
DATE_FORM = re.compile(r"\d{4}-\d{2}-\d{2}")
HOLIDAY_FILE_KEYS = ("holidays", "workdays")

Periods = tuple[tuple[time, time], ...]


class HolidayFallbackWarning(UserWarning):
    """A year's public holidays are not known to the calendar package: weekends and the holiday file rule."""


def split_limit(text: str) -> tuple[float, str]:
    """``"1.5h"`` -> ``(1.5, "h")``; a ValueError that shows the form for anything else."""
    match = LIMIT_FORM.fullmatch(text.strip())
    if not match:
        raise ValueError(
            f"时限“{text.strip()}”看不懂：请写数字加单位 m（分钟）、h（小时）或 d（工作日），如 30m、1.5h、2d"
        )
    value = float(match[1])
    if value <= 0:
        raise ValueError(f"时限“{text.strip()}”为零：请写一个大于零的时长，如 30m")
    return value, match[2]


def parse_step_limits(spec: str) -> dict[str, str]:
    """``"urgent:30m,important:60m"`` -> ``{"urgent": "30m", "important": "60m"}``, each limit checked."""
    limits: dict[str, str] = {}
    for part in spec.split(","):
        name, colon, limit = (piece.strip() for piece in part.partition(":"))
        if not colon or not name:
            raise ValueError(
                f"步骤时限“{part.strip()}”写法不对：请按“紧急程度:时限”填写，多个用逗号隔开，"
                "如 urgent:30m,important:60m"
            )
        if name in limits:
            raise ValueError(f"步骤时限“{name}”写了两次：每个紧急程度只写一次")
        split_limit(limit)
        limits[name] = limit
    return limits


def parse_periods(spec: str) -> Periods:
    """``"08:30-12:00,13:30-17:30"`` -> the day's working periods, sorted; overlaps are refused."""
    periods = []
    for part in spec.split(","):
        match = PERIOD_FORM.fullmatch(part.strip())
        if not match:
            raise ValueError(
                f"工作时段“{part.strip()}”写法不对：请按“开始时刻-结束时刻”填写，多个用逗号隔开，"
                "如 08:30-12:00,13:30-17:30"
            )
        try:
            periods.append((time(int(match[1]), int(match[2])), time(int(match[3]), int(match[4]))))
        except ValueError:
            raise ValueError(
                f"工作时段“{part.strip()}”里的时刻不存在：小时应为 0 到 23，分钟应为 0 到 59"
            ) from None
    periods.sort()
    check_periods(tuple(periods))
    return tuple(periods)


def check_periods(periods: Periods) -> None:
    """Refuse no periods, a period that does not end after it starts, unsorted or overlapping periods."""
    if not periods:
        raise ValueError("没有工作时段：请至少填写一个，如 08:30-12:00")
    for start, end in periods:
        if start >= end:
            raise ValueError(
                f"工作时段 {start:%H:%M}-{end:%H:%M} 的结束时刻不在开始时刻之后：请把结束时刻改得比开始时刻晚"
            )
    for (_, end), (start, _) in itertools.pairwise(periods):
        if start < end:
            raise ValueError(f"工作时段在 {start:%H:%M} 处重叠或先后颠倒：请按时间先后填写互不重叠的时段")


@lru_cache
def package_covers(year: int) -> bool:
    """Whether the calendar package knows the public holidays of ``year``."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def package_holiday_name(day: date) -> str | None:
    """The public holiday ``day`` is a day off or a make-up workday of, when the package knows it, in
    Chinese: the package names it in English, and its table ``Holiday`` gives the Chinese name (国庆节)."""
    if not package_covers(day.year):
        return None
    name = chinese_calendar.get_holiday_detail(day)[1]
    return name and chinese_calendar.Holiday(name).chinese


def _limit_minutes(text: str, day_minutes: int) -> int:
    """A limit in minutes of a clock whose day has ``day_minutes``."""
    value, unit = split_limit(text)
    exact = value * (day_minutes if unit == "d" else UNIT_MINUTES[unit])
    minutes = round(exact)
    if not math.isclose(minutes, exact, abs_tol=1e-6):
        raise ValueError(f"时限“{text.strip()}”折算后不是整分钟：请改用能折算成整分钟的时长，如 90m 或 1.5h")
    return minutes


def duration_words(minutes: float, day_minutes: int | None = None) -> str:
    """A duration as people say it, to the minute: "2 小时 10 分", "1 天 4 小时", "3 个工作日 2 小时".
    With ``day_minutes`` the minutes are working time and whole days are working days of that length;
    without, they are natural time (a day of 24 hours). Under a minute: "不到 1 分"."""
    total = math.floor(minutes)
    if total < 1:
        return "不到 1 分"
    day, unit = (day_minutes, "个工作日") if day_minutes else (1440, "天")
    days, rest = divmod(total, day)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} {unit}" if days else "", f"{hours} 小时" if hours else "", f"{mins} 分" if mins else ""]
    if days:  # beyond a day the minutes say nothing a person acts on
        parts[2] = ""
    return " ".join(part for part in parts if part)


def _clock(moment: time) -> timedelta:
    """The time since midnight of a time of day."""
    return timedelta(hours=moment.hour, minutes=moment.minute, seconds=moment.second)


def utc(moment: datetime) -> datetime:
    """An aware datetime in UTC; a naive one is refused (working time needs to know the zone)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"时刻 {moment.isoformat()} 没有时区：工作时间要按时区计算，请给出带时区的时刻")
    return moment.astimezone(UTC)


DEFAULT_TIMEZONE = ZoneInfo("Asia/Shanghai")
DEFAULT_PERIODS = parse_periods("08:30-12:00,13:30-17:30")


@dataclass(frozen=True)
class SpecialDay:
    """A day that differs from a plain week, or a weekend day the package counts as part of a holiday."""

    day: date
    off: bool
    name: str | None  # the public holiday in Chinese, when the calendar package knows it
    source: str  # "package" or "holiday file"


@dataclass(frozen=True)
class WorkCalendar:
    """Working days and periods in one time zone; ``holidays`` and ``workdays`` come from the holiday file
    and win over the calendar package."""

    tz: ZoneInfo = DEFAULT_TIMEZONE
    periods: Periods = DEFAULT_PERIODS
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    holiday_file: Path | None = None  # named in the fallback warning
    _fallback: set[int] = field(default_factory=set, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        check_periods(self.periods)
        both = self.holidays & self.workdays
        if both:
            raise ValueError(f"{min(both)} 既是放假日又是调休上班日：请只保留其中一种")

    @property
    def fallback_years(self) -> frozenset[int]:
        """The years this calendar has answered for without the package (weekends and the holiday file)."""
        return frozenset(self._fallback)

    def is_workday(self, day: date) -> bool:
        """The holiday file's listing, else the calendar package, else Monday to Friday (with a warning)."""
        if day in self.holidays:
            return False
        if day in self.workdays:
            return True
        if package_covers(day.year):
            return chinese_calendar.is_workday(day)
        if day.year not in self._fallback:
            self._fallback.add(day.year)
            warnings.warn(self.fallback_message(day.year), HolidayFallbackWarning, stacklevel=2)
        return day.weekday() < 5

    def fallback_message(self, year: int) -> str:
        unknown = f"{PACKAGE} 没有 {year} 年的节假日：这一年按周一至周五上班计算"
        if not self.holiday_file:
            return f"{unknown}，也没有节假日文件：请创建节假日文件，把国务院公布的 {year} 年放假安排填进去"
        return (
            f"{unknown}，只按节假日文件 {self.holiday_file} 修正："
            f"请把国务院公布的 {year} 年放假安排填进这个文件"
        )

    def day_minutes(self) -> int:
        """The working minutes of one working day."""
        return sum((_clock(end) - _clock(start) for start, end in self.periods), timedelta()) // ONE_MINUTE

    def parse_limit(self, text: str) -> int:
        """A limit in working minutes: ``"30m"`` -> 30, ``"1.5h"`` -> 90, ``"1d"`` -> one working day."""
        return _limit_minutes(text, self.day_minutes())

    def add(self, start: datetime, minutes: float) -> datetime:
        """The instant (UTC) when ``minutes`` of working time after ``start`` have passed.

        Time outside the working periods does not count, so a start outside them begins at the next working
        instant; a limit used up exactly at the end of a period ends there. Zero minutes is ``start``.
        """
        start = utc(start)
        if minutes < 0:
            raise ValueError(f"不能加上 {minutes} 分钟：工作时间只能往后算，请给出不小于零的时长")
        left = timedelta(minutes=minutes)
        if not left:
            return start
        day = start.astimezone(self.tz).date()
        while True:
            for begin, end in self._periods_on(day):
                begin = max(begin, start)
                if begin >= end:
                    continue
                if left <= end - begin:
                    return begin + left
                left -= end - begin
            day += ONE_DAY

    def subtract(self, end: datetime, minutes: float) -> datetime:
        """The earliest instant (UTC) from which at most ``minutes`` of working time are left before ``end``:
        ``between(t, end) <= minutes`` exactly for ``t`` from there on. When those minutes begin with a
        working period, the instant is the end of the working period before it (nothing is worked in
        between)."""
        end = utc(end)
        if minutes < 0:
            raise ValueError(f"不能减去 {minutes} 分钟：请给出不小于零的工作时长")
        left = timedelta(minutes=minutes)
        day = end.astimezone(self.tz).date()
        while True:
            for begin, stop in reversed(list(self._periods_on(day))):
                stop = min(stop, end)
                if stop <= begin:
                    continue
                if left < stop - begin:
                    return stop - left
                left -= stop - begin
            day -= ONE_DAY

    def between(self, start: datetime, end: datetime) -> float:
        """The working minutes in ``[start, end)``; 0 when ``end`` is not after ``start``."""
        start, end = utc(start), utc(end)
        total = timedelta()
        day, last = start.astimezone(self.tz).date(), end.astimezone(self.tz).date()
        while day <= last:
            for begin, stop in self._periods_on(day):
                total += max(timedelta(), min(stop, end) - max(begin, start))
            day += ONE_DAY
        return total / ONE_MINUTE

    def special_days(self, year: int) -> list[SpecialDay]:
        """The year's days off on weekdays, working days on weekends, the weekend days of a public holiday,
        and every day the holiday file lists."""
        days = []
        day = date(year, 1, 1)
        while day.year == year:
            off, name = not self.is_workday(day), package_holiday_name(day)
            listed = day in self.holidays or day in self.workdays
            if listed or name or off == (day.weekday() < 5):
                days.append(SpecialDay(day, off, name, "holiday file" if listed else "package"))
            day += ONE_DAY
        return days

    def _periods_on(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        """The working periods of ``day`` as UTC instants; none on a day off."""
        if self.is_workday(day):
            for start, end in self.periods:
                yield (
                    datetime.combine(day, start, self.tz).astimezone(UTC),
                    datetime.combine(day, end, self.tz).astimezone(UTC),
                )


@dataclass(frozen=True)
class NaturalClock:
    """Natural time: every minute of every day counts (24 h), for what cannot wait for office hours (an
    urgent flooded road reported on Friday evening is due the same evening). The same methods as
    :class:`WorkCalendar`, so a case's limits run on either; a day (``1d``) is 24 hours."""

    tz: ZoneInfo = DEFAULT_TIMEZONE

    def day_minutes(self) -> int:
        return 1440

    def parse_limit(self, text: str) -> int:
        return _limit_minutes(text, self.day_minutes())

    def add(self, start: datetime, minutes: float) -> datetime:
        if minutes < 0:
            raise ValueError(f"不能加上 {minutes} 分钟：时间只能往后算，请给出不小于零的时长")
        return utc(start) + timedelta(minutes=minutes)

    def subtract(self, end: datetime, minutes: float) -> datetime:
        if minutes < 0:
            raise ValueError(f"不能减去 {minutes} 分钟：请给出不小于零的时长")
        return utc(end) - timedelta(minutes=minutes)

    def between(self, start: datetime, end: datetime) -> float:
        return max(timedelta(), utc(end) - utc(start)) / ONE_MINUTE


class HolidayFileError(ValueError):
    """Every problem of a holiday file, each a sentence saying where it is and what to write instead."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def load_holiday_file(path: Path) -> tuple[frozenset[date], frozenset[date]]:
    """The days off and the working days listed in a holiday file (the shipped example documents the form);
    a :class:`HolidayFileError` with every problem found."""
    try:
        content = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)  # every scalar a str
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)  # where the parser stopped, when it knows
        where = f"第 {mark.line + 1} 行" if mark else ""
        raise HolidayFileError(
            [f"节假日文件 {path} {where}不是有效的 YAML：请对照随附的示例文件改正"]
        ) from None
    content = content or {}
    if not isinstance(content, dict):
        raise HolidayFileError(
            [
                f"节假日文件 {path} 应当只有 holidays（放假）和 workdays（调休上班）两个日期列表："
                "请对照随附的示例文件改正"
            ]
        )
    problems = [
        f"节假日文件 {path} 里的“{key}”不认识：只能写 holidays（放假）和 workdays（调休上班）两项"
        for key in content
        if key not in HOLIDAY_FILE_KEYS
    ]
    holidays, workdays = (_listed_dates(path, key, content.get(key), problems) for key in HOLIDAY_FILE_KEYS)
    problems += [
        f"节假日文件 {path} 里 {day} 同时列在 holidays 和 workdays 中：请只保留其中一处"
        for day in sorted(holidays & workdays)
    ]
    if problems:
        raise HolidayFileError(problems)
    return holidays, workdays


def _listed_dates(path: Path, key: str, entries: object, problems: list[str]) -> frozenset[date]:
    """The dates of one list, each entry that is not one reported in ``problems``."""
    if not entries:
        return frozenset()
    if not isinstance(entries, list):
        problems.append(f"节假日文件 {path} 里的 {key} 应当是日期列表：请每行写一个“- 日期”，如 - 2027-01-01")
        return frozenset()
    days = set()
    for number, entry in enumerate(entries, 1):
        try:
            if not isinstance(entry, str) or not DATE_FORM.fullmatch(entry):
                raise ValueError
            days.add(date.fromisoformat(entry))
        except ValueError:
            shown = f"“{entry}”" if isinstance(entry, str) else ""  # a list or a mapping: its place says it
            problems.append(
                f"节假日文件 {path} 里 {key} 的第 {number} 项{shown}不是日期：请每项只写一个日期，"
                "如 2027-01-01（说明写在 # 后面）"
            )
    return frozenset(days)


def load_calendar(settings) -> WorkCalendar:
    """The calendar of ``settings.timezone``, ``settings.work_periods`` and ``settings.holiday_path`` (a
    missing holiday file means no corrections).

    Calendars are cached; the holiday file's modification time and size are part of the key, so an edited
    file is read again on the next call, without a restart.
    """
    path = Path(settings.holiday_path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        stamp = None
    else:
        stamp = (stat.st_mtime_ns, stat.st_size)
    return _calendar(settings.timezone, settings.work_periods, path, stamp)


@lru_cache(maxsize=8)
def _calendar(timezone: str, periods: str, path: Path, stamp: tuple[int, int] | None) -> WorkCalendar:
    try:
        tz = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"时区“{timezone}”不认识：请把 GRIDOPS_TIMEZONE 设为时区名，如 Asia/Shanghai"
        ) from None
    holidays, workdays = load_holiday_file(path) if stamp else (frozenset(), frozenset())
    return WorkCalendar(
        tz=tz, periods=parse_periods(periods), holidays=holidays, workdays=workdays, holiday_file=path
    )
