"""The app as a process of its own, for the offline drill (tests/mobile/test_offline_drill.py):

    python -m tests.mobile.drill_app login  DATA_DIR SERVER_URL   log in through the form, sync once, quit
    python -m tests.mobile.drill_app report DATA_DIR SERVER_URL N make N reports with a photo each through
                                                                    the report screen, then run until killed
    python -m tests.mobile.drill_app sync   DATA_DIR SERVER_URL   run until the outbox is empty, then quit

Each line it prints is one fact the test reads: ``saved <client uuid>`` the moment the app has said
"saved", ``offline`` once a sync has found the server out of reach, ``sent <case code>``, ``ready``,
``done``.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The tests' Kivy settings (a real window, offscreen) are made when their conftest is imported: first.
from tests.mobile.conftest import INSPECTOR, PASSWORD  # isort: skip

from mobile.main import GridOpsApp
from mobile.platform.camera import DesktopCamera
from mobile.platform.gps import LIXIA_ROUTE, SimulatedGps
from mobile.services.cache import Cache
from mobile.services.store import Store
from tests.mobile.app_driver import Driver

# The restarted app retries every second or two, so the drill need not wait for a phone's long pauses.
SYNC = {"interval_s": 1.0, "max_pause_s": 2.0}


def say(*words: object) -> None:
    print(*words, flush=True)


def beat(data_dir: Path) -> tuple[tuple[float, float], ...]:
    """A few metres' walk in the inspector's first unit grid once the app has cached its grids (before
    that, the start of the walk through 历下区)."""
    store = Store(data_dir / "gridops.sqlite")
    units = [r for r in Cache(store).grid_records() if r.level == "unit"]
    store.close()
    if not units:
        return LIXIA_ROUTE[:2]
    inside = min(units, key=lambda r: r.code).geometry.representative_point()
    return (inside.x, inside.y), (inside.x + 0.00004, inside.y + 0.00003)


def start(data_dir: Path, server_url: str) -> Driver:
    gps = SimulatedGps(route=beat(data_dir), interval_s=1.0)
    app = GridOpsApp(
        data_dir, server_url=server_url, gps=gps, camera=DesktopCamera(gps=gps), sync_options=SYNC
    )
    return Driver(app).start()


def login(d: Driver, server_url: str) -> None:
    screen = d.screen
    d.type(screen.ids.server, server_url)
    d.type(screen.ids.login, INSPECTOR)
    d.type(screen.ids.password, PASSWORD)
    d.tap(screen.ids.submit)
    d.until(lambda: d.app.current == "home", "the home screen")
    d.until(lambda: d.app.last_sync is not None and d.app.services.cache.grid_count(), "the first sync")


def report(d: Driver, n: int) -> None:
    for i in range(n):
        d.nav("report")
        screen = d.screen
        d.until(lambda screen=screen: screen.pin is not None, "a GPS fix")
        d.tap(screen.ids.photos.ids.take)
        d.until(lambda screen=screen: screen.ids.photos.paths, "the photo")
        d.type(screen.ids.search, "暴露垃圾")
        d.frames(2)
        d.tap(d.find("ChoiceRow", code="E06010"))
        description = f"离线演练第 {i + 1} 条"
        d.type(screen.ids.description, description)
        assert screen.blocked == "", screen.blocked
        d.tap(screen.ids.submit)
        d.until(lambda: d.app.current == "outbox", "the outbox after submitting")
        (item,) = [
            x for x in d.app.services.outbox.items() if x.payload["description"] == f"离线演练第 {i + 1} 条"
        ]
        say("saved", item.client_uuid)


def main() -> None:
    phase, data_dir, server_url = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    d = start(data_dir, server_url)
    if phase == "login":
        login(d, server_url)
        say("ready")
    elif phase == "report":
        report(d, int(sys.argv[4]))
        say("done")
        while True:  # the app goes on running (its sync trying in vain) until the drill kills it
            d.frames(1)
    elif phase == "sync":
        outbox = d.app.services.outbox
        d.until(lambda: d.app.sync_state == "offline", "a sync that finds the server out of reach")
        say("offline")
        d.until(lambda: not outbox.pending(), "an empty outbox", seconds=300)
        for item in outbox.items():
            say("sent" if item.state == "sent" else item.state, item.case_code, item.error or "")
        say("done")
    d.stop()


if __name__ == "__main__":
    main()
