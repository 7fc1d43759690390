"""Dashboard routes: the figures as JSON, and each table of them as CSV."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Response

from server.auth.dependencies import CurrentUser
from server.deps import DB, ReadDB
from server.stats import request as stats_request
from server.stats import service
from server.stats.export import TITLES, csv_text, table_rows
from server.stats.schemas import TABLES, Dashboard

router = APIRouter(prefix="/stats", tags=["stats"])
TableName = Literal[TABLES]  # type: ignore[valid-type]
_ERRORS = {
    403: {"description": "Not a dashboard user, or a grid or department outside your scope"},
    404: {"description": "No such grid or department"},
    422: {"description": "The period starts after it ends, or is longer than the settings allow"},
}


def dashboard_request(
    principal: CurrentUser,
    db: ReadDB,
    from_: Annotated[
        date | None, Query(alias="from", description="First local day (default: 29 days before 'to')")
    ] = None,
    to: Annotated[date | None, Query(description="Last local day, inclusive (default: today)")] = None,
    grid: Annotated[
        str | None, Query(description="Grid code: its subtree (default: your top grid, or the city)")
    ] = None,
    department: Annotated[str | None, Query(description="Department code: cases it leads")] = None,
    category_level: Annotated[
        int | None,
        Query(
            ge=1,
            le=10,
            description="Rank the categories by their ancestors at this level of the tree (1: major "
            "classes); default: the categories cases are filed under",
        ),
    ] = None,
) -> stats_request.Request:
    return stats_request.resolve(
        db=db,
        principal=principal,
        start=from_,
        end=to,
        grid=grid,
        department=department,
        category_level=category_level,
    )


Request = Annotated[stats_request.Request, Depends(dashboard_request)]


@router.get(
    "/dashboard",
    response_model=Dashboard,
    summary="Rates, scores, rankings, trends, hot spots and warnings for a period and a grid subtree",
    responses=_ERRORS,
)
def dashboard(request: Request, read: ReadDB, db: DB):
    return service.dashboard(db=read, request=request, primary=db)


@router.get(
    "/export/{table}.csv",
    response_class=Response,
    summary="One table of the dashboard as CSV (UTF-8 with a BOM, for Excel)",
    responses={200: {"content": {"text/csv": {}}, "description": "The table's rows"}, **_ERRORS},
)
def export(table: TableName, request: Request, read: ReadDB, db: DB) -> Response:
    board = service.dashboard(db=read, request=request, primary=db)
    rows, fields = table_rows(board, table)
    period = f"{request.grid.code}-{request.start}-{request.end}.csv"
    # The file is named in Chinese (RFC 6266); clients that cannot read that get the table's code name.
    named = quote(f"{TITLES[table]}-{period}")
    return Response(
        csv_text(rows, fields),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f"attachment; filename=\"{table}-{period}\"; filename*=UTF-8''{named}"
        },
    )
