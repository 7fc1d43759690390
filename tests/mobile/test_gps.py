"""The simulated walk, GPX replay and the threaded fix stream; the demo route against the real district."""

from __future__ import annotations

import itertools
import queue
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pyproj import Geod
from shapely.geometry import LineString, Point

from grids.demo import UNIT_DISTRICT, load_districts
from mobile.platform.gps import (
    LIXIA_ROUTE,
    AndroidGps,
    Fix,
    SimulatedGps,
    TrackPoint,
    default_gps,
    read_gpx,
)

GEOD = Geod(ellps="WGS84")
START = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


def fixed_clock() -> datetime:
    return START


def geodesic_m(a: Fix | tuple[float, float], b: Fix | tuple[float, float]) -> float:
    (lon1, lat1), (lon2, lat2) = (p if isinstance(p, tuple) else (p.lon, p.lat) for p in (a, b))
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


def route_length_m() -> float:
    return sum(geodesic_m(a, b) for a, b in itertools.pairwise(LIXIA_ROUTE))


def write_gpx(path: Path, points: list[tuple[float, float, str | None]], kind: str = "trkpt") -> Path:
    """A GPX 1.1 file with ``points`` (lon, lat, ISO time or None) as a track, route or waypoints."""
    elements = "".join(
        f'<{kind} lat="{lat}" lon="{lon}"><ele>40</ele>{f"<time>{time}</time>" if time else ""}</{kind}>'
        for lon, lat, time in points
    )
    body = {"trkpt": f"<trk><trkseg>{elements}</trkseg></trk>", "rtept": f"<rte>{elements}</rte>"}.get(
        kind, elements
    )
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">{body}</gpx>',
        encoding="utf-8",
    )
    return path


def test_lixia_route_is_a_walk_inside_lixia():
    lixia = next(r for r in load_districts() if r.code == UNIT_DISTRICT)
    assert lixia.name == "历下区"
    outside = [point for point in LIXIA_ROUTE if not lixia.geometry.covers(Point(point))]
    assert outside == []
    assert LineString(LIXIA_ROUTE).within(lixia.geometry)
    assert 3000 <= route_length_m() <= 5000
    assert LIXIA_ROUTE[0] == LIXIA_ROUTE[-1]  # a loop: starting over is seamless


