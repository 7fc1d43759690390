"""Making the reports and finding them: the period of a kind around a day, the areas reported on, the due
reports of a day (made once however many servers run the schedule), and the reports a user may see."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import ColumnElement, select, text, true
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from server.case.scope import Scope
from server.config import get_settings
from server.errors import Conflict, Invalid, NotFound
from server.grid import service as grid_service
from server.grid.models import CURRENT, Grid, today
from server.grid.subtree import within
from server.report import document
from server.report.models import Report
from server.stats import sql
from server.stats.request import _top_grid
from server.tenant import each_city

log = logging.getLogger(__name__)
STAGES = ("统计并排版", "生成 PDF")
EARLIEST = date(2000, 1, 1)  # no report of a period before this (and no date arithmetic near year 1)
Progress = Callable[[str, int, int], None]  # (stage, done, total)


def period(kind: str, day: date) -> tuple[date, date]:
    """The period of ``kind`` holding ``day``: the day, its week (Monday to Sunday) or its month."""
    if kind == "day":
        return day, day
    if kind == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    start = day.replace(day=1)
    following = (start + timedelta(days=32)).replace(day=1)
    return start, following - timedelta(days=1)


def last_period(kind: str, day: date) -> tuple[date, date]:
    """The last whole period of ``kind`` ended before ``day``: yesterday, last week, last month."""
    return period(kind, period(kind, day)[0] - timedelta(days=1))


def ended_period(kind: str, day: date | None) -> tuple[date, date]:
    """The period of ``kind`` holding ``day`` (default: the last whole one), refused unless it has ended."""
    if day is not None and day < EARLIEST:
        raise Invalid("report.period_too_early", earliest=EARLIEST)
    start, end = period(kind, day) if day else last_period(kind, today())
    if end >= today():
        raise Invalid("report.period_not_over", start=start)
    return start, end


def make_now(
    db: Session, kind: str, grid: Grid, day: date | None, progress: Progress = lambda *_: None
) -> Report:
    """Make (again) the report of ``kind`` on ``grid`` for the ended period holding ``day`` (default the
    last one); refused while another session makes it."""
    report = make(db, kind, grid, ended_period(kind, day)[0], replace=True, progress=progress)
    if report is None:
        raise Conflict("report.busy")
    return report


def areas(db: Session) -> list[Grid]:
    """The areas reported on by the schedule: the city root, and each district when the settings ask."""
    root = _top_grid(db)
    if not get_settings().report_districts:
        return [root]
    districts = db.scalars(select(Grid).where(CURRENT, Grid.parent_code == root.code).order_by(Grid.code))
    return [root, *districts]


def area(db: Session, code: str | None) -> Grid:
    """The grid a report is asked for (default the city root); deeper than streets it is refused (the
    report's figures come from the summaries, kept down to streets)."""
    grid = _top_grid(db) if code is None else grid_service.get_grid(db=db, code=code)
    if grid.path.count(".") + 1 > sql.DETAIL_DEPTH:
        raise Invalid("report.grid_too_deep", grid=grid.code, name=grid.name)
    return grid


def make(
    db: Session, kind: str, grid: Grid, start: date, *, replace: bool, progress: Progress = lambda *_: None
) -> Report | None:
    """The report of ``kind`` on ``grid`` for the period holding ``start``, made and stored (committed),
    calling ``progress`` at each stage. An existing one is kept unless ``replace``; None when another
    session is making it right now or made it meanwhile (the unique (kind, grid, start) and a transaction
    lock keep it to one)."""
    start, end = period(kind, start)
    key = f"report:{kind}:{grid.code}:{start}"
    if not db.scalar(text("SELECT pg_try_advisory_xact_lock(hashtext(:key))"), {"key": key}):
        return None
    found = _stored(db, kind, grid.code, start)
    if found is not None and not replace:
        return None
    made_at = datetime.now(UTC)
    progress(STAGES[0], 0, 1)
    html = document.render(document.figures(db, kind, grid, start, end), made_at)
    progress(STAGES[0], 1, 1)
    pdf = document.pdf(html)
    progress(STAGES[1], 1, 1)
    values = {
        "kind": kind,
        "grid_code": grid.code,
        "grid_name": grid.name,
        "grid_path": grid.path,
        "period_start": start,
        "period_end": end,
        "generated_at": made_at,
        "html": html,
        "pdf": pdf,
    }
    statement = insert(Report).values(**values)
    statement = statement.on_conflict_do_update(
        constraint="uq_report_city_id_kind_grid_code_period_start",
        set_={k: statement.excluded[k] for k in ("grid_name", "grid_path", "generated_at", "html", "pdf")},
    )
    report_id = db.scalar(statement.returning(Report.id))
    db.commit()
    return db.get(Report, report_id)


def _stored(db: Session, kind: str, code: str, start: date) -> int | None:
    return db.scalar(
        select(Report.id).where(Report.kind == kind, Report.grid_code == code, Report.period_start == start)
    )


def due(db: Session, day: date) -> list[tuple[str, Grid, date]]:
    """The reports due on ``day`` and not made yet: yesterday's, last week's and last month's for each
    area."""
    out = []
    for grid in areas(db):
        for kind in ("day", "week", "month"):
            start = last_period(kind, day)[0]
            if _stored(db, kind, grid.code, start) is None:
                out.append((kind, grid, start))
    return out


def make_due(
    db: Session, day: date, progress: Callable[[int, int], None] = lambda done, total: None
) -> list[Report]:
    """Make the reports due on ``day`` (``due``), calling ``progress(done, total)``; the ones made."""
    todo = due(db, day)
    made = []
    for i, (kind, grid, start) in enumerate(todo, 1):
        report = make(db, kind, grid, start, replace=False)
        db.commit()  # ends the transaction holding the lock, when another session made it
        if report is not None:
            made.append(report)
        progress(i, len(todo))
    return made


def make_due_reports() -> None:
    """The schedule's job: the due reports of today (local date), in every city."""

    def make_today(db: Session) -> None:
        made = make_due(db, today())
        if made:
            log.info("made %d reports", len(made))

    each_city(make_today)


def seen(scope: Scope) -> ColumnElement[bool]:
    """The SQL condition on ``Report`` for the reports a dashboard user with this scope may see: all for the
    city-wide, those of areas inside their grids for the others (a department's user sees its own
    department's figures on the dashboard; a report shows every department's, so none)."""
    if scope.everything:
        return true()
    return within(Report.grid_path, scope.grid_paths)


def listed(db: Session, scope: Scope, kind: str | None, grid: str | None, limit: int) -> list[Report]:
    query = select(Report).where(seen(scope))
    if kind is not None:
        query = query.where(Report.kind == kind)
    if grid is not None:
        query = query.where(Report.grid_code == grid)
    order = (Report.period_end.desc(), Report.kind, Report.grid_path, Report.id.desc())
    return list(db.scalars(query.order_by(*order).limit(limit)))


def one(db: Session, scope: Scope, report_id: int) -> Report:
    report = db.scalar(select(Report).where(Report.id == report_id, seen(scope)))
    if report is None:
        raise NotFound("report.not_found", report=report_id)
    return report


def name(report: Report) -> str:
    return document.title(report.kind, report.grid_name, report.period_start, report.period_end)
