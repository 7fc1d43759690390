"""Where the inspector is: a stream of position fixes behind one small interface.

``AndroidGps`` reads the phone's receiver through plyer; ``SimulatedGps`` walks a route or replays a GPX
file, for the desktop and the tests. Both hand each :class:`Fix` to a callback that may run on another
thread than Kivy's: a screen moves it to the UI thread itself (``kivy.clock.mainthread``).

Positions are WGS 84 longitude/latitude, as phones' GNSS receivers give them (never GCJ-02).
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple, Protocol

from shapely import affinity
from shapely.geometry.base import BaseGeometry

from gis.crs import check_lonlat, sphere_distance_m
from mobile.platform import on_android, with_permissions

log = logging.getLogger(__name__)

GPX_ENV = "GRIDOPS_MOBILE_GPX"  # a GPX file for the desktop's simulated walk
METRES_PER_DEGREE = 111_320.0  # of latitude; of longitude at the equator

# A walk of about 4.6 km through 历下区 (Jinan), starting and ending on 泉城广场: east along 泺源大街 to
# 历山路, north to 解放路, west along 解放路 to 解放阁 and back along the moat (护城河) to the square.
# Positions along these streets to within some tens of metres, converted from GCJ-02 map coordinates to
# WGS 84; every point lies inside the demo district 370102 (tests/mobile/test_gps.py checks it).
LIXIA_ROUTE: tuple[tuple[float, float], ...] = (
    (117.017583, 36.660289),  # 泉城广场
    (117.017583, 36.658390),  # 泺源大街, at the square's south entrance
    (117.020870, 36.658181),  # 泺源大街
    (117.024057, 36.657972),  # 泺源大街 x 黑虎泉西路
    (117.029037, 36.657459),  # 泺源大街
    (117.034018, 36.657146),  # 泺源大街
    (117.038800, 36.656934),  # 泺源大街 x 历山路
    (117.038899, 36.659632),  # 历山路
    (117.038999, 36.662130),  # 历山路 x 解放路
    (117.034017, 36.661343),  # 解放路
    (117.029036, 36.660457),  # 解放路
    (117.024554, 36.659670),  # 解放阁
    (117.020869, 36.660480),  # the moat's south bank, along the square
    (117.017583, 36.660289),  # 泉城广场 again: the walk is a loop
)


@dataclass(frozen=True)
class Fix:
    """One position: WGS 84 degrees, the radius of its uncertainty in metres (None: unknown), when it
    was taken (aware, UTC) and the speed over ground in m/s (None: unknown)."""

    lon: float
    lat: float
    accuracy_m: float | None
    at: datetime
    speed_mps: float | None = None


def average(fixes: Sequence[Fix]) -> Fix:
    """One position from several fixes of the same place (the inspector standing still), at the time of
    the latest: each weighted by 1/accuracy², fixes of unknown accuracy only when no fix has one.

    Its accuracy is the radius the weights give (1/sqrt(sum of the weights), as if the fixes' errors were
    independent), but never less than the weighted RMS distance of the fixes from the average: the errors
    of fixes a second apart are not independent, and their scatter is the error actually seen. Unknown
    when no fix had an accuracy."""
    if not fixes:
        raise ValueError("no fix to average")
    known = [fix for fix in fixes if fix.accuracy_m]
    used = known or list(fixes)
    weights = [1 / fix.accuracy_m**2 for fix in known] or [1.0] * len(used)
    total = sum(weights)
    lon = sum(w * fix.lon for w, fix in zip(weights, used, strict=True)) / total
    lat = sum(w * fix.lat for w, fix in zip(weights, used, strict=True)) / total
    spread = math.sqrt(
        sum(
            w * sphere_distance_m(lon, lat, fix.lon, fix.lat) ** 2
            for w, fix in zip(weights, used, strict=True)
        )
        / total
    )
    accuracy = max(1 / math.sqrt(total), spread) if known else None
    return Fix(lon, lat, accuracy, max(fix.at for fix in fixes))


class Gps(Protocol):
    """A source of fixes. ``on_fix`` may be called on another thread than the caller's."""

    def start(self, on_fix: Callable[[Fix], None]) -> None: ...

    def stop(self) -> None: ...

    @property
    def last(self) -> Fix | None:
        """The latest fix delivered (or computed), None before the first."""
        ...