def test_fixes_advance_along_the_route_at_the_given_speed():
    gps = SimulatedGps(interval_s=2.0, speed_mps=1.4, accuracy_m=6.0, clock=fixed_clock)
    step = 1.4 * 2.0
    laps = 1.5
    fixes = gps.positions(round(laps * route_length_m() / step))

    assert (fixes[0].lon, fixes[0].lat) == LIXIA_ROUTE[0]
    assert gps.last == fixes[-1]
    route = LineString(LIXIA_ROUTE)
    assert max(route.distance(Point(f.lon, f.lat)) for f in fixes) < 1e-9  # on the streets, always
    assert [f.at for f in fixes[:3]] == [START, START + timedelta(seconds=2), START + timedelta(seconds=4)]
    assert {f.speed_mps for f in fixes} == {1.4} and {f.accuracy_m for f in fixes} == {6.0}

    steps = [geodesic_m(a, b) for a, b in itertools.pairwise(fixes)]
    assert max(steps) <= step * 1.006  # the simulation measures on a sphere: within 0.6 %
    # Straight on, a step is the distance walked; across a corner the chord is shorter. Corners are few.
    straight = [s for s in steps if s >= step * 0.994]
    assert len(steps) - len(straight) <= 2 * len(LIXIA_ROUTE)
    assert sum(straight) / len(straight) == pytest.approx(step, rel=0.003)
    # Once round the loop it passes where it started, and carries on.
    assert min(geodesic_m(f, LIXIA_ROUTE[0]) for f in fixes[len(fixes) // 3 :]) < step


def test_speedup_brings_the_same_steps_sooner():
    normal = SimulatedGps(interval_s=2.0, speed_mps=1.4, clock=fixed_clock).positions(5)
    fast = SimulatedGps(interval_s=2.0, speed_mps=1.4, speedup=10, clock=fixed_clock).positions(5)
    assert [(f.lon, f.lat) for f in fast] == [(f.lon, f.lat) for f in normal]
    assert fast[1].at - fast[0].at == timedelta(seconds=0.2)
    assert normal[1].at - normal[0].at == timedelta(seconds=2)


def test_accuracies_are_used_in_turn_and_a_route_can_be_given():
    route = [(117.02, 36.66), (117.03, 36.66)]
    fixes = SimulatedGps(route, accuracy_m=[5, 25, 12], speed_mps=10, clock=fixed_clock).positions(5)
    assert [f.accuracy_m for f in fixes] == [5.0, 25.0, 12.0, 5.0, 25.0]
    assert all(f.lat == pytest.approx(36.66) and 117.02 <= f.lon <= 117.03 for f in fixes)
    assert geodesic_m(fixes[0], fixes[1]) == pytest.approx(20, rel=0.006)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"route": [(117.0, 36.6), (117.0, 36.6)]}, "two distinct points"),
        ({"route": [(117.0, 36.6), (200.0, 36.6)]}, "longitude 200.0"),
        ({"interval_s": 0}, "positive"),
        ({"accuracy_m": []}, "at least one"),
    ],
)
def test_bad_walks_are_refused_at_once(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SimulatedGps(**kwargs)


def test_gpx_with_times_replays_at_its_pace(tmp_path):
    points = [
        (117.0200, 36.6600, "2026-11-20T09:00:00Z"),
        (117.0201, 36.6600, "2026-11-20T09:00:05Z"),
        (117.0203, 36.6600, "2026-11-20T17:00:15+08:00"),  # the same instant scale, another zone
        (117.0204, 36.6601, "2026-11-20T09:00:20.500Z"),
    ]
    gpx = write_gpx(tmp_path / "walk.gpx", points)
    gps = SimulatedGps(gpx=gpx, speedup=5, interval_s=2.0, accuracy_m=4.0, clock=fixed_clock)
    fixes = gps.positions(6)

    assert [(f.lon, f.lat) for f in fixes] == [(lon, lat) for lon, lat, _ in points] + [
        (lon, lat) for lon, lat, _ in points[:2]
    ]
    offsets = [(f.at - START).total_seconds() for f in fixes]
    # 5 s, 10 s and 5.5 s of the file at 5 x, then the loop restarts after interval_s / speedup.
    assert offsets == pytest.approx([0, 1, 3, 4.1, 4.5, 5.5])
    assert fixes[0].speed_mps is None
    assert fixes[1].speed_mps == pytest.approx(geodesic_m(fixes[0], fixes[1]) / 5, rel=0.006)
    assert fixes[2].speed_mps == pytest.approx(geodesic_m(fixes[1], fixes[2]) / 10, rel=0.006)


def test_gpx_without_times_comes_at_the_interval(tmp_path):
    gpx = write_gpx(tmp_path / "route.gpx", [(117.02, 36.66, None), (117.03, 36.67, None)], kind="rtept")
    fixes = SimulatedGps(gpx=gpx, interval_s=3, clock=fixed_clock).positions(3)
    assert [(f.lon, f.lat) for f in fixes] == [(117.02, 36.66), (117.03, 36.67), (117.02, 36.66)]
    assert [f.at for f in fixes] == [START + timedelta(seconds=s) for s in (0, 3, 6)]
    assert {f.speed_mps for f in fixes} == {None}


def test_read_gpx_prefers_the_track_and_reads_gpx_1_0(tmp_path):
    path = tmp_path / "mixed.gpx"
    path.write_text(
        '<gpx version="1.0" xmlns="http://www.topografix.com/GPX/1/0">'
        '<wpt lat="36.70" lon="117.10"><name>start</name></wpt>'
        '<trk><trkseg><trkpt lat="36.66" lon="117.02"><time>2026-11-20T09:00:00</time></trkpt>'
        '<trkpt lat="36.67" lon="117.03"/></trkseg></trk></gpx>',
        encoding="utf-8",
    )
    assert read_gpx(path) == [
        TrackPoint(117.02, 36.66, datetime(2026, 11, 20, 9, 0, tzinfo=UTC)),  # no zone: UTC
        TrackPoint(117.03, 36.67, None),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("<gpx><trk><trkseg><trkpt lat='36.6' lon='117.0'>", "not a readable GPX file"),
        ("<kml xmlns='http://www.opengis.net/kml/2.2'/>", "not a GPX file .its root element is <kml>"),
        ("<gpx version='1.1'><metadata/></gpx>", "no track, route or waypoint"),
        ("<gpx><wpt lat='36.6'/></gpx>", "wpt 1 has no valid lat/lon"),
        ("<gpx><wpt lat='36.6' lon='east'/></gpx>", "wpt 1 has no valid lat/lon"),
        ("<gpx><wpt lat='96.6' lon='117.0'/></gpx>", "latitude 96.6"),
        ("<gpx><rte><rtept lat='36.6' lon='117'><time>yesterday</time></rtept></rte></gpx>", "not ISO 8601"),
        (
            "<gpx><trk><trkseg><trkpt lat='36.6' lon='117'><time>2026-11-20T09:00:05Z</time></trkpt>"
            "<trkpt lat='36.6' lon='117'><time>2026-11-20T09:00:00Z</time></trkpt></trkseg></trk></gpx>",
            "go backwards",
        ),
    ],
)
def test_malformed_gpx_names_the_file(tmp_path, content, message):
    path = tmp_path / "bad.gpx"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as error:
        read_gpx(path)
    assert str(path) in str(error.value)
    with pytest.raises(ValueError, match=message):
        SimulatedGps(gpx=path)


