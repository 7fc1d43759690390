"""Case deadlines in working time across the 2026 National Day holiday (2026-10-01..07 off, make-up workdays
Sunday 2026-09-20 and Saturday 2026-10-10), with the working periods 08:30-12:00 and 13:30-17:30 (7.5 h a
day); then a deadline that runs into 2027, a year chinese-calendar 1.11.0 does not know."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from sqlalchemy import func, select

from server.case import clock as case_clock
from server.case import present, supervision, trail
from server.case.models import CaseEvent
from server.config import get_settings
from server.worktime.calendar import EXAMPLE_HOLIDAY_FILE, HolidayFallbackWarning
from tests.server.case_world import act, light_from_limit, photo, report, team

SHANGHAI = ZoneInfo("Asia/Shanghai")
ONE_DAY = "E06011"  # 积存垃圾渣土: handling limit 1d (450 working minutes), department sanitation
FOUR_HOURS = "E06010"  # 暴露垃圾: handling limit 4h, department sanitation_lx in 历下区


def local(text: str) -> datetime:
    """A Shanghai wall-clock time, ``"2026-09-30 16:00"``."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


@pytest.fixture
def world(demo_db):
    return team(demo_db, department="sanitation")


def dispatched(world, category: str, at: datetime):
    """A case reported ten minutes before ``at``, filed five minutes before, dispatched at ``at``."""
    db = world["db"]
    case = report(
        db, world["inspector"], world["lon"], world["lat"], category=category, at=at - timedelta(minutes=10)
    )
    act(db, world["lead"], case, "file", at=at - timedelta(minutes=5))
    return act(db, world["dispatcher"], case, "dispatch", at=at)


def light(case, at: str) -> tuple[str | None, float | None]:
    clock = case_clock.clock(case, local(at))
    return clock.light, clock.remaining_min


def supervise_events(db, case) -> list[CaseEvent]:
    return list(
        db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action == "supervise"))
    )


def test_the_holiday_week_as_the_package_has_it():
    off = [date(2026, 10, d) for d in range(1, 8)]
    assert not any(chinese_calendar.is_workday(d) for d in off)
    assert chinese_calendar.is_workday(date(2026, 9, 20)) and date(2026, 9, 20).weekday() == 6
    assert chinese_calendar.is_workday(date(2026, 10, 10)) and date(2026, 10, 10).weekday() == 5
    assert chinese_calendar.is_workday(date(2026, 9, 30)) and chinese_calendar.is_workday(date(2026, 10, 8))


@pytest.fixture
def twice_the_limit(monkeypatch):
    """A city allowing an extension of up to twice the category's handling limit."""
    monkeypatch.setenv("GRIDOPS_EXTENSION_MAX_FACTOR", "2")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def test_one_day_limit_over_the_holiday(world, twice_the_limit):
    db = world["db"]
    case = dispatched(world, ONE_DAY, local("2026-09-30 16:00"))
    # 16:00-17:30 on 09-30 is 90 minutes; the other 360 begin on 10-08: 08:30-12:00 (210), 13:30-16:00 (150).
    assert case.handle_due_at == local("2026-10-08 16:00")
    assert case.step_limit_min == 450

    assert light(case, "2026-09-30 16:00") == ("green", 450)
    assert light(case, "2026-10-04 11:00") == ("green", 360)  # the holiday does not count
    assert light(case, "2026-10-08 14:07") == ("green", 113)
    assert light(case, "2026-10-08 14:08") == ("yellow", 112)  # the last quarter: 112.5 minutes
    assert light(case, "2026-10-08 16:00") == ("red", 0)

    # The sweep flags the overdue case once, with one event.
    assert supervision.sweep_overdue(db=db, at=local("2026-10-08 17:00")) == [case.code]
    assert supervision.sweep_overdue(db=db, at=local("2026-10-08 17:05")) == []
    (event,) = supervise_events(db, case)
    assert (event.actor_name, event.state_before, event.state_after) == (
        trail.SYSTEM_ACTOR,
        "dispatched",
        "dispatched",
    )
    assert datetime.fromisoformat(event.data["overdue_since"]) == local("2026-10-08 16:00")
    (summary,) = present.describe(db=db, cases=[case], at=local("2026-10-08 17:05"))
    assert (summary.light, summary.supervised) == ("red", True)

    # Two more working days (twice the limit: this city allows it), approved after the deadline: 90 minutes
    # on 10-08, 450 on 10-09 and 360 on Saturday 10-10, a make-up workday.
    act(
        db,
        world["department"],
        case,
        "request_extension",
        at=local("2026-10-08 17:10"),
        extension="2d",
        reason="渣土量大",
    )
    act(db, world["dispatcher"], case, "approve_extension", at=local("2026-10-08 17:15"))
    assert case.handle_due_at == case.step_due_at == local("2026-10-10 16:00")
    assert case.supervised_at is None
    assert light(case, "2026-10-08 17:20") == ("green", 820)
    assert supervision.sweep_overdue(db=db, at=local("2026-10-10 15:59")) == []
    assert supervision.sweep_overdue(db=db, at=local("2026-10-10 16:01")) == [case.code]
    assert len(supervise_events(db, case)) == 2


def test_four_hour_limit_over_the_holiday(world):
    case = dispatched(world, FOUR_HOURS, local("2026-09-30 16:30"))
    # 16:30-17:30 on 09-30 is 60 minutes; the other 180 are 08:30-11:30 on 10-08.
    assert case.handle_due_at == local("2026-10-08 11:30")
    assert light(case, "2026-10-07 23:59") == ("green", 180)
    assert light(case, "2026-10-08 10:29") == ("green", 61)
    assert light(case, "2026-10-08 10:31") == ("yellow", 59)
    assert light(case, "2026-10-08 11:31") == ("red", 0)


