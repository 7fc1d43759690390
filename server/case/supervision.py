"""The server's periodic jobs: the supervision sweep (督办), which every ``supervision_sweep_seconds``
flags the cases whose current step has gone overdue (one event each), and the media sweep
(``server.photo.sweep``). Several server processes may sweep at once: the supervision sweep skips rows
another one holds locked, and a flagged case is never flagged again for the same step."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from server.case import service
from server.database import new_session

log = logging.getLogger(__name__)


class Periodic:
    """A background thread running ``job`` every ``interval_s`` seconds (never when 0) until stopped; a
    failed run is logged and retried at the next tick."""

    def __init__(self, name: str, interval_s: float, job: Callable[[], None]) -> None:
        self.name = name
        self.interval_s = interval_s
        self.job = job
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"gridops-{name}", daemon=True)

    def start(self) -> None:
        if self.interval_s > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.job()
            except Exception:  # a failed run is logged and retried at the next tick
                log.exception("the %s job failed", self.name)


def flag_overdue() -> None:
    """One supervision sweep."""
    with new_session() as db:
        flagged = service.sweep_overdue(db=db)
    if flagged:
        log.info("flagged %d overdue cases for supervision", len(flagged))
