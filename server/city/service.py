"""The cities of a deployment: listing and adding them, the cities a caller works in, and the overview of
those cities' cases that a province's administrators read."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from server.auth.principal import Principal
from server.case.states import TERMINAL
from server.errors import Conflict, Invalid, NotFound
from server.tenant import City, current_cities, use_cities

CODE = re.compile(r"[1-9][0-9]{3}00")  # a prefecture-level division: the province, the city, then 00
NAME_MAX = 40


def list_cities(db: Session) -> list[City]:
    return list(db.scalars(select(City).order_by(City.code)))


def find_city(db: Session, code: str) -> City:
    city = db.scalar(select(City).where(City.code == code))
    if city is None:
        raise NotFound("city.no_city", code=code)
    return city


def add_city(db: Session, *, code: str, name: str) -> City:
    """Register a city by its code (a prefecture-level division code, such as 370100) and name."""
    code, name = code.strip(), name.strip()
    if not CODE.fullmatch(code):
        raise Invalid("city.bad_code", code=code)
    if not name or len(name) > NAME_MAX:
        raise Invalid("city.bad_name", max_length=NAME_MAX)
    if db.scalar(select(City.id).where(City.code == code)) is not None:
        raise Conflict("city.exists", code=code)
    city = City(code=code, name=name)
    db.add(city)
    db.commit()
    return city


def ensure_city(db: Session, *, code: str, name: str) -> City:
    """The city of ``code``, registered first if missing."""
    found = db.scalar(select(City).where(City.code == code))
    return found or add_city(db, code=code, name=name)


def caller_city_ids(db: Session, principal: Principal) -> list[int]:
    """The cities the caller works in, their own first: a user's, or every city for the admin token."""
    if principal.user is None:
        return list(db.scalars(select(City.id).order_by(City.code)))
    return list(db.scalar(text("SELECT gridops_user_cities(:id)"), {"id": principal.user.id}) or [])


@dataclass(frozen=True)
class CityFigures:
    city: City
    current: bool  # the city the request works in
    open: int  # cases not yet closed, voided or merged
    overdue: int  # of them, past their step's deadline
    received_today: int
    closed_today: int


_ENDED = ", ".join(f"'{state}'" for state in sorted(TERMINAL))
_FIGURES = text(
    f"""
    SELECT city_id,
           count(*) FILTER (WHERE state NOT IN ({_ENDED})) AS open,
           count(*) FILTER (WHERE state NOT IN ({_ENDED}) AND step_due_at < :now) AS overdue,
           count(*) FILTER (WHERE received_at >= :today) AS received_today,
           count(*) FILTER (WHERE state = 'closed' AND closed_at >= :today) AS closed_today
    FROM case_file
    WHERE state NOT IN ({_ENDED}) OR received_at >= :today OR closed_at >= :today
    GROUP BY city_id
    """
)


def overview(db: Session, principal: Principal, *, now: datetime, today: datetime) -> list[CityFigures]:
    """Each city the caller works in, with its cases open, overdue, received and closed today (``today``:
    the local day's start). The request reads all those cities for this query, and writes in none."""
    _, current = current_cities(db)
    ids = caller_city_ids(db, principal)
    use_cities(db, ids, None)
    rows = {row.city_id: row for row in db.execute(_FIGURES, {"now": now, "today": today})}
    cities = {c.id: c for c in db.scalars(select(City).where(City.id.in_(ids)))}
    return [
        CityFigures(
            city=cities[i],
            current=i == current,
            open=rows[i].open if i in rows else 0,
            overdue=rows[i].overdue if i in rows else 0,
            received_today=rows[i].received_today if i in rows else 0,
            closed_today=rows[i].closed_today if i in rows else 0,
        )
        for i in ids
    ]
