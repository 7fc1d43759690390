"""The inspectors' app (城管通): the Kivy application, its screens and the phone's GPS and camera.

``python -m mobile`` (or ``gridops-mobile``) opens it on the desktop in a phone-shaped window against the
server named by ``--server`` (default: the one of the last login, else ``GRIDOPS_SERVER``, else
http://127.0.0.1:8000), keeping its data in ``--data`` (default ``GRIDOPS_MOBILE_DATA``, else Kivy's
user data folder). On the desktop the GPS walks a route through 历下区 and the camera draws sample photos
(see ``mobile/platform/``). ``GRIDOPS_MOBILE_MBTILES`` names a local MBTiles file of base tiles for the map.

Screens are made when first shown (their .kv files loaded then). The sync runs in its background thread
while someone is logged in; every network call of a screen runs on a thread of its own, and its result
comes back to Kivy's thread.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("KIVY_NO_ARGS", "1")  # our options are not Kivy's: it must not parse the command line
DESKTOP_WINDOW = (448, 896)  # pixels: a phone held upright (a width of 4n keeps screenshots whole)

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
from mobile.platform.gps import Fix, Gps, default_gps  # noqa: E402
from mobile.screens import make_screen  # noqa: E402
from mobile.screens.widgets import AppScreen, Notice, in_background  # noqa: E402
from mobile.services.app import AppServices  # noqa: E402
from mobile.services.errors import explain  # noqa: E402
from mobile.services.photos import cjk_font_path  # noqa: E402
from mobile.services.sync import SyncStatus  # noqa: E402

NOTICE_SECONDS = 3.0
MBTILES_ENV = "GRIDOPS_MOBILE_MBTILES"
DATA_ENV = "GRIDOPS_MOBILE_DATA"


def register_cjk_font() -> None:
    """Make the installed Noto Sans CJK Kivy's default font, so that Chinese text renders (Kivy's own
    font has no Chinese; without a CJK font it shows as boxes)."""
    regular = cjk_font_path()
    if regular is not None:
        bold = regular.with_name(regular.name.replace("Regular", "Bold"))
        LabelBase.register(DEFAULT_FONT, str(regular), fn_bold=str(bold) if bold.is_file() else None)


class GridOpsApp(App):
    """The app. ``data_dir`` holds its SQLite store and photos; ``server_url`` overrides the server of the
    last login; ``gps`` and ``camera`` default to the phone's (simulated ones on the desktop);
    ``mbtiles`` is a local file of base tiles for the map; ``sync_options`` go to the sync engine
    (``interval_s``, ``max_pause_s``).

    Screens read the app's state from its properties: ``current`` (the screen shown), ``fix`` (the last
    GPS fix), ``sync_state``/``sync_message``/``last_sync`` (the sync's status, as it reported it last),
    ``sync_changes`` (counts status reports: lists re-read the store on a change) and ``notice`` (a
    short message shown under the title bar)."""

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
        self.camera = camera or default_camera(self.gps)
        self.mbtiles = mbtiles
        self.sync_options = sync_options or {}
        self.services: AppServices | None = None
        self.manager: ScreenManager | None = None
        self._running = False
        self._clear_notice = Clock.create_trigger(lambda dt: setattr(self, "notice", ""), NOTICE_SECONDS)

    # -- life cycle -----------------------------------------------------------------------------------

    def build(self) -> FloatLayout:
        register_cjk_font()
        self.drafts_dir.mkdir(parents=True, exist_ok=True)
        self.services = AppServices(self.data_dir, self.server_url, **self.sync_options)
        self.services.sync.listen(self._sync_reported)
        self.manager = ScreenManager(transition=NoTransition())
        root = FloatLayout()
        root.add_widget(self.manager)
        root.add_widget(Notice())
        self.show("login" if self.needs_login else "home")
        return root

    def on_start(self) -> None:
        self._running = True
        self.gps.start(self._fix_arrived)
        if not self.needs_login:
            self.services.sync.start()

    def open_settings(self, *args) -> bool:
        """Kivy's settings panel (F1, or a phone's menu key) is for developers, in English: the inspectors'
        app has none."""
        return False

    def on_pause(self) -> bool:
        return True  # keep running in the background: the outbox and the track carry on

    def on_resume(self) -> None:
        self.services.sync.wake()

    def on_stop(self) -> None:
        self._running = False
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
        """After a login (online or offline): sync in the background and open the home screen."""
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
        if status.state == "login" and not self.services.offline and self.current != "login":
            self.show("login")
            self.notify(status.message)  # why the login ended, as the server said it


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
