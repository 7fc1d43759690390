"""One LISTEN connection per server process, fanning notifications out to the open streams.

A daemon thread holds an autocommit psycopg2 connection listening on ``case_change`` (sent at commit by
the trigger ``case_file_notify``), ``patrol_position`` (sent at commit by ``server.patrol.service`` when
track points are stored), ``warning_change`` (sent at commit by ``server.warning.service`` when a warning
is raised or acted on) and ``session_end`` (sent at commit by ``server.auth.service`` when sessions of
a user end: logout, revocation, password change, account disabled), waits on it with ``select()`` and
hands each payload, with its channel, to the subscriptions that want it. A subscription is a bounded
``asyncio.Queue`` on its own event loop, fed with ``loop.call_soon_threadsafe``, so the thread never
waits for a client: one whose queue is full is dropped with a final ``OVERFLOW``. When the connection
drops, the thread reconnects with growing pauses; every subscription then gets ``READY`` again, since
notifications sent meanwhile are lost."""

from __future__ import annotations

import asyncio
import json
import logging
import select
import threading
from collections.abc import Callable
from dataclasses import dataclass

import psycopg2

from server.auth.service import SESSION_CHANNEL
from server.database import get_engine
from server.patrol.service import POSITION_CHANNEL
from server.warning.service import CHANNEL as WARNING_CHANNEL

log = logging.getLogger(__name__)

CASE_CHANNEL = "case_change"
CHANNELS = (CASE_CHANNEL, POSITION_CHANNEL, SESSION_CHANNEL, WARNING_CHANNEL)
APPLICATION_NAME = "gridops-events"  # how the connection shows in pg_stat_activity
QUEUE_SIZE = 1000
POLL_SECONDS = 1.0  # how long one select() waits: bounds how late a stop is noticed
BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 5.0

# Besides notices, a subscription's queue carries these two markers.
READY = "ready"  # the listener is connected: what follows is complete until the next READY
OVERFLOW = "overflow"  # the last item: the client fell too far behind and was dropped


@dataclass(frozen=True)
class Notice:
    """A notification: its channel and its payload (a JSON object)."""

    channel: str
    payload: dict


Filter = Callable[[Notice], bool]


class Subscription:
    """One open stream: a bounded queue on the event loop that made it, and the notices it wants."""

    def __init__(self, listener: Listener, accept: Filter, queue_size: int) -> None:
        self.listener = listener
        self.accept = accept
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[Notice | str] = asyncio.Queue(maxsize=queue_size)
        self.closed = False

    async def get(self) -> Notice | str:
        """The next notice or marker."""
        return await self.queue.get()

    def close(self) -> None:
        """Stop receiving (idempotent)."""
        self.closed = True
        self.listener.discard(self)

    def hand_over(self, items: list[Notice | str]) -> None:
        """From the listener thread: queue ``items`` on the subscription's loop, never waiting."""
        try:
            self.loop.call_soon_threadsafe(self._offer, items)
        except RuntimeError:  # the loop is closed: nobody reads this subscription any more
            self.close()

    def _offer(self, items: list[Notice | str]) -> None:
        """On the subscription's loop: queue ``items``, or drop the subscription when its queue is full."""
        for item in items:
            if self.closed:
                return
            if self.queue.full():
                log.warning(
                    "events: a client fell %d notifications behind and was dropped", self.queue.qsize()
                )
                while not self.queue.empty():
                    self.queue.get_nowait()
                self.queue.put_nowait(OVERFLOW)
                self.close()
                return
            self.queue.put_nowait(item)


class Listener:
    """The process's LISTEN connection and its subscriptions; ``url`` defaults to the app engine's."""

    def __init__(self, url: str | None = None, queue_size: int = QUEUE_SIZE) -> None:
        self.url = url
        self.queue_size = queue_size
        self._lock = threading.Lock()
        self._subscriptions: set[Subscription] = set()
        self._thread: threading.Thread | None = None
        self._stop: threading.Event | None = None
        self._live = False

    def subscribe(self, accept: Filter) -> Subscription:
        """A subscription (on the running event loop) to the notices ``accept`` takes; starts the
        listener thread when needed. Its queue starts with ``READY`` once the listener is connected."""
        subscription = Subscription(self, accept, self.queue_size)
        with self._lock:
            self._subscriptions.add(subscription)
            if self._live:
                subscription.queue.put_nowait(READY)
            if self._thread is None:
                self._stop = threading.Event()
                self._thread = threading.Thread(
                    target=self._run, args=(self._stop,), name="gridops-events", daemon=True
                )
                self._thread.start()
        return subscription

    def discard(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions.discard(subscription)

    @property
    def subscriptions(self) -> int:
        with self._lock:
            return len(self._subscriptions)

    def stop(self) -> None:
        """Stop the thread and close its connection (at shutdown); a later subscription starts it again."""
        with self._lock:
            thread, stop = self._thread, self._stop
            self._thread = self._stop = None
            self._live = False
        if thread is not None:
            stop.set()
            thread.join(STOP_TIMEOUT_SECONDS)

    # -- the thread ---------------------------------------------------------------------------------

    def _connect(self):
        engine = get_engine(self.url)
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        conn = psycopg2.connect(*args, **kwargs, application_name=APPLICATION_NAME)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("; ".join(f"LISTEN {channel}" for channel in CHANNELS))
        except BaseException:
            conn.close()
            raise
        return conn

    def _run(self, stop: threading.Event) -> None:
        """Connect, listen until stopped or dropped, and again, pausing longer after each failed try.

        Whatever goes wrong is logged and retried: the thread only ends when stopped."""
        pause = BACKOFF_FIRST_SECONDS
        while not stop.is_set():
            try:
                conn = self._connect()
            except Exception as exc:
                log.warning("events: cannot LISTEN (%s); trying again in %.1f s", str(exc).strip(), pause)
                stop.wait(pause)
                pause = min(pause * 2, BACKOFF_MAX_SECONDS)
                continue
            log.info("events: listening on %s", ", ".join(CHANNELS))
            pause = BACKOFF_FIRST_SECONDS
            try:
                self._set_live(stop, True)
                self._listen(conn, stop)
            except (psycopg2.Error, OSError) as exc:
                log.warning("events: the LISTEN connection dropped (%s); reconnecting", str(exc).strip())
            except Exception:
                log.exception("events: the listener failed; reconnecting")
            finally:
                self._set_live(stop, False)
                conn.close()
            stop.wait(pause)

    def _set_live(self, stop: threading.Event, live: bool) -> None:
        """Record whether this thread (the current one, unless stopped) is listening; when it starts,
        every subscription gets ``READY``."""
        with self._lock:
            if self._stop is not stop:
                return
            self._live = live
            subscriptions = list(self._subscriptions) if live else []
        for subscription in subscriptions:
            subscription.hand_over([READY])

    def _listen(self, conn, stop: threading.Event) -> None:
        while not stop.is_set():
            if not select.select([conn], [], [], POLL_SECONDS)[0]:
                continue
            conn.poll()
            notices = [n for n in map(_parse, conn.notifies) if n is not None]
            conn.notifies.clear()
            if notices:
                self._fan_out(notices)

    def _fan_out(self, notices: list[Notice]) -> None:
        with self._lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            wanted = [n for n in notices if subscription.accept(n)]
            if wanted:
                subscription.hand_over(wanted)


def _parse(notify) -> Notice | None:
    try:
        payload = json.loads(notify.payload)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        log.warning(
            "events: ignored a %s notification that is not a JSON object: %.200s",
            notify.channel,
            notify.payload,
        )
        return None
    return Notice(notify.channel, payload)


listener = Listener()
