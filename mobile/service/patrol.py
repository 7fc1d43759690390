"""The patrol's Android foreground service: keeps recording the track while the screen is off.

python-for-android runs this file as a process of its own (``services`` in mobile/buildozer.spec), started
by the app at clock-in with the app's data folder as its argument (``mobile.platform.background``). It
writes fixes into the same SQLite store as the app (WAL lets both processes use it), through the same
:class:`~mobile.services.patrol.Patrol` filters, and ends itself when the shift is over; the app's sync
uploads the points.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from mobile.platform.gps import AndroidGps
from mobile.services.patrol import Patrol
from mobile.services.store import Store

CHECK_SECONDS = 10  # how often the service looks whether the shift has ended


def main() -> None:
    store = Store(Path(os.environ["PYTHON_SERVICE_ARGUMENT"]) / "gridops.sqlite")
    patrol = Patrol(store)
    gps = AndroidGps()
    gps.start(lambda fix: patrol.add_fix(fix.lon, fix.lat, fix.accuracy_m, fix.at, fix.speed_mps))
    try:
        while patrol.on_shift:
            time.sleep(CHECK_SECONDS)
    finally:
        gps.stop()
        store.close()


if __name__ == "__main__":
    main()