def utc_now() -> datetime:
    return datetime.now(UTC)


class AndroidGps:
    """The phone's receiver through plyer: a fix at most every ``min_time_ms`` and after moving at least
    ``min_distance_m``, from every location provider the phone has. ``start`` asks for the location
    permissions first; without precise location no fix comes (logged). Fixes arrive on Android's main
    thread. Works in the patrol service as well, which uses what the app was granted.
    """

    def __init__(self, *, min_time_ms: int = 1000, min_distance_m: float = 1.0) -> None:
        self._min_time_ms = min_time_ms
        self._min_distance_m = min_distance_m
        self._on_fix: Callable[[Fix], None] | None = None
        self._running = False
        self._last: Fix | None = None

    @property
    def last(self) -> Fix | None:
        return self._last

    def start(self, on_fix: Callable[[Fix], None]) -> None:
        self._on_fix = on_fix
        with_permissions(["ACCESS_FINE_LOCATION", "ACCESS_COARSE_LOCATION"], self._permitted)

    def _permitted(self, granted: frozenset[str]) -> None:
        if "ACCESS_FINE_LOCATION" not in granted:  # approximate positions are no use to a patrol or a report
            log.warning("no precise location permission: no GPS fixes")
            return
        if self._on_fix is None:  # stopped while the question was open
            return
        from plyer import gps

        gps.configure(on_location=self._on_location, on_status=self._on_status)
        gps.start(minTime=self._min_time_ms, minDistance=self._min_distance_m)
        self._running = True

    def stop(self) -> None:
        self._on_fix = None
        if self._running:
            from plyer import gps

            gps.stop()
            self._running = False

    def _on_location(self, **values: float) -> None:
        """plyer's callback: lat, lon, speed, bearing, altitude, accuracy (Android gives 0 for an
        accuracy it does not know)."""
        accuracy = values.get("accuracy")
        fix = Fix(
            lon=float(values["lon"]),
            lat=float(values["lat"]),
            accuracy_m=float(accuracy) if accuracy else None,
            at=utc_now(),
            speed_mps=values.get("speed"),
        )
        self._last = fix
        on_fix = self._on_fix
        if on_fix is not None:
            on_fix(fix)

    def _on_status(self, kind: str, status: str) -> None:
        log.info("GPS %s: %s", kind, status)


class TrackPoint(NamedTuple):
    """A point of a GPX file: WGS 84 degrees and its time (aware, UTC), if it has one."""

    lon: float
    lat: float
    at: datetime | None


def read_gpx(path: Path) -> list[TrackPoint]:
    """The track points of a GPX file (or, when it has no track, its route points, else its waypoints),
    in file order. Raise ValueError naming the file when it is not GPX, has no point, a point without a
    valid lat/lon or time, or times that go backwards. Times without a zone are UTC, as GPX says."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise ValueError(f"{path}: not a readable GPX file ({exc})") from None
    if _local(root.tag) != "gpx":
        raise ValueError(f"{path}: not a GPX file (its root element is <{_local(root.tag)}>)")
    for kind in ("trkpt", "rtept", "wpt"):
        elements = [element for element in root.iter() if _local(element.tag) == kind]
        if elements:
            break
    else:
        raise ValueError(f"{path}: the GPX file has no track, route or waypoint")
    points = [_track_point(path, kind, number, element) for number, element in enumerate(elements, 1)]
    times = [point.at for point in points if point.at is not None]
    if any(later < earlier for earlier, later in itertools.pairwise(times)):
        raise ValueError(f"{path}: the times of its {kind} points go backwards")
    return points


def _local(tag: str) -> str:
    """An element's name without its XML namespace (GPX 1.0 and 1.1 differ only there)."""
    return tag.rpartition("}")[2]


