"""Report routes: the reports a dashboard user may see, each as HTML or PDF, and making one now."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from server.auth.dependencies import require_roles
from server.auth.principal import Principal
from server.case.scope import Scope, scope_of
from server.deps import DB
from server.errors import Forbidden
from server.grid.subtree import path_within
from server.report import service
from server.report.document import KIND_NAMES
from server.report.models import Report
from server.stats.request import DASHBOARD_ROLES

router = APIRouter(prefix="/reports", tags=["reports"])
Reader = Annotated[Principal, require_roles(*DASHBOARD_ROLES)]
Maker = Annotated[Principal, require_roles("leader", "shift_lead", "admin")]
Kind = Literal["day", "week", "month"]
GRID_CODE = r"^[0-9]{1,15}$"
ReportId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The report's number")]
NOT_SEEN = {
    403: {"description": "Not a dashboard user"},
    404: {"description": "No such report, or its area is outside your grids"},
}
# A stored document: our own markup, no script, no outside resource.
DOCUMENT_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def reader_scope(principal: Reader, db: DB) -> Scope:
    return scope_of(db=db, principal=principal)


ReaderScope = Annotated[Scope, Depends(reader_scope)]


class ReportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: Kind
    kind_name: str = Field(description="日报, 周报 or 月报")
    title: str = Field(description="The document's title, in Chinese")
    grid_code: str
    grid_name: str
    period_start: date = Field(description="First local day of the period")
    period_end: date = Field(description="Last local day of the period (inclusive)")
    generated_at: datetime


class MakeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Kind
    period: date | None = Field(
        default=None, description="A day of the period (default: the last whole period before today)"
    )
    grid: str | None = Field(
        default=None, pattern=GRID_CODE, description="The area: city, district or street (default: the city)"
    )


def _out(report: Report) -> ReportOut:
    return ReportOut(
        id=report.id,
        kind=report.kind,
        kind_name=KIND_NAMES[report.kind],
        title=service.name(report),
        grid_code=report.grid_code,
        grid_name=report.grid_name,
        period_start=report.period_start,
        period_end=report.period_end,
        generated_at=report.generated_at,
    )


@router.get(
    "",
    response_model=list[ReportOut],
    summary="The reports of areas within your grids, the latest periods first",
    responses={403: NOT_SEEN[403]},
)
def list_reports(
    scope: ReaderScope,
    db: DB,
    kind: Annotated[Kind | None, Query(description="Only this kind")] = None,
    grid: Annotated[str | None, Query(pattern=GRID_CODE, description="Only this area's (grid code)")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
):
    return [_out(r) for r in service.listed(db, scope, kind, grid, limit)]


def _document(db: Session, scope: Scope, report_id: int, column) -> Report:
    report = service.one(db, scope, report_id)
    db.refresh(report, [column.key])
    return report


def _disposition(how: str, report: Report, suffix: str) -> str:
    """The file's name in Chinese (RFC 6266 / 5987), and a plain one for clients that cannot read it."""
    plain = f"report-{report.kind}-{report.grid_code}-{report.period_start}.{suffix}"
    return f"{how}; filename=\"{plain}\"; filename*=UTF-8''{quote(f'{service.name(report)}.{suffix}')}"


@router.get(
    "/{report_id}/html",
    response_class=Response,
    summary="A report as a printable web page (A4)",
    responses={200: {"content": {"text/html": {}}, "description": "The document"}, **NOT_SEEN},
)
def report_html(report_id: ReportId, scope: ReaderScope, db: DB) -> Response:
    report = _document(db, scope, report_id, Report.html)
    return Response(
        report.html,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Disposition": _disposition("inline", report, "html"),
            "Content-Security-Policy": DOCUMENT_POLICY,
        },
    )


@router.get(
    "/{report_id}/pdf",
    response_class=Response,
    summary="A report as PDF (A4, numbered pages), to download",
    responses={200: {"content": {"application/pdf": {}}, "description": "The document"}, **NOT_SEEN},
)
def report_pdf(report_id: ReportId, scope: ReaderScope, db: DB) -> Response:
    report = _document(db, scope, report_id, Report.pdf)
    return Response(
        report.pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": _disposition("attachment", report, "pdf")},
    )


@router.post(
    "",
    response_model=ReportOut,
    summary="Make a report now (again, when it was made), for a period that has ended",
    responses={
        403: {"description": "Not a leader, shift lead or administrator, or the area is outside your grids"},
        404: {"description": "No such grid"},
        409: {"description": "Another task is making this report right now"},
        422: {"description": "The period has not ended, or the area is below the streets"},
    },
)
def make_report(body: MakeIn, principal: Maker, db: DB):
    scope = scope_of(db=db, principal=principal)
    grid = service.area(db, body.grid)
    if not scope.everything and not path_within(grid.path, scope.grid_paths):
        mine = "、".join(p.rsplit(".", 1)[-1] for p in scope.grid_paths)
        raise Forbidden("stats.grid_outside", grid=grid.code, mine=mine)
    report = service.make_now(db, body.kind, grid, body.period)
    return _out(report)
