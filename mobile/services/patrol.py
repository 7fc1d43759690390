"""Patrol shifts and the track on the phone: clock in and out, keep a point every few seconds or metres.

Everything is written to the local store first (the shift's UUID is made here, so clocking in works with no
network); the sync uploads shifts and points in batches, and the server ignores what it already has.

A shift (with its points) belongs to the user who clocked in (:attr:`Store.owner`): another user who logs in
on the phone is off shift, neither continuing it nor uploading it, and it goes to the server only with its
owner's login.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from gis.crs import sphere_distance_m
from mobile.services.store import Store

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
WORST_ACCURACY_M = 50.0  # fixes less accurate than this are not kept (nor counted by the server)


@dataclass(frozen=True)
class Today:
    """Today's patrol (local day): distance walked, time on shift, points kept."""

    distance_m: float
    seconds: float
    points: int


class Patrol:
    """Shifts and track points in ``store``. A fix is kept when at least ``min_interval_s`` passed and the
    inspector moved ``min_distance_m`` since the last kept point, or ``max_interval_s`` passed anyway."""

    def __init__(
        self,
        store: Store,
        *,
        min_interval_s: float = 5.0,
        min_distance_m: float = 10.0,
        max_interval_s: float = 60.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.min_interval_s = min_interval_s
        self.min_distance_m = min_distance_m
        self.max_interval_s = max_interval_s
        self._now = now
        self._last: tuple[datetime, float, float] | None = None

    @property
    def shift(self) -> str | None:
        """The open shift's UUID, or None when off shift."""
        rows = self.store.query(
            "SELECT client_uuid FROM shift WHERE ended_at IS NULL AND owner IS ?", (self.store.owner,)
        )
        return rows[0]["client_uuid"] if rows else None

    @property
    def on_shift(self) -> bool:
        return self.shift is not None

    def clock_in(self) -> str:
        """Start a shift (ending one left open, e.g. by a crash) and return its UUID."""
        now, owner = self._now(), self.store.owner
        with self.store.transaction() as db:
            db.execute(
                "UPDATE shift SET ended_at = ? WHERE ended_at IS NULL AND owner IS ?",
                (now.isoformat(), owner),
            )
            shift = str(uuid.uuid4())
            db.execute(
                "INSERT INTO shift (client_uuid, owner, started_at) VALUES (?, ?, ?)",
                (shift, owner, now.isoformat()),
            )
        self._last = None
        return shift

    def clock_out(self) -> None:
        with self.store.transaction() as db:
            db.execute(
                "UPDATE shift SET ended_at = ? WHERE ended_at IS NULL AND owner IS ?",
                (self._now().isoformat(), self.store.owner),
            )
        self._last = None

    def end_others(self) -> None:
        """End the shifts other users left open (their login ended without a logout, and someone else
        logged in): the phone is in other hands, so those shifts are over."""
        with self.store.transaction() as db:
            db.execute(
                "UPDATE shift SET ended_at = ? WHERE ended_at IS NULL AND owner IS NOT ?",
                (self._now().isoformat(), self.store.owner),
            )

    def add_fix(self, lon: float, lat: float, accuracy_m: float | None, at: datetime, speed_mps=None) -> bool:
        """Keep a GNSS fix if on shift and it passes the filters; True when kept. A fix from before the
        shift's start (a receiver's last position, delivered late) is not the shift's."""
        rows = self.store.query(
            "SELECT client_uuid, started_at FROM shift WHERE ended_at IS NULL AND owner IS ?",
            (self.store.owner,),
        )
        if not rows or at < datetime.fromisoformat(rows[0]["started_at"]):
            return False
        shift = rows[0]["client_uuid"]
        if accuracy_m is not None and accuracy_m > WORST_ACCURACY_M:
            return False
        if self._last is not None:
            last_at, last_lon, last_lat = self._last
            elapsed = (at - last_at).total_seconds()
            moved = sphere_distance_m(last_lon, last_lat, lon, lat)
            if elapsed < self.min_interval_s or (
                moved < self.min_distance_m and elapsed < self.max_interval_s
            ):
                return False
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO track_point (shift_uuid, recorded_at, lon, lat, accuracy_m, speed_mps) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (shift, at.astimezone(UTC).isoformat(), lon, lat, accuracy_m, speed_mps),
            )
        self._last = (at, lon, lat)
        return True

    def today(self) -> Today:
        """Distance and time on shift since local midnight (open shifts count up to now)."""
        now = self._now()
        midnight = datetime.combine(now.astimezone(LOCAL_TZ).date(), datetime.min.time(), LOCAL_TZ)
        since, owner = midnight.astimezone(UTC), self.store.owner
        seconds = 0.0
        for row in self.store.query(
            "SELECT started_at, ended_at FROM shift WHERE (ended_at IS NULL OR ended_at > ?) AND owner IS ?",
            (since.isoformat(), owner),
        ):
            start = max(datetime.fromisoformat(row["started_at"]), since)
            end = datetime.fromisoformat(row["ended_at"]) if row["ended_at"] else now
            seconds += max((end - start).total_seconds(), 0.0)
        points = self.store.query(
            "SELECT shift_uuid, lon, lat FROM track_point JOIN shift ON shift.client_uuid = shift_uuid "
            "WHERE recorded_at >= ? AND owner IS ? ORDER BY shift_uuid, recorded_at",
            (since.isoformat(), owner),
        )
        total = sum(
            sphere_distance_m(a["lon"], a["lat"], b["lon"], b["lat"])
            for a, b in itertools.pairwise(points)
            if a["shift_uuid"] == b["shift_uuid"]
        )
        return Today(distance_m=total, seconds=seconds, points=len(points))

    def track(self, shift: str | None = None) -> list[tuple[float, float]]:
        """The (lon, lat) points of a shift (default: the open one) in order, for the map."""
        shift = shift or self.shift
        rows = self.store.query(
            "SELECT lon, lat FROM track_point WHERE shift_uuid = ? ORDER BY recorded_at", (shift,)
        )
        return [(r["lon"], r["lat"]) for r in rows]

    # -- the sync's side ------------------------------------------------------------------------------

    def unsent_shifts(self) -> list[dict]:
        """The logged-in user's shifts whose start, end or points the server has not acknowledged yet,
        oldest first."""
        rows = self.store.query(
            "SELECT * FROM shift WHERE owner IS ? AND (start_sent = 0 "
            "OR (ended_at IS NOT NULL AND end_sent = 0) OR EXISTS "
            "(SELECT 1 FROM track_point p WHERE p.shift_uuid = shift.client_uuid AND p.sent = 0)) "
            "ORDER BY started_at",
            (self.store.owner,),
        )
        return [dict(r) for r in rows]

    def unsent_points(self, shift: str, limit: int) -> list[dict]:
        rows = self.store.query(
            "SELECT id, recorded_at, lon, lat, accuracy_m, speed_mps FROM track_point "
            "WHERE shift_uuid = ? AND sent = 0 ORDER BY recorded_at LIMIT ?",
            (shift, limit),
        )
        return [dict(r) for r in rows]

    def give_up(self, shift: str) -> None:
        """Stop sending a shift the server holds as another user's (a version 1 phone mixed users up)."""
        with self.store.transaction() as db:
            db.execute("UPDATE shift SET start_sent = 1, end_sent = 1 WHERE client_uuid = ?", (shift,))
            db.execute("UPDATE track_point SET sent = 1 WHERE shift_uuid = ?", (shift,))

    def mark_sent(self, shift: str, *, start: bool = False, end: bool = False, point_ids=()) -> None:
        with self.store.transaction() as db:
            if start:
                db.execute("UPDATE shift SET start_sent = 1 WHERE client_uuid = ?", (shift,))
            if end:
                db.execute("UPDATE shift SET end_sent = 1 WHERE client_uuid = ?", (shift,))
            db.executemany("UPDATE track_point SET sent = 1 WHERE id = ?", [(i,) for i in point_ids])

    def forget_sent(self, older_than: timedelta = timedelta(days=7)) -> None:
        """Drop uploaded points and finished shifts older than a week (the phone's storage is small)."""
        cutoff = (self._now() - older_than).isoformat()
        with self.store.transaction() as db:
            db.execute("DELETE FROM track_point WHERE sent = 1 AND recorded_at < ?", (cutoff,))
            db.execute(
                "DELETE FROM shift WHERE end_sent = 1 AND ended_at < ? AND NOT EXISTS "
                "(SELECT 1 FROM track_point p WHERE p.shift_uuid = shift.client_uuid)",
                (cutoff,),
            )
