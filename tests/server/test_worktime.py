"""The working-time calendar: the 2026 holidays, periods and boundaries, the 2027 fallback, the CLI."""

from __future__ import annotations

import os
import random
import warnings
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace

import chinese_calendar
import pytest
from typer.testing import CliRunner

from server.case.clock import clock, set_due
from server.config import get_settings
from server.worktime.calendar import (
    EXAMPLE_HOLIDAY_FILE,
    HolidayFallbackWarning,
    WorkCalendar,
    load_calendar,
    load_holiday_file,
    parse_periods,
    parse_step_limits,
)
from server.worktime.cli import calendar_app
from tests.server.case_world import light_from_limit

SHANGHAI = WorkCalendar().tz
CAL = WorkCalendar()


def local(text: str) -> datetime:
    """A Shanghai wall-clock time, ``"2026-11-02 08:30"``."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def settings_for(path, periods: str = "08:30-12:00,13:30-17:30", timezone: str = "Asia/Shanghai"):
    return SimpleNamespace(timezone=timezone, work_periods=periods, holiday_path=path)


def fallback_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, HolidayFallbackWarning)]


# --- parsing ---------------------------------------------------------------------------------------------


def test_periods_are_sorted():
    assert parse_periods(" 13:30-17:30, 8:30-12:00") == (
        (time(8, 30), time(12)),
        (time(13, 30), time(17, 30)),
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "工作时段“”写法不对：请按“开始时刻-结束时刻”填写"),
        ("08:30-12", "工作时段“08:30-12”写法不对"),
        ("08:30-25:00", "工作时段“08:30-25:00”里的时刻不存在"),
        ("12:00-08:30", "工作时段 12:00-08:30 的结束时刻不在开始时刻之后"),
        ("08:30-08:30", "工作时段 08:30-08:30 的结束时刻不在开始时刻之后"),
        ("08:30-12:00,11:00-17:30", "工作时段在 11:00 处重叠"),
    ],
)
def test_bad_periods(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_periods(spec)


@pytest.mark.parametrize(
    ("periods", "limit", "minutes"),
    [
        ("08:30-12:00,13:30-17:30", "30m", 30),
        ("08:30-12:00,13:30-17:30", "2h", 120),
        ("08:30-12:00,13:30-17:30", "1.5h", 90),
        ("08:30-12:00,13:30-17:30", " 1d ", 450),
        ("08:30-12:00,13:30-17:30", "0.5d", 225),
        ("08:30-12:00,13:30-17:30", "20d", 9000),
        ("09:00-17:00", "1d", 480),
        ("09:00-17:00", "0.3h", 18),
    ],
)
def test_limits(periods, limit, minutes):
    assert WorkCalendar(periods=parse_periods(periods)).parse_limit(limit) == minutes


@pytest.mark.parametrize(
    ("limit", "message"),
    [
        ("2x", "时限“2x”看不懂：请写数字加单位 m（分钟）、h（小时）或 d（工作日）"),
        ("", "时限“”看不懂"),
        ("h", "时限“h”看不懂"),
        ("-1h", "时限“-1h”看不懂"),
        ("0m", "时限“0m”为零：请写一个大于零的时长"),
        ("1.5m", "时限“1.5m”折算后不是整分钟"),
    ],
)
def test_bad_limits(limit, message):
    with pytest.raises(ValueError, match=message):
        CAL.parse_limit(limit)


def test_step_limits():
    spec = get_settings().verify_limits
    assert parse_step_limits(spec) == {"urgent": "30m", "important": "60m", "normal": "120m"}
    for bad, message in [
        ("urgent", "步骤时限“urgent”写法不对：请按“紧急程度:时限”填写"),
        (":30m", "步骤时限“:30m”写法不对"),
        ("urgent:2x", "时限“2x”看不懂"),
        ("urgent:30m,urgent:1h", "步骤时限“urgent”写了两次"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_step_limits(bad)


# --- the 2026 National Day and Mid-Autumn holidays, from chinese_calendar ---------------------------------


def test_2026_follows_the_package():
    cal = WorkCalendar()
    day = date(2026, 1, 1)
    while day.year == 2026:
        assert cal.is_workday(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)
    assert cal.fallback_years == frozenset()


@pytest.mark.parametrize(
    ("day", "workday"),
    [
        ("2026-09-19", False),  # Saturday
        ("2026-09-20", True),  # Sunday, make-up workday for National Day
        ("2026-09-24", True),
        ("2026-09-25", False),  # Mid-Autumn Festival, a Friday
        ("2026-09-26", False),
        ("2026-09-27", False),
        ("2026-09-28", True),
        ("2026-09-30", True),
        ("2026-10-01", False),  # National Day
        ("2026-10-05", False),
        ("2026-10-07", False),
        ("2026-10-08", True),
        ("2026-10-10", True),  # Saturday, make-up workday for National Day
        ("2026-10-11", False),  # Sunday
    ],
)
def test_national_day_2026(day, workday):
    assert CAL.is_workday(date.fromisoformat(day)) is workday
    assert chinese_calendar.is_workday(date.fromisoformat(day)) is workday


def test_the_package_names_the_make_up_workdays():
    assert chinese_calendar.get_holiday_detail(date(2026, 9, 20)) == (False, "National Day")
    assert chinese_calendar.get_holiday_detail(date(2026, 10, 10)) == (False, "National Day")
    make_up = [d for d in CAL.special_days(2026) if not d.off]
    assert [d.day for d in make_up if d.day.month in (9, 10)] == [date(2026, 9, 20), date(2026, 10, 10)]
    assert {d.source for d in make_up} == {"package"}
    assert {d.name for d in make_up if d.day.month in (9, 10)} == {"国庆节"}


@pytest.mark.parametrize(
    ("start", "limit", "due"),
    [
        # one working day from the last afternoon before the holiday week: lands on the Thursday after it
        ("2026-09-30 17:00", "1d", "2026-10-08 17:00"),
        ("2026-09-30 17:30", "1d", "2026-10-08 17:30"),
        ("2026-09-24 16:00", "1d", "2026-09-28 16:00"),  # over the Mid-Autumn Friday and weekend
        ("2026-10-02 10:00", "30m", "2026-10-08 09:00"),  # started inside the holiday
        # the make-up Saturday and Sunday count
        ("2026-10-09 16:30", "2h", "2026-10-10 09:30"),
        ("2026-09-18 17:00", "1h", "2026-09-20 09:00"),
        ("2026-10-10 17:00", "1h", "2026-10-12 09:00"),  # the Sunday after it does not
    ],
)
def test_deadlines_around_the_holidays(start, limit, due):
    assert CAL.add(local(start), CAL.parse_limit(limit)) == local(due)


# --- weekends, lunch, outside hours, boundaries ----------------------------------------------------------


# 2026-11-02 is a Monday in a month without public holidays.
@pytest.mark.parametrize(
    ("start", "minutes", "due"),
    [
        ("2026-11-02 09:00", 30, "2026-11-02 09:30"),
        ("2026-11-02 11:30", 60, "2026-11-02 14:00"),  # over lunch
        ("2026-11-02 12:30", 30, "2026-11-02 14:00"),  # started at lunch
        ("2026-11-02 07:00", 30, "2026-11-02 09:00"),  # before hours
        ("2026-11-02 18:00", 30, "2026-11-03 09:00"),  # after hours
        ("2026-11-02 08:30", 210, "2026-11-02 12:00"),  # used up at the end of the morning
        ("2026-11-02 12:00", 1, "2026-11-02 13:31"),
        ("2026-11-02 08:30", 450, "2026-11-02 17:30"),
        ("2026-11-02 08:30", 451, "2026-11-03 08:31"),
        ("2026-11-02 10:00", 0.5, "2026-11-02 10:00:30"),
        ("2026-11-02 10:00", 0, "2026-11-02 10:00"),
        ("2026-11-06 17:00", 60, "2026-11-09 09:00"),  # Friday to Monday
        ("2026-11-07 10:00", 1, "2026-11-09 08:31"),  # from a Saturday
        ("2026-11-02 08:30", 5 * 450, "2026-11-06 17:30"),
        ("2026-11-02 08:30", 20 * 450, "2026-11-27 17:30"),  # four weeks
        ("2026-11-02 12:00", 20 * 450, "2026-11-30 12:00"),
    ],
)
def test_add(start, minutes, due):
    result = CAL.add(local(start), minutes)
    assert result == local(due)
    assert result.tzinfo is UTC


def test_add_takes_any_zone_and_refuses_naive_or_negative():
    assert CAL.add(datetime(2026, 11, 2, 1, 0, tzinfo=UTC), 30) == datetime(2026, 11, 2, 1, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="时刻 2026-11-02T09:00:00 没有时区"):
        CAL.add(datetime(2026, 11, 2, 9), 30)
    with pytest.raises(ValueError, match="不能加上 -1 分钟：工作时间只能往后算"):
        CAL.add(local("2026-11-02 09:00"), -1)


@pytest.mark.parametrize(
    ("start", "end", "minutes"),
    [
        ("2026-11-02 08:00", "2026-11-02 18:00", 450),
        ("2026-11-02 11:00", "2026-11-02 14:00", 90),
        ("2026-11-06 17:00", "2026-11-09 09:00", 60),
        ("2026-11-02 09:00", "2026-11-02 09:00", 0),
        ("2026-11-02 10:00", "2026-11-02 09:00", 0),
        ("2026-11-09 10:00", "2026-11-02 09:00", 0),
        ("2026-09-30 08:30", "2026-10-08 08:30", 450),  # the holiday week holds one working day
    ],
)
def test_between(start, end, minutes):
    assert CAL.between(local(start), local(end)) == minutes


def test_between_is_the_inverse_of_add():
    rng = random.Random(20261001)
    first = local("2026-09-01 00:00")
    for _ in range(400):
        start = first + timedelta(minutes=rng.randrange(90 * 24 * 60))
        minutes = rng.choice([rng.randint(1, 450), rng.randint(1, 20 * 450)])
        due = CAL.add(start, minutes)
        assert CAL.between(start, due) == minutes, (start, minutes)
        # the deadline falls inside a working period (its end included) of a working day
        moment = due.astimezone(SHANGHAI)
        assert CAL.is_workday(moment.date())
        assert any(begin < moment.time() <= end for begin, end in CAL.periods), moment


# --- warning lights --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "fraction", "light"),
    [
        # 4 working hours from Monday 08:30 are due at 14:00; the last quarter starts at 11:30
        ("2026-11-02 08:00", 0.25, "green"),
        ("2026-11-02 11:29", 0.25, "green"),
        ("2026-11-02 11:30", 0.25, "yellow"),
        ("2026-11-02 12:45", 0.25, "yellow"),  # at lunch: 45 working minutes left
        ("2026-11-02 13:59", 0.25, "yellow"),
        ("2026-11-02 14:00", 0.25, "red"),
        ("2026-11-03 09:00", 0.25, "red"),
        ("2026-11-02 10:29", 0.5, "green"),
        ("2026-11-02 10:30", 0.5, "yellow"),
        ("2026-11-02 13:59", 0.0, "green"),
        ("2026-11-02 08:30", 1.0, "yellow"),
    ],
)
def test_light(now, fraction, light, setting):
    """The case clock's light over a 240-minute step: its yellow instant is stored when the due instant is
    set (``server.case.clock.set_due``), and read against the moment."""
    setting("GRIDOPS_YELLOW_FRACTION", str(fraction))
    started = local("2026-11-02 08:30")
    step = SimpleNamespace(state="dispatched", step_limit_min=240, step_remaining_min=None, clock="work")
    set_due(step, CAL.add(started, 240), CAL)
    assert step.step_due_at == local("2026-11-02 14:00")
    assert clock(step, local(now)).light == light
    assert (
        light_from_limit(
            CAL, limit_minutes=240, due=step.step_due_at, now=local(now), yellow_fraction=fraction
        )
        == light
    )


def test_the_yellow_fraction_lies_between_0_and_1(setting):
    setting("GRIDOPS_YELLOW_FRACTION", "1.5")
    with pytest.raises(ValueError, match="yellow_fraction"):
        get_settings()


# --- the holiday file and 2027 ---------------------------------------------------------------------------


@pytest.fixture
def holiday_file(tmp_path):
    path = tmp_path / "holidays.yaml"
    path.write_text(
        "holidays:\n  - 2027-01-01\n  - 2027-02-10\n  - 2026-11-02\n"
        "workdays:\n  - 2027-02-20\n  - 2026-10-05\n"
    )
    return path


def test_2027_falls_back_to_weekends_and_the_holiday_file(holiday_file):
    cal = load_calendar(settings_for(holiday_file))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert not cal.is_workday(date(2027, 1, 1))  # a Friday, in the file
        assert not cal.is_workday(date(2027, 1, 2))  # Saturday
        assert cal.is_workday(date(2027, 1, 4))  # Monday
        assert not cal.is_workday(date(2027, 2, 10))  # a Wednesday, in the file
        assert cal.is_workday(date(2027, 2, 20))  # a Saturday, in the file
        assert cal.add(local("2026-12-31 17:00"), 60) == local("2027-01-04 09:00")
        assert cal.between(local("2027-02-19 08:30"), local("2027-02-22 08:30")) == 900
    messages = fallback_warnings(caught)
    assert len(messages) == 1
    assert messages[0] == (
        "chinese-calendar 1.11.0 没有 2027 年的节假日：这一年按周一至周五上班计算，"
        f"只按节假日文件 {holiday_file} 修正：请把国务院公布的 2027 年放假安排填进这个文件"
    )
    assert cal.fallback_years == {2027}


def test_years_far_away_do_not_crash():
    cal = WorkCalendar()
    with pytest.warns(HolidayFallbackWarning) as caught:
        assert cal.is_workday(date(1990, 1, 1))  # Monday
        assert not cal.is_workday(date(2400, 1, 1))  # Saturday
        assert cal.add(local("9999-12-30 17:20"), 30) == local("9999-12-31 08:50")
    assert cal.fallback_years == {1990, 2400, 9999}
    assert len(fallback_warnings(caught)) == 3


def test_the_holiday_file_wins_over_the_package(holiday_file):
    cal = load_calendar(settings_for(holiday_file))
    assert not cal.is_workday(date(2026, 11, 2))
    assert cal.is_workday(date(2026, 10, 5))
    assert cal.add(local("2026-10-02 10:00"), 30) == local("2026-10-05 09:00")
    listed = {d.day: d.source for d in cal.special_days(2026)}
    assert listed[date(2026, 11, 2)] == listed[date(2026, 10, 5)] == "holiday file"
    assert listed[date(2026, 10, 1)] == "package"
    assert cal.fallback_years == frozenset()


def test_the_shipped_example():
    assert load_holiday_file(EXAMPLE_HOLIDAY_FILE) == (frozenset({date(2027, 1, 1)}), frozenset())


def test_load_calendar_caches_and_rereads_an_edited_file(tmp_path, holiday_file):
    settings = settings_for(holiday_file, periods="09:00-12:00,13:00-17:00")
    cal = load_calendar(settings)
    assert load_calendar(settings) is cal
    assert cal.day_minutes() == 420 and cal.tz.key == "Asia/Shanghai"
    holiday_file.write_text("holidays: [2027-01-01]\n")
    stat = holiday_file.stat()
    os.utime(holiday_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    edited = load_calendar(settings)
    assert edited.holidays == {date(2027, 1, 1)} and edited.workdays == frozenset()
    missing = load_calendar(settings_for(tmp_path / "none.yaml"))
    assert missing.holidays == missing.workdays == frozenset()
    with pytest.raises(ValueError, match="时区“Mars/Base”不认识"):
        load_calendar(settings_for(holiday_file, timezone="Mars/Base"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("holidays: [2027-02-30]\n", "holidays 的第 1 项“2027-02-30”不是日期"),
        ("holidays: [2027-01-01, tomorrow]\n", "holidays 的第 2 项“tomorrow”不是日期"),
        ("workdays:\n  - 2027-1-9\n", "workdays 的第 1 项“2027-1-9”不是日期"),
        ("holidays:\n  - 2027-01-01: New Year\n", "holidays 的第 1 项不是日期：请每项只写一个日期"),
        ("holiday: [2027-01-01]\n", "里的“holiday”不认识"),
        ("holidays: 2027-01-01\n", "里的 holidays 应当是日期列表"),
        ("- 2027-01-01\n", "应当只有 holidays（放假）和 workdays（调休上班）两个日期列表"),
        ("holidays: [2027-01-01]\nworkdays: [2027-01-01]\n", "2027-01-01 同时列在 holidays 和 workdays 中"),
        ("holidays: [2027-01-01\n", "第 2 行不是有效的 YAML"),
    ],
)
def test_a_malformed_holiday_file(tmp_path, content, message):
    path = tmp_path / "holidays.yaml"
    path.write_text(content)
    with pytest.raises(ValueError, match="节假日文件") as error:
        load_calendar(settings_for(path))
    assert str(path) in str(error.value)
    assert message in str(error.value)


def test_an_empty_holiday_file_lists_nothing(tmp_path):
    path = tmp_path / "holidays.yaml"
    path.write_text("# nothing yet\nholidays:\nworkdays: []\n")
    assert load_holiday_file(path) == (frozenset(), frozenset())


# --- gridops calendar ------------------------------------------------------------------------------------


@pytest.fixture
def configured_file(tmp_path, monkeypatch):
    """The holiday file path the settings point at (not created)."""
    path = tmp_path / "var" / "holidays.yaml"
    monkeypatch.setenv("GRIDOPS_HOLIDAY_FILE", str(path))
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def run(*args: str, code: int = 0):
    result = CliRunner().invoke(calendar_app, list(args))
    assert result.exit_code == code, result.output
    return result


def flat(text: str) -> str:
    return " ".join(text.split())


def test_cli_year_from_the_package(configured_file):
    result = run("year", "2026")
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"2026 年：chinese-calendar 1.11.0，按节假日文件 {configured_file} 修正"
        "（文件不存在：用 gridops calendar install-example 创建）"
    )
    assert lines[1] == "放假："
    make_up = lines.index("调休上班：")
    assert "  2026-10-01 周四  国庆节  （日历包）" in lines[1:make_up]
    assert "  2026-10-10 周六  国庆节  （日历包）" in lines[make_up:]
    assert "  2026-09-20 周日  国庆节  （日历包）" in lines[make_up:]
    assert result.stderr == ""


def test_cli_year_falls_back_with_a_warning(configured_file):
    run("install-example")
    result = run("year", "2027")
    assert result.stdout.splitlines() == [
        f"2027 年：周一至周五上班（chinese-calendar 1.11.0 没有 2027 年的节假日），按节假日文件 "
        f"{configured_file} 修正",
        "放假：",
        "  2027-01-01 周五  -  （节假日文件）",
        "调休上班：",
    ]
    warning = flat(result.stderr)
    assert warning.startswith(
        "注意：chinese-calendar 1.11.0 没有 2027 年的节假日：这一年按周一至周五上班计算"
    )
    assert str(configured_file) in warning


@pytest.mark.parametrize(
    ("start", "limit", "due"),
    [
        ("2026-09-30T17:00", "1d", "2026-10-08T17:00:00+08:00（周四）"),
        ("2026-09-30T09:00+00:00", "30m", "2026-09-30T17:30:00+08:00（周三）"),
        ("2026-10-09 16:30", "2h", "2026-10-10T09:30:00+08:00（周六）"),
    ],
)
def test_cli_due(configured_file, start, limit, due):
    assert run("due", start, limit).stdout == due + "\n"


def test_cli_due_refuses_bad_input(configured_file):
    assert "出错：开始时间“monday”不是日期和时间：请按 2026-09-30T16:00 这样的 ISO 格式填写" in flat(
        run("due", "monday", "1d", code=1).stderr
    )
    assert "出错：时限“2x”看不懂：请写数字加单位 m（分钟）、h（小时）或 d（工作日）" in flat(
        run("due", "2026-09-30", "2x", code=1).stderr
    )


def test_cli_file_and_install_example(configured_file):
    assert "没有节假日文件" in run("file").stdout
    assert str(configured_file) in flat(run("install-example").stderr)
    assert configured_file.read_text() == EXAMPLE_HOLIDAY_FILE.read_text()
    assert "已经存在：请直接编辑它" in flat(run("install-example", code=1).stderr)
    assert run("file").stdout.splitlines() == [
        str(configured_file),
        "  2027 年：放假 1 天，调休上班 0 天（日历包没有这一年）",
    ]
    configured_file.write_text("workdays: [2026-10-05, someday]\n")
    assert "workdays 的第 2 项“someday”不是日期" in flat(run("file", code=1).stderr)


@pytest.mark.parametrize("minutes", [0, 15, 112.5, 210, 450, 1000])
def test_subtract_is_the_earliest_instant_with_that_much_left(minutes):
    """Over the National Day week and weekends: at ``subtract(end, m)`` at most m working minutes are left
    before ``end``, and a minute earlier more are."""
    end = local("2026-09-28 08:30")
    while end < local("2026-10-13 18:00"):
        start = CAL.subtract(end, minutes)
        assert CAL.between(start, end) <= minutes < CAL.between(start - timedelta(minutes=1), end), end
        end += timedelta(minutes=47)


def test_subtract_lands_on_the_end_of_the_period_before():
    # 30 minutes before 09:00 on 10-08 begin with its first period: the holiday before it is not worked.
    assert CAL.subtract(local("2026-10-08 09:00"), 30) == local("2026-09-30 17:30")
    assert CAL.subtract(local("2026-10-08 09:00"), 29) == local("2026-10-08 08:31")
    assert CAL.subtract(local("2026-10-08 13:00"), 0) == local("2026-10-08 12:00")
    with pytest.raises(ValueError, match="不能减去 -1 分钟"):
        CAL.subtract(local("2026-10-08 09:00"), -1)