def test_suspension_stops_the_clock(world):
    db = world["db"]
    case = dispatched(world, FOUR_HOURS, local("2026-09-30 16:30"))
    act(db, world["dispatcher"], case, "suspend", at=local("2026-09-30 17:00"), reason="等待施工结束")
    # 30 minutes were used: 17:00-17:30 on 09-30 and 08:30-11:30 on 10-08 were left.
    assert case.step_remaining_min == 210 and case.step_due_at is None
    assert light(case, "2026-10-08 12:00") == (None, 210)
    assert supervision.sweep_overdue(db=db, at=local("2026-10-08 12:00")) == []

    # Resumed after the first deadline: the 210 minutes run again from 10-09 09:00.
    act(db, world["dispatcher"], case, "resume", at=local("2026-10-09 09:00"))
    assert case.handle_due_at == case.step_due_at == local("2026-10-09 14:00")
    assert light(case, "2026-10-09 09:00") == ("green", 210)
    assert supervision.sweep_overdue(db=db, at=local("2026-10-09 09:05")) == []
    assert supervise_events(db, case) == []


def lights_follow_the_calendar(case, start: str, end: str) -> set[str]:
    """Whether the light ``clock`` reads from the stored instants is the one the calendar computes from the
    limit and the due instant, every five minutes from ``start`` to ``end``; the lights seen."""
    cal, fraction = case_clock.calendar(), get_settings().yellow_fraction
    seen, at = set(), local(start)
    while at < local(end):
        expected = light_from_limit(
            cal, limit_minutes=case.step_limit_min, due=case.step_due_at, now=at, yellow_fraction=fraction
        )
        assert case_clock.clock(case, at).light == expected, (at, case.step_due_at, case.step_yellow_at)
        seen.add(expected)
        at += timedelta(minutes=5)
    return seen


def test_the_stored_yellow_instant_follows_every_deadline_change(world):
    """Each place that sets a due instant sets the yellow one with it: intake, dispatch, rework, extension,
    suspension and resumption, over the National Day week."""
    db = world["db"]
    reported = report(db, world["inspector"], world["lon"], world["lat"], at=local("2026-09-30 17:00"))
    assert reported.step_yellow_at == local("2026-09-30 17:22:30")  # 30 min to register: the last 7.5
    assert lights_follow_the_calendar(reported, "2026-09-30 17:00", "2026-10-08 11:00") == {
        "green", "yellow", "red",
    }  # fmt: skip

    case = dispatched(world, ONE_DAY, local("2026-09-30 16:00"))
    assert case.step_yellow_at == local("2026-10-08 14:07:30")
    assert lights_follow_the_calendar(case, "2026-09-30 16:00", "2026-10-08 17:00") == {
        "green",
        "yellow",
        "red",
    }

    act(db, world["department"], case, "request_extension", at=local("2026-10-08 09:00"), extension="1d",
        reason="渣土量大")  # fmt: skip
    act(db, world["dispatcher"], case, "approve_extension", at=local("2026-10-08 09:05"))
    assert (case.step_limit_min, case.step_due_at) == (900, local("2026-10-09 16:00"))
    assert lights_follow_the_calendar(case, "2026-10-08 09:05", "2026-10-09 17:00") == {
        "green",
        "yellow",
        "red",
    }

    act(db, world["dispatcher"], case, "suspend", at=local("2026-10-08 10:00"), reason="等待施工结束")
    assert case.step_due_at is None and case.step_yellow_at is None
    act(db, world["dispatcher"], case, "resume", at=local("2026-10-09 09:00"))
    assert lights_follow_the_calendar(case, "2026-10-09 09:00", "2026-10-12 17:00") == {
        "green",
        "yellow",
        "red",
    }

    photo(db, world["department"], case, "after")
    act(db, world["department"], case, "report_handling", at=local("2026-10-09 10:00"))
    act(db, world["acceptor"], case, "request_check", at=local("2026-10-09 10:05"))
    act(db, world["inspector"], case, "reply_check", at=local("2026-10-09 10:30"), result="rework")
    assert case.state == "dispatched" and case.step_due_at == case.handle_due_at
    assert lights_follow_the_calendar(case, "2026-10-09 10:30", "2026-10-12 17:00") == {
        "green",
        "yellow",
        "red",
    }


@pytest.fixture
def holiday_file(tmp_path, monkeypatch):
    """The shipped holiday file (2027-01-01 off), configured as the one in use."""
    path = tmp_path / "holidays.yaml"
    shutil.copy(EXAMPLE_HOLIDAY_FILE, path)
    monkeypatch.setenv("GRIDOPS_HOLIDAY_FILE", str(path))
    get_settings.cache_clear()
    yield path
    monkeypatch.undo()
    get_settings.cache_clear()


def test_a_deadline_in_2027_falls_back_to_weekends_and_the_holiday_file(world, holiday_file):
    with pytest.warns(HolidayFallbackWarning, match="没有 2027 年的节假日") as caught:
        case = dispatched(world, ONE_DAY, local("2026-12-31 16:00"))
    assert str(holiday_file) in str(caught[0].message)
    # 90 minutes on 12-31; 2027-01-01 is off in the holiday file, 01-02 and 01-03 are a weekend; the other
    # 360 minutes end on Monday 01-04 at 16:00.
    assert case.handle_due_at == local("2027-01-04 16:00")
    assert light(case, "2027-01-01 12:00") == ("green", 360)
    assert supervision.sweep_overdue(db=world["db"], at=local("2027-01-04 16:01")) == [case.code]
    assert world["db"].scalar(select(func.count()).where(CaseEvent.case_id == case.id)) == 4
