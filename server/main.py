"""The FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from server import messages
from server.api import api_router
from server.basemaps import config as basemaps
from server.basemaps.views import router as basemaps_router
from server.case.supervision import Periodic, flag_overdue
from server.config import get_settings
from server.deps import request_city
from server.events.listener import listener
from server.http_errors import install_error_handlers, refuse_unstorable
from server.limits import BodyLimit
from server.open311.views import router as open311_router
from server.photo.sweep import sweep_orphan_media
from server.proactive import daily
from server.public.views import pages_router
from server.report.service import make_due_reports
from server.tenant import each_city
from server.tiles.views import router as tiles_router
from server.triage import service as triage_service
from server.web.views import mount_web


def daily_jobs() -> None:
    """The day's work, in order, once a day whichever tick finds it due: the anticipation (forecasts,
    warnings, proactive patrol tasks), then the due reports, which show them (made even if it failed), then
    the triage models that are due for training."""
    try:
        daily.tick()
    finally:
        try:
            make_due_reports()
        finally:
            each_city(triage_service.retrain_if_due)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The periodic jobs (the supervision and media sweeps, the day's anticipation and reports) run while the
    server does; the event listener starts with the first stream; all stop with the server."""
    settings = get_settings()
    jobs = [
        Periodic("supervision", settings.supervision_sweep_seconds, flag_overdue),
        Periodic("media-sweep", settings.media_sweep_seconds, sweep_orphan_media),
        Periodic("daily", settings.daily_jobs_seconds, daily_jobs),
    ]
    for job in jobs:
        job.start()
    yield
    for job in jobs:
        job.stop()
    listener.stop()


def create_app() -> FastAPI:
    messages.catalogue()  # a city's malformed rewording stops the start, not a request later
    basemaps.configured_or_exit()  # so does a bad base map file, with every problem in words
    app = FastAPI(
        lifespan=lifespan,
        title="GridOps",
        version="0.1.0",
        description="Grid-based city management: the grid hierarchy, people, cases and the command center.",
        # NUL, lone surrogates, NaN: 422 before any route runs; then the city the request works in
        dependencies=[Depends(refuse_unstorable), Depends(request_city)],
    )
    install_error_handlers(app)  # one error shape (server/http_errors.py), 503 + Retry-After in outages
    app.add_middleware(BodyLimit)  # 413 for a body over its route's limit, before it is read

    @app.get("/health", tags=["meta"], summary="Liveness check")
    def health() -> dict:
        return {"status": "ok"}

    app.include_router(api_router)
    app.include_router(open311_router)  # Open311 GeoReport v2: /open311/v2
    app.include_router(tiles_router)  # at the root: /tiles/{layer}/{z}/{x}/{y}.mvt
    app.include_router(basemaps_router)  # the local base map packages: /basemaps/{layer}/{z}/{x}/{y}
    app.include_router(pages_router)  # the citizens' pages: /report, /track
    mount_web(app)  # the web app: / and its static files
    return app
