"""Typed dependency aliases shared by every router."""

import math
from collections.abc import Iterator
from datetime import UTC
from ipaddress import ip_address
from typing import Annotated

from fastapi import Depends, Header, Query, Request
from pydantic import AfterValidator, AwareDatetime
from sqlalchemy.orm import Session
from starlette.datastructures import Headers

from server.config import get_settings
from server.database import FOLLOWS_INFO, get_db, new_session
from server.errors import Invalid
from server.tenant import enter_city

DB = Annotated[Session, Depends(get_db)]


def get_read_db(db: DB) -> Iterator[Session]:
    """FastAPI dependency of the read-only work (dashboards, forecasts, tiles): a session on the streaming
    replica when ``GRIDOPS_DATABASE_REPLICA_URL`` names one (closed afterwards; while the replica is down the
    request is answered 503 with Retry-After, as for the primary), else the request's own session."""
    url = get_settings().database_replica_url
    if not url:
        yield db
        return
    with new_session(url) as session:
        session.info[FOLLOWS_INFO] = db  # in the request's cities, once the caller's are known
        yield session


ReadDB = Annotated[Session, Depends(get_read_db)]

CITY_CODE = r"^[0-9]{6}$"
REQUESTED_CITY = "gridops_requested_city"  # session.info: the city code the request names, or None


def request_city(
    db: DB,
    header: Annotated[
        str | None,
        Header(
            alias="X-GridOps-City",
            pattern=CITY_CODE,
            description="The city to work in (its code, 370100), for those who work in several and for "
            "the public; left out: a logged-in user's own city, else the deployment's own",
        ),
    ] = None,
    city: Annotated[
        str | None,
        Query(
            pattern=CITY_CODE,
            description="The city to work in, as the X-GridOps-City header (for links and EventSource)",
        ),
    ] = None,
) -> None:
    """Every request works in the city it names, else the deployment's own (404 for a city there is not);
    a logged-in caller then works in their own city, or in the one named if it is theirs (server.auth)."""
    place_request(db, header or city)


def place_request(db: Session, code: str | None) -> None:
    """Work in the city of ``code`` (None: the deployment's own), remembered as the one the request named."""
    db.info[REQUESTED_CITY] = code
    enter_city(db, code)


GEOJSON = "application/geo+json"
# An instant with its zone, held in UTC: any offset ISO 8601 allows (even -22:24) is read, where PostgreSQL
# takes offsets up to 15:59 only.
Instant = Annotated[AwareDatetime, AfterValidator(lambda moment: moment.astimezone(UTC))]


# The longest free text a query parameter takes (a search, a code, a date), and the longest comma-separated
# list (Open311's ids and service codes).
TEXT_MAX = 100
LIST_MAX = 1000


def bounding_box(
    bbox: Annotated[
        str,
        Query(
            max_length=TEXT_MAX,
            description="west,south,east,north in WGS 84: finite, west < east, south < north",
            examples=["117.0,36.6,117.1,36.7"],
        ),
    ],
) -> tuple[float, float, float, float]:
    """The ``bbox`` query parameter, the one parser of every route that takes a box: four finite numbers,
    longitudes within -180..180 and latitudes within -90..90, west < east and south < north (422 saying
    what to fix otherwise)."""
    try:
        west, south, east, north = (float(v) for v in bbox.split(","))
    except ValueError:
        raise Invalid("request.bbox_format") from None
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        raise Invalid("request.bbox_not_finite")
    if not (-180 <= west <= 180 and -180 <= east <= 180):
        raise Invalid("request.bbox_lon_range")
    if not (-90 <= south <= 90 and -90 <= north <= 90):
        raise Invalid("request.bbox_lat_range")
    if west >= east:
        raise Invalid("request.bbox_west_east")
    if south >= north:
        raise Invalid("request.bbox_south_north")
    return west, south, east, north


BBox = Annotated[tuple[float, float, float, float], Depends(bounding_box)]


def _host(value: str) -> str:
    """An address from a forwarded hop, without its port or IPv6 brackets."""
    if value.startswith("["):
        return value[1 : value.find("]")]
    return value.split(":")[0] if value.count(":") == 1 else value


def _forwarded_for(headers: Headers) -> list[str]:
    """The addresses a request came through, the client first: from ``Forwarded`` (RFC 7239) when sent,
    else from ``X-Forwarded-For``; an element without an address gives "" (unknown)."""
    forwarded = headers.getlist("forwarded")
    if forwarded:
        hops = []
        for element in ",".join(forwarded).split(","):
            pairs = (pair.strip().partition("=") for pair in element.split(";"))
            hops.append(next((_host(v.strip().strip('"')) for k, _, v in pairs if k.lower() == "for"), ""))
        return hops
    return [_host(hop.strip()) for hop in ",".join(headers.getlist("x-forwarded-for")).split(",")]


def client_address(request: Request) -> str | None:
    """The client's address; the one way every route reads it. The connection's own, unless it comes from
    a trusted proxy (settings ``trusted_proxies``): then the forwarded addresses are read from the nearest
    back to the first that is no trusted proxy (what a client wrote in the header itself lies beyond it
    and is ignored); an unreadable hop stops the walk at the last proxy."""
    address = request.client.host if request.client else None
    trusted = get_settings().trusted_proxy_networks

    def is_proxy(host: str | None) -> bool:
        try:
            return host is not None and any(ip_address(host) in network for network in trusted)
        except ValueError:
            return False

    if not is_proxy(address):
        return address
    for hop in reversed(_forwarded_for(request.headers)):
        try:
            address = str(ip_address(hop))
        except ValueError:
            break
        if not is_proxy(address):
            break
    return address


ClientAddress = Annotated[str | None, Depends(client_address)]
