"""The FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from server.api import api_router
from server.case.supervision import Supervisor
from server.config import get_settings
from server.errors import DomainError
from server.events.listener import listener
from server.open311.views import router as open311_router
from server.public.views import pages_router
from server.tiles.views import router as tiles_router
from server.web.views import mount_web


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
    return "; ".join(parts)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The supervision sweep runs while the server does; the event listener starts with the first stream;
    both stop with the server."""
    supervisor = Supervisor(get_settings().supervision_sweep_seconds)
    supervisor.start()
    yield
    supervisor.stop()
    listener.stop()


def create_app() -> FastAPI:
    app = FastAPI(
        lifespan=lifespan,
        title="GridOps",
        version="0.1.0",
        description="Grid-based city management: the grid hierarchy, people, cases and the command center.",
    )

    @app.exception_handler(DomainError)
    def domain_error(request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse({"detail": exc.message, **exc.details}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            {"detail": _validation_message(exc), "errors": jsonable_encoder(exc.errors())}, status_code=422
        )

    @app.get("/health", tags=["meta"], summary="Liveness check")
    def health() -> dict:
        return {"status": "ok"}

    app.include_router(api_router)
    app.include_router(open311_router)  # Open311 GeoReport v2: /open311/v2
    app.include_router(tiles_router)  # at the root: /tiles/{layer}/{z}/{x}/{y}.mvt
    app.include_router(pages_router)  # the citizens' pages: /report, /track
    mount_web(app)  # the web app: / and its static files
    return app
