"""The server's periodic jobs: the supervision sweep (督办), which every ``supervision_sweep_seconds``
flags the cases whose current step has gone overdue (one event each), and the media sweep
(``server.photo.sweep``). Several server processes may sweep at once: the supervision sweep skips rows
another one holds locked, and a flagged case is never flagged again for the same step."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.case.clock import overdue
from server.case.models import Case
from server.case.states import OPEN_STATES
from server.case.trail import db_now, record_event
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
        flagged = sweep_overdue(db=db)
    if flagged:
        log.info("flagged %d overdue cases for supervision", len(flagged))


def sweep_overdue(*, db: Session, at: datetime | None = None) -> list[str]:
    """Flag for supervision (督办) every open case whose current step is overdue and not yet flagged; one
    event each. Returns their codes."""
    now = db_now(db, at)
    cases = list(
        db.scalars(
            select(Case)
            .where(Case.state.in_(OPEN_STATES), overdue(now), Case.supervised_at.is_(None))
            .order_by(Case.id)
            .with_for_update(skip_locked=True)
        )
    )
    for case in cases:
        case.supervised_at = now
        record_event(
            db, case, None, "supervise", case.state, now, data={"overdue_since": case.step_due_at.isoformat()}
        )
    db.commit()
    return [c.code for c in cases]
