"""City routes: the cities the caller works in (to pick one), registering a city, and the overview of the
caller's cities that a province's administrators read."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from server.auth.dependencies import AdminRequired, CurrentUser, require_roles
from server.city import service
from server.city.schemas import CityFiguresOut, CityIn, CityOut
from server.deps import DB
from server.grid.models import day_start, today
from server.tenant import City, current_cities

router = APIRouter(prefix="/cities", tags=["cities"])


def _out(city: City, current: int | None) -> dict:
    return {"code": city.code, "name": city.name, "current": city.id == current}


@router.get(
    "",
    response_model=list[CityOut],
    summary="The cities the caller works in",
    description="The caller's own city first, then the others they may work in (send the chosen one's "
    "code in the X-GridOps-City header); the admin token: every city.",
)
def list_mine(db: DB, principal: CurrentUser) -> list[dict]:
    _, current = current_cities(db)
    ids = service.caller_city_ids(db, principal)
    cities = {c.id: c for c in service.list_cities(db)}
    return [_out(cities[i], current) for i in ids]


@router.post(
    "",
    response_model=CityOut,
    status_code=201,
    summary="Register a city",
    description="Administrators register a city by its division code and name; its grids, people and "
    "taxonomy are then loaded while working in it.",
    dependencies=[AdminRequired],
)
def add(body: CityIn, db: DB) -> dict:
    city = service.add_city(db, code=body.code, name=body.name)
    return _out(city, None)


@router.get(
    "/overview",
    response_model=list[CityFiguresOut],
    summary="The caller's cities side by side",
    description="For each city the caller works in: open cases, overdue ones, and cases received and "
    "closed today.",
    dependencies=[require_roles("leader", "admin")],
)
def overview(db: DB, principal: CurrentUser) -> list[dict]:
    figures = service.overview(db, principal, now=datetime.now(UTC), today=day_start(today()))
    return [
        {
            **_out(f.city, f.city.id if f.current else None),
            "open": f.open,
            "overdue": f.overdue,
            "received_today": f.received_today,
            "closed_today": f.closed_today,
        }
        for f in figures
    ]