def _track_point(path: Path, kind: str, number: int, element: ET.Element) -> TrackPoint:
    where = f"{path}: {kind} {number}"
    try:
        lon, lat = float(element.attrib["lon"]), float(element.attrib["lat"])
        check_lonlat(lon, lat)
    except (KeyError, ValueError) as exc:
        raise ValueError(f"{where} has no valid lat/lon ({exc})") from None
    time = next((child.text for child in element if _local(child.tag) == "time"), None)
    if time is None:
        return TrackPoint(lon, lat, None)
    try:
        at = datetime.fromisoformat(time.strip())
    except ValueError:
        raise ValueError(f"{where} has a time that is not ISO 8601: {time!r}") from None
    return TrackPoint(lon, lat, at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC))


class _Step(NamedTuple):
    """A position to report, the speed to report with it, and the simulated seconds to the next one."""

    lon: float
    lat: float
    speed_mps: float | None
    wait_s: float


def _walk(route: Sequence[tuple[float, float]], speed_mps: float, interval_s: float) -> Iterator[_Step]:
    """Positions ``speed_mps * interval_s`` metres apart along ``route``, for ever: past the last point
    the walk starts over at the first (seamlessly when the route is a loop). Each position is placed on
    its segment in proportion to the segment's length (linear in degrees: street segments are short).
    A point out of range, or a route of no length, is refused at once rather than at the first fix."""
    points = [(float(lon), float(lat)) for lon, lat in route]
    for lon, lat in points:
        check_lonlat(lon, lat)
    lengths = [sphere_distance_m(*a, *b) for a, b in itertools.pairwise(points)]
    if sum(lengths) == 0:
        raise ValueError("a route needs at least two distinct points")

    def walking() -> Iterator[_Step]:
        segment, into = 0, 0.0
        while True:
            while into >= lengths[segment]:  # also passes over repeated points (zero-length segments)
                into -= lengths[segment]
                segment = (segment + 1) % len(lengths)
            (lon1, lat1), (lon2, lat2) = points[segment], points[segment + 1]
            share = into / lengths[segment]
            yield _Step(lon1 + share * (lon2 - lon1), lat1 + share * (lat2 - lat1), speed_mps, interval_s)
            into += speed_mps * interval_s

    return walking()


def _replay(points: Sequence[TrackPoint], interval_s: float) -> Iterator[_Step]:
    """The points of a GPX file one by one, for ever. When every point has a time they come at the
    file's pace, with the speed from the previous point; otherwise every ``interval_s``, speed unknown.
    After the last point the replay starts over at the first, ``interval_s`` later."""
    timed = all(point.at is not None for point in points)
    for index in itertools.cycle(range(len(points))):
        point = points[index]
        wait_s = interval_s
        if timed and index + 1 < len(points):
            wait_s = (points[index + 1].at - point.at).total_seconds()
        speed = None
        if timed and index > 0:
            previous = points[index - 1]
            elapsed = (point.at - previous.at).total_seconds()
            if elapsed > 0:
                speed = sphere_distance_m(previous.lon, previous.lat, point.lon, point.lat) / elapsed
        yield _Step(point.lon, point.lat, speed, wait_s)


