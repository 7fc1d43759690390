"""The inspectors' app (城管通): the Kivy application, its screens and the phone's GPS and camera.

``python -m mobile`` (or ``gridops-mobile``) opens it on the desktop in a phone-shaped window against the
server named by ``--server`` (default: the one of the last login, else ``GRIDOPS_SERVER``, else
http://127.0.0.1:8000), keeping its data in ``--data`` (default ``GRIDOPS_MOBILE_DATA``, else Kivy's
user data folder). On the desktop the GPS walks a route through 历下区, then round one of the inspector's
grids once they are known, and the camera draws sample photos (see ``mobile/platform/``).
``GRIDOPS_MOBILE_MBTILES`` names a local MBTiles file of base tiles for the map.

While the app is in the background a sync that brings a new task, or puts a case of the inspector's under
supervision, gives a notification. Sent reports and replies leave the phone after ``retention_days`` (a
setting of the store, default 7).

Screens are made when first shown (their .kv files loaded then). The sync runs in its background thread
while someone is logged in; every network call of a screen runs on a thread of its own, and its result
comes back to Kivy's thread.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("KIVY_NO_ARGS", "1")  # our options are not Kivy's: it must not parse the command line
# Pixels at density 1: a common phone held upright, 360 x 780 dp (720 x 1560 pixels at density 2), the
# narrowest width the screens are made for (tests/mobile/layout.py checks them at it and at 411 dp).
DESKTOP_WINDOW = (360, 780)

from kivy.config import Config  # noqa: E402
from kivy.utils import platform  # noqa: E402

if platform not in (
    "android",
    "ios",
):  # the window's size is fixed when it is made, at the first import of it
    Config.set("graphics", "width", str(DESKTOP_WINDOW[0]))
    Config.set("graphics", "height", str(DESKTOP_WINDOW[1]))

from kivy.app import App  # noqa: E402
from kivy.clock import Clock, mainthread  # noqa: E402
from kivy.core.text import DEFAULT_FONT, LabelBase  # noqa: E402
from kivy.properties import NumericProperty, ObjectProperty, StringProperty  # noqa: E402
from kivy.uix.floatlayout import FloatLayout  # noqa: E402
from kivy.uix.screenmanager import NoTransition, ScreenManager  # noqa: E402

from mobile.platform import on_android  # noqa: E402
from mobile.platform.camera import Camera, default_camera  # noqa: E402
from mobile.platform.gps import Fix, Gps, SimulatedGps, default_gps, loop_inside  # noqa: E402
from mobile.platform.notify import Notifier  # noqa: E402
from mobile.platform.speech import default_speech  # noqa: E402
from mobile.screens import make_screen  # noqa: E402
from mobile.screens.widgets import TASK_KINDS, AppScreen, Notice, in_background  # noqa: E402
from mobile.services.app import AppServices  # noqa: E402
from mobile.services.cache import Cache  # noqa: E402
from mobile.services.errors import explain  # noqa: E402
from mobile.services.photos import cjk_font_path  # noqa: E402
from mobile.services.sync import SyncStatus  # noqa: E402

NOTICE_SECONDS = 3.0
MBTILES_ENV = "GRIDOPS_MOBILE_MBTILES"
DATA_ENV = "GRIDOPS_MOBILE_DATA"
RETENTION_DAYS = 7  # default of the setting "retention_days": how long sent items stay on the phone
PURGE_EVERY_S = 3600.0


def register_cjk_font() -> None:
    """Make the installed Noto Sans CJK Kivy's default font, so that Chinese text renders (Kivy's own
    font has no Chinese; without a CJK font it shows as boxes)."""
    regular = cjk_font_path()
    if regular is not None:
        bold = regular.with_name(regular.name.replace("Regular", "Bold"))
        LabelBase.register(DEFAULT_FONT, str(regular), fn_bold=str(bold) if bold.is_file() else None)


@dataclass(frozen=True)
class Seen:
    """What the inspector ``owner`` was told of: their active tasks as (case code, kind), and the codes of
    their cases (tasks and reports) under supervision."""

    owner: int
    tasks: frozenset[tuple[str, str]]
    supervised: frozenset[str]

    @classmethod
    def now(cls, cache: Cache, owner: int) -> Seen:
        tasks = cache.tasks(active_only=False)
        return cls(
            owner,
            frozenset((t["code"], t["kind"]) for t in tasks if t.get("active")),
            frozenset(c["code"] for c in (*tasks, *cache.reports()) if c.get("supervised")),
        )


class GridOpsApp(App):
    """The app. ``data_dir`` holds its SQLite store and photos; ``server_url`` overrides the server of the
    last login; ``gps`` and ``camera`` default to the phone's (simulated ones on the desktop);
    ``mbtiles`` is a local file of base tiles for the map; ``sync_options`` go to the sync engine
    (``interval_s``, ``max_pause_s``).

    Screens read the app's state from its properties: ``current`` (the screen shown), ``fix`` (the last
    GPS fix), ``sync_state``/``sync_message``/``last_sync`` (the sync's status, as it reported it last),
    ``sync_changes`` (counts status reports: lists re-read the store on a change) and ``notice`` (a
    short message shown under the title bar). ``paused`` is true while the app is in the background;
    ``notifier`` gives the notifications."""

    title = "城管通 GridOps"
    current = StringProperty("")
    fix = ObjectProperty(None, allownone=True)
    sync_state = StringProperty("idle")
    sync_message = StringProperty("")
    last_sync = ObjectProperty(None, allownone=True)
    sync_changes = NumericProperty(0)
    notice = StringProperty("")

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        server_url: str | None = None,
        gps: Gps | None = None,
        camera: Camera | None = None,
        mbtiles: Path | None = None,
        sync_options: dict | None = None,
    ) -> None:
        super().__init__()
        self.data_dir = Path(data_dir or self.user_data_dir)
        self.drafts_dir = self.data_dir / "drafts"  # photos being prepared for a report or reply
        self.server_url = server_url
        self.gps = gps or default_gps()
        # The desktop's own walk goes round the inspector's grids once they are known; a GPS given to the
        # app (a test's) or the replay of a GPX file keeps its way.
        self._roaming = gps is None and isinstance(self.gps, SimulatedGps) and self.gps.gpx is None
        self._walking_for: int | None = None  # whose grid the walk goes round
        self.camera = camera or default_camera(self.gps)
        self.speech = default_speech()
        self.mbtiles = mbtiles
        self.sync_options = sync_options or {}
        self.services: AppServices | None = None
        self.manager: ScreenManager | None = None
        self._running = False
        self._clear_notice = Clock.create_trigger(lambda dt: setattr(self, "notice", ""), NOTICE_SECONDS)
        self.paused = False
        self.notifier = Notifier(mainthread(self.notify))
        self._seen: Seen | None = None
        self._purge_due = 0.0  # time.monotonic() from which sent items are purged again

    # -- life cycle -----------------------------------------------------------------------------------

    def build(self) -> FloatLayout:
        register_cjk_font()
        self.drafts_dir.mkdir(parents=True, exist_ok=True)
        self.services = AppServices(self.data_dir, self.server_url, **self.sync_options)
        self.services.sync.listen(self._sync_reported)
        self.services.sync.listen(self._sync_done)
        self.manager = ScreenManager(transition=NoTransition())
        root = FloatLayout()
        root.add_widget(self.manager)
        root.add_widget(Notice())
        self.show("login" if self.needs_login else "home")
        return root

    def on_start(self) -> None:
        self._running = True
        self._purge_sent()
        self._walk_in_my_grids()
        self.gps.start(self._fix_arrived)
        if not self.needs_login:
            self.services.sync.start()

    def open_settings(self, *args) -> bool:
        """Kivy's settings panel (F1, or a phone's menu key) is for developers, in English: the inspectors'
        app has none."""
        return False

    def on_pause(self) -> bool:
        self.paused = True
        return True  # keep running in the background: the outbox and the track carry on

    def on_resume(self) -> None:
        self.paused = False
        self.services.sync.wake()

    @property
    def stopped(self) -> bool:
        """Whether the app has stopped (or not started): its store is closed, nothing may read it."""
        return not self._running

    def on_stop(self) -> None:
        self._running = False
        # A notice put away after the stop would change this app once it is gone: Kivy's ``app`` of the
        # screens' rules would then name it for good, and the next app's buttons would work on it.
        self._clear_notice.cancel()
        self.gps.stop()
        self.services.close()

    # -- login ----------------------------------------------------------------------------------------

    @property
    def needs_login(self) -> bool:
        """No one has logged in on this phone, or the server ended the login (the tokens are gone)."""
        return self.services.user is None or not self.services.api.logged_in

    @property
    def user_name(self) -> str:
        return (self.services.user or {}).get("name", "")

    def logged_in(self) -> None:
        """After a login (online or offline): sync in the background and open the home screen. Android is
        asked for leave to notify here, not at start, where the GPS asks for the location: a second
        question while one is open would be refused."""
        self.notifier.start()
        self.services.sync.start()
        self.show("home")

    def logout(self) -> None:
        """End the session (the server is told when it can be reached) and show the login screen."""
        in_background(
            self.services.logout, lambda _: self.show("login"), lambda exc: self.notify(explain(exc))
        )

    # -- screens --------------------------------------------------------------------------------------

    def show(self, name: str, **context) -> AppScreen:
        """Open screen ``name`` (made on first use), setting ``context`` on it first (for example the
        case code of the case screen)."""
        if not self.manager.has_screen(name):
            self.manager.add_widget(make_screen(name))
        screen = self.manager.get_screen(name)
        for key, value in context.items():
            setattr(screen, key, value)
        if self.manager.current == name:
            screen.refresh()
        self.manager.current = name
        self.current = name
        return screen

    def notify(self, text: str) -> None:
        """Show ``text`` under the title bar for a few seconds (a tap puts it away sooner)."""
        self.notice = text
        self._clear_notice.cancel()
        self._clear_notice()

    # -- what the background reports ------------------------------------------------------------------

    @mainthread
    def _fix_arrived(self, fix: Fix) -> None:
        if not self._running:
            return
        self.fix = fix
        if not on_android():  # there the patrol's foreground service records the track, screen on or off
            self.services.patrol.add_fix(fix.lon, fix.lat, fix.accuracy_m, fix.at, fix.speed_mps)

    @mainthread
    def _sync_reported(self, status: SyncStatus) -> None:
        if not self._running:
            return
        self.sync_state, self.sync_message, self.last_sync = status.state, status.message, status.last_success
        self.sync_changes += 1
        if status.state == "idle":
            self._walk_in_my_grids()
        if status.state == "login" and not self.services.offline and self.current != "login":
            self.show("login")
            self.notify(status.message)  # why the login ended, as the server said it

    def _sync_done(self, status: SyncStatus) -> None:
        """After a successful run, on the sync's thread: in the background Kivy's thread sleeps (on
        Android), and the news must go out then."""
        if status.state == "idle":
            self._tell_news()
            if time.monotonic() >= self._purge_due:
                self._purge_sent()

    def _tell_news(self) -> None:
        """Notify new tasks and cases newly under supervision while the app is in the background (in the
        foreground the screens show them). The first look after a login only notes what there is."""
        owner = self.services.store.owner
        if owner is None:
            return
        seen = Seen.now(self.services.cache, owner)
        before, self._seen = self._seen, seen
        if before is None or before.owner != owner or not self.paused:
            return
        new = seen.tasks - before.tasks
        for code, kind in sorted(new):
            self.notifier.notify(
                "城管通：新任务", f"新任务：{TASK_KINDS.get(kind, '')} {code}。请打开任务列表处理。"
            )
        for code in sorted(seen.supervised - before.supervised - {code for code, _ in new}):
            self.notifier.notify("城管通：案件督办", f"案件 {code} 被督办：请打开案件查看，尽快办理。")

    def _purge_sent(self) -> None:
        """Drop the items sent more than ``retention_days`` ago, with their photos."""
        days = self.services.store.get("retention_days", RETENTION_DAYS)
        self.services.outbox.purge_sent(datetime.now(UTC) - timedelta(days=days))
        self._purge_due = time.monotonic() + PURGE_EVERY_S

    def _walk_in_my_grids(self) -> None:
        """Send the desktop's simulated walk round a grid of the logged-in inspector of the lowest level
        (one with no grid under it), once the cache holds their grids: on the default route the map
        would show none of them, and reports would land outside them."""
        owner = self.services.store.owner
        if not self._roaming or owner is None or owner == self._walking_for:
            return
        grids = self.services.cache.grid_records()  # by code
        parents = {grid.parent_code for grid in grids}
        lowest = next((grid for grid in grids if grid.code not in parents), None)
        if lowest is not None:
            self.gps.follow(loop_inside(lowest.geometry))
            self._walking_for = owner


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="gridops-mobile", description="The GridOps inspectors' app (城管通)."
    )
    parser.add_argument(
        "--server",
        help="the GridOps server (default: the last login's, else GRIDOPS_SERVER, else http://127.0.0.1:8000)",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=os.environ.get(DATA_ENV),
        help=f"the app's data folder (default {DATA_ENV}, else Kivy's user data folder)",
    )
    parser.add_argument(
        "--mbtiles",
        type=Path,
        default=os.environ.get(MBTILES_ENV),
        help=f"a local MBTiles file of base tiles for the map (default {MBTILES_ENV})",
    )
    args = parser.parse_args(argv)
    if args.mbtiles is not None and not args.mbtiles.is_file():
        parser.error(f"{args.mbtiles}: no such MBTiles file")
    GridOpsApp(args.data, server_url=args.server, mbtiles=args.mbtiles).run()


if __name__ == "__main__":
    main()
