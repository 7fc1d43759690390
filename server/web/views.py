"""The command-center web app: the page at ``/``, our static files, MapLibre GL JS and Chart.js as npm
installed them (``server/web/node_modules``, set up by ``make setup``), and the configuration the page reads
first."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from server.basemaps import config as basemaps
from server.basemaps.views import for_browser
from server.config import get_settings
from server.deps import DB
from server.web import service
from server.web.schemas import LevelOut, WebConfig

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
MAPLIBRE_DIR = WEB_DIR / "node_modules" / "maplibre-gl" / "dist"
CHARTJS_DIR = WEB_DIR / "node_modules" / "chart.js" / "dist"
NOT_INSTALLED = (
    "<!doctype html><meta charset='utf-8'><title>GridOps</title>"
    "<p>The web app's map and chart libraries are not installed: run <code>make setup</code> "
    "(it runs <code>npm ci --prefix server/web</code>).</p>"
)

mimetypes.add_type("text/javascript", ".mjs")  # MapLibre ships ES modules; browsers need a script type

router = APIRouter(tags=["web"])


@router.get(
    "/",
    response_class=HTMLResponse,
    summary="The command-center web app (login, then the grid map)",
    responses={503: {"description": "MapLibre GL JS or Chart.js is not installed: run make setup"}},
)
def index():
    if not (MAPLIBRE_DIR / "maplibre-gl.mjs").is_file() or not (CHARTJS_DIR / "chart.umd.js").is_file():
        return HTMLResponse(NOT_INSTALLED, status_code=503)
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html")


@router.get(
    "/api/web/config",
    response_model=WebConfig,
    summary="The web app's settings: the base layers, the grid levels and the start view (open: the public "
    "report page reads it too)",
)
def web_config(db: DB):
    settings = get_settings()
    return WebConfig(
        basemaps=[for_browser(layer) for layer in basemaps.configured()],
        levels=[LevelOut(name=level.name, label=level.label) for level in settings.scheme.levels],
        bounds=service.start_bounds(db=db),
    )


def mount_web(app: FastAPI) -> None:
    """Serve the web app from ``app``."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="web-static")
    app.mount("/vendor/maplibre-gl", StaticFiles(directory=MAPLIBRE_DIR, check_dir=False), name="maplibre-gl")
    app.mount("/vendor/chart.js", StaticFiles(directory=CHARTJS_DIR, check_dir=False), name="chart.js")