class SimulatedGps:
    """A walk for the desktop and the tests: along ``route`` (default :data:`LIXIA_ROUTE`) at
    ``speed_mps``, a fix every ``interval_s`` of walking, or a replay of the points of the GPX file
    ``gpx``. Both loop for ever.

    ``speedup`` compresses time: fixes come every ``interval_s / speedup`` seconds (a GPX file's own
    pace divided by it too), each the same step along the way. ``accuracy_m`` is every fix's accuracy,
    or a sequence of them used in turn. A fix's time is the ``clock``'s when it is made.

    ``start`` delivers the fixes on a daemon thread, the first at once; ``stop`` ends and joins it.
    ``positions(n)`` computes the next ``n`` fixes at once without a thread, timed as the thread would
    deliver them from now; the walk continues from there either way. ``follow`` changes the route, even
    while the fixes come (the app moves its walk into the inspector's grids once it knows them).
    """

    def __init__(
        self,
        route: Sequence[tuple[float, float]] | None = None,
        *,
        gpx: Path | None = None,
        interval_s: float = 2.0,
        speed_mps: float = 1.4,
        speedup: float = 1.0,
        accuracy_m: float | Sequence[float] = 8.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if route is not None and gpx is not None:
            raise ValueError("give a route or a GPX file, not both")
        if min(interval_s, speed_mps, speedup) <= 0:
            raise ValueError("interval_s, speed_mps and speedup must be positive")
        accuracies = (accuracy_m,) if isinstance(accuracy_m, int | float) else tuple(accuracy_m)
        if not accuracies:
            raise ValueError("accuracy_m needs at least one value")
        self._accuracies = itertools.cycle(float(accuracy) for accuracy in accuracies)
        self.gpx = gpx  # the file replayed; None for a walk along a route
        if gpx is not None:
            self._steps = _replay(read_gpx(gpx), interval_s)
        else:
            self._steps = _walk(LIXIA_ROUTE if route is None else route, speed_mps, interval_s)
        self._interval_s = interval_s
        self._speed_mps = speed_mps
        self._speedup = speedup
        self._clock = clock
        self._lock = threading.Lock()
        self._last: Fix | None = None
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def last(self) -> Fix | None:
        return self._last

    def positions(self, n: int) -> list[Fix]:
        at = self._clock()
        fixes = []
        for _ in range(n):
            fix, wait_s = self._next(at)
            fixes.append(fix)
            at += timedelta(seconds=wait_s)
        return fixes

    def follow(self, route: Sequence[tuple[float, float]]) -> None:
        """Walk ``route`` from its first point on, at the same pace, in place of the route or file so far;
        the next fix is the first on it. Safe while the fixes come on their thread."""
        steps = _walk(route, self._speed_mps, self._interval_s)
        with self._lock:
            self._steps = steps

    def start(self, on_fix: Callable[[Fix], None]) -> None:
        if self._thread is not None:
            raise RuntimeError("the simulated GPS is already started")
        self._stopped.clear()
        self._thread = threading.Thread(target=self._run, args=(on_fix,), name="simulated-gps", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self, on_fix: Callable[[Fix], None]) -> None:
        while True:
            fix, wait_s = self._next(self._clock())
            try:
                on_fix(fix)
            except Exception:  # a failing receiver must not end the walk
                log.exception("the fix receiver failed")
            if self._stopped.wait(wait_s):
                return

    def _next(self, at: datetime) -> tuple[Fix, float]:
        """The next fix, timed ``at``, and the wall-clock seconds until the one after it."""
        with self._lock:
            step = next(self._steps)
            fix = Fix(step.lon, step.lat, next(self._accuracies), at, step.speed_mps)
            self._last = fix
        return fix, step.wait_s / self._speedup


def loop_inside(
    area: BaseGeometry, radius_m: float = 60.0, margin_m: float = 3.0
) -> list[tuple[float, float]]:
    """A walk round and round inside the polygon(s) ``area`` (WGS 84): a ring of ``radius_m`` about a
    point well inside it, cut back where the area is narrower so that every point stays some
    ``margin_m`` inside (a position on a boundary could be placed in the grid next door). A closed
    list of (lon, lat), first point repeated last."""
    inner = area.buffer(-margin_m / METRES_PER_DEGREE)
    if inner.is_empty:  # too small to keep off its edge: its own outline will do
        inner = area
    centre = inner.representative_point()
    across = METRES_PER_DEGREE * math.cos(math.radians(centre.y))  # metres per degree of longitude
    ring = affinity.scale(centre.buffer(1.0, quad_segs=4), radius_m / across, radius_m / METRES_PER_DEGREE)
    inside = ring.intersection(inner)
    part = next(p for p in getattr(inside, "geoms", [inside]) if p.intersects(centre))
    return [(lon, lat) for lon, lat in part.exterior.coords]


def default_gps() -> Gps:
    """The phone's receiver on Android; elsewhere a simulated walk: a replay of the GPX file named by
    ``GRIDOPS_MOBILE_GPX`` when set, else :data:`LIXIA_ROUTE` (until the app has the inspector's grids
    and moves the walk into one of them: see :func:`loop_inside`)."""
    if on_android():
        return AndroidGps()
    gpx = os.environ.get(GPX_ENV)
    return SimulatedGps(gpx=Path(gpx)) if gpx else SimulatedGps()
