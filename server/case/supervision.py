"""The supervision sweep (督办) in the server: every ``supervision_sweep_seconds`` a background thread flags
the cases whose current step has gone overdue (one event each). Several server processes may sweep at once:
the sweep skips rows another one holds locked, and a flagged case is never flagged again for the same step."""

from __future__ import annotations

import logging
import threading

from server.case import service
from server.database import new_session

log = logging.getLogger(__name__)


class Supervisor:
    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gridops-supervision", daemon=True)

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
                with new_session() as db:
                    flagged = service.sweep_overdue(db=db)
                if flagged:
                    log.info("flagged %d overdue cases for supervision", len(flagged))
            except Exception:  # a failed sweep is logged and retried at the next tick
                log.exception("the supervision sweep failed")
