"""Many cities in one deployment: the city table, the key every city-owned row carries, and the one place
that says which cities a database session works in.

Every city-owned table has a ``city_id`` and a row-level security policy (migration 0028) that lets the
application's role see and write only the rows of the cities the transaction names in the setting
``gridops.cities``; a new row takes its ``city_id`` from ``gridops.city``, the city the session works in
(unset: the first city, which only the schema's owner, past the policies, can write in that way).
Nothing else filters by city: no query of the application names a city, and a query that forgets to is not
a leak, because the database itself leaves the other cities' rows out. Unset, the settings name no city, so
a session nobody placed in a city sees nothing and writes nothing (fail closed).

A session is placed in its city by ``use_cities`` (or ``use_city``): the setting is written at the start of
each of its transactions by one ``after_begin`` hook, and at once when a transaction is open. A session
never placed (the command line, the daily jobs, the tests) works in the deployment's own city: the city of
the setting ``GRIDOPS_CITY`` (a code such as 370100), else the first city registered. The API's
sessions start placed nowhere, and the caller's city is set by the login (``server.auth``) or, for the
public pages and Open311, by the city the request names."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, SmallInteger, String, event, func, select, text
from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column

from server.database import CITY_INFO, FOLLOWS_INFO, NOWHERE, Base, new_session
from server.errors import NotFound

log = logging.getLogger(__name__)


class City(Base):
    """A city of the deployment, by its administrative division code (370100 济南市)."""

    __tablename__ = "city"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(6), unique=True)
    name: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


def city_key(*, primary_key: bool = False) -> Mapped[int]:
    """The ``city_id`` column, filled from the session's city on insert (part of the primary key of the
    tables keyed by natural keys)."""
    return mapped_column(
        SmallInteger,
        ForeignKey("city.id", ondelete="RESTRICT"),
        primary_key=primary_key,
        server_default=text("gridops_city()"),
    )


class CityOwned:
    """The mixin of every city-owned table."""

    @declared_attr
    def city_id(cls) -> Mapped[int]:
        return city_key()


# The settings the policies read (migration 0028): empty, the deployment's own city; "-", none.
_PLACE = text("SELECT set_config('gridops.cities', :cities, true), set_config('gridops.city', :city, true)")


def _place(session: Session, connection) -> None:
    placed = session.info.get(FOLLOWS_INFO, session).info.get(CITY_INFO)
    cities, city = ("", "") if placed is None else placed
    connection.execute(_PLACE, {"cities": cities, "city": city})


@event.listens_for(Session, "after_begin")
def _after_begin(session: Session, transaction, connection) -> None:
    """A placed session's transactions start in its cities; the others' need no statement (the database
    takes the deployment's own city when nothing is set)."""
    if session.info.get(FOLLOWS_INFO, session).info.get(CITY_INFO) is not None:
        _place(session, connection)


def use_cities(db: Session, cities: Sequence[int], city: int | None) -> None:
    """Work in ``cities`` from now on (reading their rows), writing new rows in ``city`` (None: none may be
    written). An empty ``cities`` sees nothing."""
    db.info[CITY_INFO] = (",".join(map(str, cities)) or NOWHERE, NOWHERE if city is None else str(city))
    if db.in_transaction():
        _place(db, db.connection())


def use_city(db: Session, city: int) -> None:
    """Work in ``city`` alone."""
    use_cities(db, [city], city)


def use_own_city(db: Session) -> None:
    """Work in the deployment's own city (``GRIDOPS_CITY``, else the first city registered)."""
    db.info.pop(CITY_INFO, None)
    if db.in_transaction():
        _place(db, db.connection())


def enter_city(db: Session, code: str | None) -> None:
    """Work in the city of ``code`` (404 when none has it); None: the deployment's own city."""
    if code is None:
        use_own_city(db)
        return
    city = db.scalar(select(City.id).where(City.code == code))
    if city is None:
        raise NotFound("city.no_city", code=code)
    use_city(db, city)


def use_every_city(db: Session) -> None:
    """Read every city's rows and write none: for what the cities share (the photo store)."""
    use_cities(db, db.scalars(select(City.id)).all(), None)


def each_city(work: Callable[[Session], object]) -> None:
    """Do ``work`` once per city, each in a session of its own working in that city (the server's periodic
    jobs); a city whose work fails is logged and the others still get theirs."""
    with new_session() as db:
        cities = db.execute(select(City.id, City.code).order_by(City.id)).all()
    for city, code in cities:
        try:
            with new_session() as db:
                use_city(db, city)
                work(db)
        except Exception:
            log.exception("the periodic work of city %s failed", code)


def city_link(db: Session, city: int) -> str:
    """What a link the public follows to a page of ``city`` carries: nothing for the deployment's own city
    (where the public pages work unless told), else ``?city=<code>``."""
    own = db.scalar(text("SELECT gridops_own_city()"))
    return "" if city == own else "?city=" + db.scalar(select(City.code).where(City.id == city))


def current_cities(db: Session) -> tuple[list[int], int | None]:
    """The cities the session reads and the one it writes, as the database has them now."""
    row = db.execute(text("SELECT gridops_cities(), gridops_city()")).one()
    return list(row[0]), row[1]
