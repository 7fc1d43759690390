"""Patrol on the phone: which fixes are kept, today's distance and time, a shift left open by a crash, and
the upload of a shift (start, points in batches, end) to the live server."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from gis.crs import EARTH_RADIUS_M
from mobile.services.patrol import LOCAL_TZ, Patrol
from mobile.services.store import Store
from mobile.services.sync import POINT_BATCH, Sync

LON, LAT = 117.0312, 36.6581  # 历下区
METRE_OF_LATITUDE = 180 / (math.pi * EARTH_RADIUS_M)  # degrees: along a meridian, metres are exact


class Clock:
    """The phone's clock, moved by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def north(metres: float) -> tuple[float, float]:
    """The point ``metres`` north of (LON, LAT)."""
    return LON, LAT + metres * METRE_OF_LATITUDE


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "phone.sqlite")
    yield store
    store.close()


def test_fixes_are_kept_every_few_seconds_or_metres_and_only_when_accurate(store):
    t = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    patrol = Patrol(store, min_interval_s=5, min_distance_m=10, max_interval_s=60, now=Clock(t))
    assert not patrol.add_fix(*north(0), 5.0, t)  # off shift: nothing is recorded
    patrol.clock_in()
    assert not patrol.add_fix(*north(0), 5.0, t - timedelta(seconds=1))  # a fix from before the shift

    fixes = [  # (seconds, metres north, accuracy): kept?
        (0, 0, 5.0, True),  # the first
        (3, 30, 5.0, False),  # too soon
        (8, 3, 5.0, False),  # moved 3 m only
        (20, 45, 5.0, True),
        (30, 100, 80.0, False),  # accuracy worse than 50 m
        (81, 47, 5.0, True),  # moved 2 m, but a minute passed
        (90, 70, 50.0, True),  # 50 m is still accurate enough
        (100, 90, None, True),  # no accuracy reported
    ]
    kept = [patrol.add_fix(*north(m), accuracy, t + timedelta(seconds=s)) for s, m, accuracy, _ in fixes]

    assert kept == [k for *_, k in fixes]
    assert patrol.track() == [north(m) for _, m, _, k in fixes if k]


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=LOCAL_TZ)


def test_today_counts_distance_and_time_since_local_midnight(store):
    clock = Clock(local(23, 23))
    patrol = Patrol(store, now=clock)
    night = patrol.clock_in()  # a night shift across midnight
    for at, metres in [
        (local(23, 23, 30), 0),
        (local(23, 23, 45), 100),
        (local(24, 0, 15), 200),
        (local(24, 0, 45), 300),
    ]:
        assert patrol.add_fix(*north(metres), 5.0, at)
    clock.at = local(24, 1)
    patrol.clock_out()
    clock.at = local(24, 8)
    day = patrol.clock_in()
    for at, metres in [(local(24, 8, 10), 1000), (local(24, 8, 20), 1200), (local(24, 9), 1500)]:
        assert patrol.add_fix(*north(metres), 5.0, at)
    clock.at = local(24, 10)  # still on shift

    today = patrol.today()

    assert today.seconds == 3600 + 2 * 3600  # 00:00-01:00 of the night shift, 08:00-10:00 so far
    assert today.points == 5  # from midnight on
    # Between today's points of the same shift: 200 -> 300 m, then 1000 -> 1200 -> 1500 m; the step
    # across midnight and the gap between the shifts are not walked today.
    assert today.distance_m == pytest.approx(100 + 200 + 300, abs=1e-6)
    assert patrol.shift == day != night


def test_clock_in_ends_a_shift_left_open(store):
    clock = Clock(datetime(2026, 11, 24, 0, 30, tzinfo=UTC))
    left_open = Patrol(store, now=clock).clock_in()

    clock.at += timedelta(hours=2)
    patrol = Patrol(store, now=clock)  # the app was killed on shift and started again
    assert patrol.on_shift and patrol.shift == left_open
    new = patrol.clock_in()

    shifts = {r["client_uuid"]: r["ended_at"] for r in store.query("SELECT * FROM shift")}
    assert shifts == {left_open: clock.at.isoformat(), new: None}
    assert patrol.shift == new
    clock.at += timedelta(hours=1)
    patrol.clock_out()
    assert not patrol.on_shift
    assert patrol.today().seconds == 3 * 3600


def test_sync_uploads_the_shift_start_its_points_in_batches_and_its_end(
    inspector_app, netfault, inspector_http
):
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    clock = Clock(started)
    patrol = Patrol(inspector_app.store, now=clock)
    sync = Sync(inspector_app.api, inspector_app.outbox, inspector_app.cache, patrol)
    shift = patrol.clock_in()
    walk = []
    for i in range(1200):  # up and down a 2.4 km street, 12 m every 5 s, with a bad fix now and then
        at = started + timedelta(seconds=5 * (i + 1))
        if i % 100 == 50:
            assert not patrol.add_fix(*north(5000), 400.0, at - timedelta(seconds=2))
        metres = 12 * (i % 400 if i % 400 <= 200 else 400 - i % 400)
        assert patrol.add_fix(*north(metres), 5.0, at)
        walk.append((north(metres), at))
    clock.at = started + timedelta(hours=2)
    patrol.clock_out()
    start = netfault.count

    run = sync.run_once()

    assert run.points == 1200 and sync.status.state == "idle"
    uploads = [(e.method, e.path, e.status) for e in netfault.since(start) if "/patrol/shifts" in e.path]
    assert uploads == [
        ("POST", "/api/patrol/shifts", 201),
        *[("POST", f"/api/patrol/shifts/{shift}/points", 200)] * math.ceil(1200 / POINT_BATCH),
        ("POST", f"/api/patrol/shifts/{shift}/end", 200),
    ]
    assert patrol.unsent_shifts() == []

    answer = inspector_http.get(f"/api/patrol/shifts/{shift}/track")
    assert answer.status_code == 200, answer.text
    track = answer.json()
    assert track["properties"]["points"] == 1200
    stored = [v for point in track["geometry"]["coordinates"] for v in point]
    assert stored == pytest.approx([v for point, _ in walk for v in point], abs=1e-7)  # to the cm
    assert [datetime.fromisoformat(t) for t in track["properties"]["times"]] == [at for _, at in walk]
    assert datetime.fromisoformat(track["properties"]["ended_at"]) == clock.at
    assert track["properties"]["distance_m"] == pytest.approx(1199 * 12, rel=0.005)  # on the ellipsoid

    today = inspector_http.get("/api/patrol/today").json()
    listed = shift in [s["client_uuid"] for s in today["shifts"]]
    assert listed == (started.astimezone(LOCAL_TZ).date() == datetime.now(LOCAL_TZ).date())

    start = netfault.count
    assert sync.run_once().points == 0
    assert not [e for e in netfault.since(start) if "/patrol/shifts" in e.path]  # nothing sent twice