def test_a_missing_gpx_file_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"nowhere\.gpx: not a readable GPX file"):
        read_gpx(tmp_path / "nowhere.gpx")


def test_the_thread_delivers_fixes_until_stopped():
    gps = SimulatedGps(interval_s=2.0, speedup=1000, clock=fixed_clock)  # a fix every 2 ms
    received: queue.Queue[tuple[Fix, threading.Thread]] = queue.Queue()
    failures = []

    def on_fix(fix: Fix) -> None:
        if not failures:  # the receiver fails once: the walk goes on
            failures.append(fix)
            raise RuntimeError("a screen that is not ready yet")
        received.put((fix, threading.current_thread()))

    gps.start(on_fix)
    with pytest.raises(RuntimeError, match="already started"):
        gps.start(on_fix)
    first = [received.get(timeout=10) for _ in range(5)]
    gps.stop()

    assert all(thread is not threading.main_thread() and thread.daemon for _, thread in first)
    fixes = [failures[0], *(fix for fix, _ in first)]
    assert (fixes[0].lon, fixes[0].lat) == LIXIA_ROUTE[0]
    assert all(geodesic_m(a, b) == pytest.approx(2.8, rel=0.006) for a, b in itertools.pairwise(fixes))
    assert not any(thread.name == "simulated-gps" for thread in threading.enumerate())
    while not received.empty():  # what came after the first five, before stop() returned
        fixes.append(received.get_nowait()[0])
    assert gps.last == fixes[-1]  # nothing was made after the thread ended

    gps.start(lambda fix: received.put((fix, threading.current_thread())))  # it starts again, walking on
    resumed = received.get(timeout=10)[0]
    gps.stop()
    assert geodesic_m(fixes[-1], resumed) == pytest.approx(2.8, rel=0.006)


def test_default_gps_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("ANDROID_ARGUMENT", raising=False)
    monkeypatch.delenv("GRIDOPS_MOBILE_GPX", raising=False)
    gps = default_gps()
    assert isinstance(gps, SimulatedGps)
    first = gps.positions(1)[0]
    assert (first.lon, first.lat) == LIXIA_ROUTE[0]

    gpx = write_gpx(tmp_path / "my-walk.gpx", [(117.05, 36.65, None), (117.06, 36.65, None)])
    monkeypatch.setenv("GRIDOPS_MOBILE_GPX", str(gpx))
    first = default_gps().positions(1)[0]
    assert (first.lon, first.lat) == (117.05, 36.65)

    monkeypatch.setenv("ANDROID_ARGUMENT", "/data/data/org.gridops.gridops/files/app")
    assert isinstance(default_gps(), AndroidGps)


def test_android_fixes_from_plyers_callback():
    """plyer calls on_location(lat=, lon=, speed=, bearing=, altitude=, accuracy=); Android reports an
    unknown accuracy as 0."""
    gps = AndroidGps()
    assert gps.last is None
    gps._on_location(lat=36.66, lon=117.02, speed=1.2, bearing=90.0, altitude=40.0, accuracy=7.5)
    assert (gps.last.lon, gps.last.lat, gps.last.accuracy_m, gps.last.speed_mps) == (117.02, 36.66, 7.5, 1.2)
    assert gps.last.at.tzinfo is UTC
    gps._on_location(lat=36.67, lon=117.03, speed=0.0, bearing=0.0, altitude=0.0, accuracy=0.0)
    assert gps.last.accuracy_m is None
