"""The sync engine: push the outbox and the patrol track, pull my tasks, reports, grids, the addresses in
my grids, the categories and my proactive patrol tasks.

It runs in a background thread: at once when woken (a new report, the network back, the app resumed), every
``interval_s`` while all is well, and with growing pauses (up to ``max_pause_s``) while the server cannot be
reached. Every step is safe to interrupt and repeat:

- A report is sent with its client UUID; it is delivered only when the answer carries a case code for that
  UUID, and that code is written down before its photos go. A resent report gets the same case.
- Each photo's server id is written down as it is acknowledged, so an upload resumes at the next photo; a
  resent photo is recognised by its content and not stored twice.
- A task reply that the server already took (the answer was lost) is recognised in the case's timeline.
- Patrol points are unique by shift and time on the server, so a resent batch adds nothing.

It moves only the logged-in user's outbox, shifts and caches (see mobile/services/store.py), and only with
that user's own session: a run whose session is someone else's sends nothing.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mobile.services.api import LOGIN_ENDED, Api, ApiError, LoginRequired, NotOurServer, Offline
from mobile.services.cache import Cache
from mobile.services.outbox import Outbox, OutboxItem
from mobile.services.patrol import Patrol
from mobile.services.store import user_cursor

log = logging.getLogger(__name__)
CASE_CODE = re.compile(r"^[0-9]{6,15}-[0-9]{8}-[0-9]{4,}$")
POINT_BATCH = 500
PHOTO_GONE = "手机上找不到这条记录的照片（可能已被清理）：请删除这条记录，重新拍照。"
NOT_MY_SHIFT = ("patrol.shift_of_another", "patrol.no_shift")  # the server's codes for another's shift


@dataclass(frozen=True)
class SyncStatus:
    """What the home screen shows: ``state`` is idle | syncing | offline | login | error."""

    state: str
    message: str = ""
    last_success: datetime | None = None


@dataclass
class SyncRun:
    """What one run did."""

    sent: list[str] = field(default_factory=list)  # client UUIDs delivered
    failed: list[str] = field(default_factory=list)  # client UUIDs refused by the server
    points: int = 0
    tasks: int = 0
    reports: int = 0
    grids: int = 0
    categories: int = 0
    addresses: int = 0
    patrol_tasks: int = 0


class Sync:
    def __init__(
        self,
        api: Api,
        outbox: Outbox,
        cache: Cache,
        patrol: Patrol,
        *,
        interval_s: float = 30.0,
        max_pause_s: float = 120.0,
    ) -> None:
        self.api = api
        self.outbox = outbox
        self.cache = cache
        self.patrol = patrol
        self.interval_s = interval_s
        self.max_pause_s = max_pause_s
        self.status = SyncStatus("idle", "尚未同步。")
        self._listeners: list[Callable[[SyncStatus], None]] = []
        self._run_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- status ---------------------------------------------------------------------------------------

    def listen(self, callback: Callable[[SyncStatus], None]) -> None:
        """Call ``callback(status)`` on every change (from the sync thread: a screen hops to its own)."""
        self._listeners.append(callback)

    def _set(self, state: str, message: str = "", success: bool = False) -> None:
        last = datetime.now(UTC) if success else self.status.last_success
        self.status = SyncStatus(state, message, last)
        for callback in list(self._listeners):
            callback(self.status)

    # -- one run --------------------------------------------------------------------------------------

    def run_once(self) -> SyncRun:
        """Push, then pull. Raises nothing for a network problem: the status says it and the work stays."""
        run = SyncRun()
        with self._run_lock:
            self._set("syncing", "正在同步…")
            try:
                self._check_session()
                self.push_outbox(run)
                self.push_patrol(run)
                self.pull(run)
            except LoginRequired as exc:
                self._set("login", str(exc))
            except Offline as exc:
                self._set("offline", str(exc))
            except ApiError as exc:
                self._set("error", exc.message)
            else:
                failed = f"，{len(run.failed)} 条被拒" if run.failed else ""
                self._set("idle", f"已同步：发送 {len(run.sent)} 条{failed}。", success=True)
        return run

    def _check_session(self) -> None:
        """The stored session must be the logged-in user's (a login of another user stops the sync, but
        this makes sure): nothing of one user goes with another's session."""
        auth = self.api.auth
        if auth is None or auth["user"]["id"] != self.api.store.owner:
            raise LoginRequired(LOGIN_ENDED)

    def push_outbox(self, run: SyncRun) -> None:
        for item in self.outbox.pending():
            self.outbox.start_sending(item.id)
            try:
                if item.kind == "report":
                    self._send_report(item)
                else:
                    self._send_reply(item)
            except (Offline, LoginRequired) as exc:
                self.outbox.requeue(item.id, str(exc))
                raise
            except ApiError as exc:
                self.outbox.finish(item.id, error=exc.message)
                run.failed.append(item.client_uuid)
            except FileNotFoundError:
                self.outbox.finish(item.id, error=PHOTO_GONE)
                run.failed.append(item.client_uuid)
            else:
                self.outbox.finish(item.id)
                run.sent.append(item.client_uuid)

    def _send_report(self, item: OutboxItem) -> None:
        code = item.case_code
        if code is None:
            answer = self.api.post("api/cases", json={"client_uuid": item.client_uuid, **item.payload})
            if not isinstance(answer, dict):
                answer = {}
            code = str(answer.get("code", ""))
            if answer.get("client_uuid") != item.client_uuid or not CASE_CODE.match(code):
                raise NotOurServer(
                    "服务器的应答中没有这条上报的案件编号：上报仍保存在手机上，稍后会重新发送。"
                )
            self.outbox.reached_server(item.id, code)
            self.cache.apply_cases([answer], kind="reports")
        self._send_photos(item, code)

    def _send_photos(self, item: OutboxItem, code: str) -> list[int]:
        ids = []
        for photo in item.photos:
            if photo.photo_id is None:
                answer = self.api.post(
                    f"api/cases/{code}/photos",
                    params={"role": item.role_of(photo)},
                    files={"file": (photo.path.name, photo.path.read_bytes(), "image/jpeg")},
                )
                self.outbox.photo_sent(photo.id, answer["id"])
                ids.append(answer["id"])
            else:
                ids.append(photo.photo_id)
        return ids

    def _send_reply(self, item: OutboxItem) -> None:
        code, action = item.case_code, item.payload["action"]
        photo_ids = self._send_photos(item, code)
        body = {k: item.payload[k] for k in ("version", "result", "note", "lon", "lat")} | {
            "photo_ids": photo_ids
        }
        try:
            detail = self.api.post(f"api/cases/{code}/actions/{action}", json=body)
        except ApiError as exc:
            if exc.status != 409:
                raise
            detail = self.api.get(f"api/cases/{code}")
            if not self._already_replied(detail, item, photo_ids):
                # The case's actions hold those of its state that this user takes: null when open now.
                if action not in detail["actions"] or detail["actions"][action] is not None:
                    why = detail["actions"].get(action) or ""
                    raise ApiError(409, f"案件 {code} 已不再等待这条回复，这条记录可以删除。{why}") from exc
                detail = self.api.post(
                    f"api/cases/{code}/actions/{action}", json=body | {"version": detail["version"]}
                )
        self.cache.apply_detail(detail)

    def _already_replied(self, detail: dict, item: OutboxItem, photo_ids: list[int]) -> bool:
        """Whether the case's timeline holds this reply (its answer was lost on the way back)."""
        me = (self.api.auth or {}).get("user", {}).get("name")
        for event in detail["timeline"]:
            if event["action"] != item.payload["action"] or event["actor"] != me:
                continue
            if (photo_ids and set(photo_ids) <= set(event["photo_ids"])) or (
                not photo_ids and event["note"] == item.payload["note"]
            ):
                return True
        return False

    def push_patrol(self, run: SyncRun) -> None:
        for shift in self.patrol.unsent_shifts():
            try:
                self._push_shift(shift, run)
            except ApiError as exc:  # a version 1 phone filed one user's walk in another's shift
                if exc.code not in NOT_MY_SHIFT:
                    raise
                log.warning("shift %s is another user's on the server: %s", shift["client_uuid"], exc.message)
                self.patrol.give_up(shift["client_uuid"])
        self.patrol.forget_sent()

    def _push_shift(self, shift: dict, run: SyncRun) -> None:
        uuid = shift["client_uuid"]
        if not shift["start_sent"]:
            self.api.post("api/patrol/shifts", json={"client_uuid": uuid, "started_at": shift["started_at"]})
            self.patrol.mark_sent(uuid, start=True)
        while points := self.patrol.unsent_points(uuid, POINT_BATCH):
            batch = [
                {k: p[k] for k in ("recorded_at", "lon", "lat", "accuracy_m", "speed_mps")} for p in points
            ]
            try:
                self.api.post(f"api/patrol/shifts/{uuid}/points", json={"points": batch})
            except ApiError as exc:  # refused points are dropped (logged), never retried forever
                if exc.status != 422:
                    raise
                log.warning("track points of shift %s refused: %s", uuid, exc.message)
            self.patrol.mark_sent(uuid, point_ids=[p["id"] for p in points])
            run.points += len(points)
        if shift["ended_at"] and not shift["end_sent"]:
            self.api.post(f"api/patrol/shifts/{uuid}/end", json={"ended_at": shift["ended_at"]})
            self.patrol.mark_sent(uuid, end=True)

    def pull(self, run: SyncRun) -> None:
        store, owner = self.cache.store, self.cache.store.owner
        categories = self.api.get(
            "api/categories", since=store.get("cursor.categories"), include_inactive="true"
        )
        self.cache.apply_categories(categories)
        if categories:
            store.set("cursor.categories", max(c["updated_at"] for c in categories))
        run.categories = len(categories)

        grids = self.api.get("api/sync/grids", since=store.get(user_cursor("grids", owner)))
        self.cache.apply_grids(grids["codes"], grids["features"], grids["layers"])
        store.set(user_cursor("grids", owner), grids["cursor"])
        run.grids = len(grids["features"])

        for kind in ("tasks", "reports"):
            while True:
                answer = self.api.get(f"api/sync/{kind}", since=store.get(user_cursor(kind, owner), 0))
                self.cache.apply_cases(answer["items"], kind=kind)
                store.set(user_cursor(kind, owner), answer["cursor"])
                store.set("photo_far_m", answer["photo_far_m"])  # the server's limit, for the reply's warning
                setattr(run, kind, getattr(run, kind) + len(answer["items"]))
                if not answer["more"]:
                    break

        # After the grids: a grid new to me has started the addresses over (Cache.apply_grids). Each page
        # is kept before its cursor: a run cut short fetches the rest next time.
        while True:
            answer = self.api.get("api/sync/addresses", since=store.get(user_cursor("addresses", owner), 0))
            self.cache.apply_addresses(answer["items"])
            store.set(user_cursor("addresses", owner), answer["cursor"])
            run.addresses += len(answer["items"])
            if not answer["more"]:
                break

        # My proactive patrol tasks (主动巡查任务) of today and the coming days, with their coverage as the
        # points pushed above count: a few, fetched whole.
        patrol_tasks = self.api.get("api/patrol/tasks/mine")
        self.cache.apply_patrol_tasks(patrol_tasks)
        run.patrol_tasks = len(patrol_tasks)

    def case_detail(self, code: str) -> dict | None:
        """A case's detail from the server (kept for offline use), or the cached one when offline."""
        try:
            detail = self.api.get(f"api/cases/{code}")
        except (Offline, LoginRequired):
            return self.cache.case(code)
        self.cache.apply_detail(detail)
        return detail

    # -- in the background ----------------------------------------------------------------------------

    def start(self) -> None:
        """Sync in a background thread until :meth:`stop`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="gridops-sync", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Sync now (a new report, the network is back, the app came to the front)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _loop(self) -> None:
        pause = 2.0
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.run_once()
            except Exception:  # a bug must not end the background sync: log it, try again later
                log.exception("sync run failed")
                self._set("error", "同步意外出错，稍后会重试。")
            if self.status.state == "idle":
                wait, pause = self.interval_s, 2.0
            else:  # offline or refused: try again soon, then less and less often
                wait, pause = pause, min(pause * 2, self.max_pause_s)
            self._wake.wait(wait)
