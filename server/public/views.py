"""The citizens' public routes (no login: report, track, rate), the operators' spam flag, and the pages
at /report and /track."""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, File, Form, Path, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, Response

from server.auth.dependencies import CurrentUser
from server.case import present
from server.case.schemas import CaseDetail
from server.case.views import CaseCode, ScopeDep
from server.config import get_settings
from server.deps import DB, ClientAddress
from server.public import service
from server.public.schemas import (
    COMMENT_MAX,
    CategoryOut,
    LimitsOut,
    PublicCase,
    PublicReportIn,
    RatingIn,
    RatingOut,
    ReportOut,
    SpamIn,
)

PAGES_DIR = FilePath(__file__).resolve().parent.parent / "web" / "static" / "public"
# A code as the public types it: one not shaped like a case code is answered with what a code looks like.
PublicCode = Annotated[str, Path(description="A case code as typed", examples=["370102-20261122-0042"])]

router = APIRouter(prefix="/public", tags=["public"])
pages_router = APIRouter(tags=["public"])


@router.get("/categories", response_model=list[CategoryOut], summary="The report page's list of problems")
def categories():
    return [CategoryOut(label=label, code=code) for label, code in get_settings().public_categories.items()]


@router.get(
    "/limits", response_model=LimitsOut, summary="What the public forms' free text and photos may hold"
)
def limits():
    settings = get_settings()
    return LimitsOut(
        description_max_length=settings.public_max_description,
        comment_max_length=COMMENT_MAX,
        max_photos=settings.public_max_photos,
    )


@router.post(
    "/reports",
    response_model=ReportOut,
    status_code=201,
    summary="A citizen's report with its photos (multipart; the same client_uuid again: the same case)",
    responses={
        413: {"description": "A photo, or the whole request, is too large"},
        415: {"description": "A file is not a photo"},
        422: {"description": "A field, the place or a limit (a photo's pixels too): the message says which"},
        429: {"description": "Too many reports from this address or phone: see Retry-After"},
        503: {"description": "Too many photos are being processed: see Retry-After"},
    },
)
def report(
    ip: ClientAddress,
    data: Annotated[PublicReportIn, Form()],
    db: DB,
    photos: Annotated[list[UploadFile] | None, File(description="One or more photos (before)")] = None,
):
    case, token = service.report(
        db=db,
        data=data,
        photos=[photo.file for photo in photos or []],
        ip=ip,
    )
    return ReportOut(code=case.code, reporter_token=token, track_url=service.track_url(db, case))


@router.get(
    "/cases/{code}",
    response_model=PublicCase,
    summary="A case as the public may see it (filed or later): stages, timeline, photos, deadline; a merged "
    "one names the case it joined",
    responses={
        404: {"description": "No such case, not filed yet, or voided (with its public note): `detail` says"},
        422: {"description": "Not shaped like a case code: `detail` says what one looks like"},
    },
)
def track(code: PublicCode, db: DB):
    return service.track(db=db, code=code)


@router.post(
    "/cases/{code}/rating",
    response_model=RatingOut,
    status_code=201,
    summary="The reporter rates the closed case, once (the reporter token from the report's answer)",
    responses={
        403: {"description": "Not the reporter's token"},
        409: {"description": "Not closed, or rated"},
    },
)
def rate(code: PublicCode, body: RatingIn, db: DB):
    return service.rate(db=db, code=code, data=body)


@router.post(
    "/cases/{code}/spam",
    response_model=CaseDetail,
    summary="Operators: mark a public report as spam (voids it with the reason; never shown publicly)",
)
def spam(code: CaseCode, body: SpamIn, principal: CurrentUser, scope: ScopeDep, db: DB):
    case = service.mark_spam(
        db=db, principal=principal, scope=scope, code=code, version=body.version, reason=body.reason
    )
    return present.detail(db=db, principal=principal, scope=scope, case=case)


@pages_router.get("/report", response_class=HTMLResponse, summary="The citizens' report page (no login)")
def report_page():
    return FileResponse(PAGES_DIR / "report.html", media_type="text/html")


@pages_router.get("/track", response_class=HTMLResponse, summary="The tracking page: enter a case code")
def track_form_page():
    return FileResponse(PAGES_DIR / "track.html", media_type="text/html")


@pages_router.get("/track/{code}", response_class=HTMLResponse, summary="The tracking page of a case")
def track_page(code: str):
    return FileResponse(PAGES_DIR / "track.html", media_type="text/html")


@router.get(
    "/photos/{photo_id}.jpg",
    summary="A photo's public copy (no personal metadata), for cases the public may see",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, 404: {"description": "No such public photo"}},
)
def public_photo(photo_id: int, db: DB) -> Response:
    data = service.photo(db=db, photo_id=photo_id)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "public, max-age=86400"})
