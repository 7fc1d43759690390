"""Finding places in the address register: by words of their name, address, parts or aliases, in any order
and in part ("经十路 恒隆", "山大南路27号"), ranked; and near a point (reverse geocoding), nearest first.

**Search.** The words are found through the register's character bigrams (``server.textsearch``: the
generated column ``address.search_grams`` over the normalised ``address.doc``). Every word must be in the
address; the first ``CANDIDATES`` found are ranked: an address whose name or full text is the query first,
then the more words found in its name and full text (rather than only in its parts or aliases), places
(兴趣点) before buildings and house numbers, the shorter text first (the most general place a query names).
A query matching more addresses than that needs another word, as a caller would be asked for one.

**Near a point.** The ``NEAR_CANDIDATES`` nearest by the GiST index's planar distance in degrees are
measured on the spheroid and the nearest within the radius kept: a degree of longitude is shorter than
one of latitude away from the equator, so the planar order alone may swap two close addresses."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Float, case, cast, func, or_, select
from sqlalchemy.orm import Session, defer

from gis.crs import check_lonlat
from grids.words import MIN_WORD, normalise, words_of
from server.address.models import Address
from server.address.schemas import AddressSyncItem, SyncAddresses
from server.errors import Invalid
from server.grid.models import CURRENT, Grid
from server.grid.subtree import within
from server.textsearch import bigrams, holds, rarest

MAX_CHARS = 50
MAX_WORDS = 5
MAX_LIMIT = 50
CANDIDATES = 500  # matches ranked
NEAR_CANDIDATES = 4  # times the number of addresses asked for, measured on the spheroid
MAX_RADIUS_M = 2000.0


@dataclass(frozen=True)
class Found:
    address: Address
    lon: float
    lat: float
    distance_m: float | None = None


def parse(value: str) -> tuple[str, tuple[str, ...]]:
    """The normalised query and its words, or 422 when it is empty, too long, has too many words or none of
    two characters or more."""
    query = normalise(value)
    if not query:
        raise Invalid("address.search_empty")
    if len(query) > MAX_CHARS:
        raise Invalid("address.search_too_long", most=MAX_CHARS)
    words = words_of(query)
    if len(words) > MAX_WORDS:
        raise Invalid("address.search_too_many_words", most=MAX_WORDS)
    if max(len(w) for w in words) < MIN_WORD:
        raise Invalid("address.search_too_short")
    return query, words


def search(*, db: Session, text: str, limit: int = 10) -> list[Found]:
    """The addresses ``text`` finds, best first, at most ``limit``."""
    query, words = parse(text)
    pick = rarest(db, "address", [g for w in words if len(w) >= MIN_WORD for g in bigrams(w)])
    conditions = [
        holds(Address.search_grams, Address.doc, w, pick)
        if len(w) >= MIN_WORD
        else func.strpos(Address.doc, w) > 0
        for w in words
    ]
    found = select(Address.id).where(*conditions).limit(CANDIDATES).subquery()
    norm = func.case_search_norm
    alias = func.unnest(Address.aliases).table_valued("alias").render_derived()
    exact = or_(
        norm(Address.address_text) == query,
        norm(func.coalesce(Address.name, "")) == query,
        select(alias).where(norm(alias.c.alias) == query).exists(),
    )
    label = norm(func.coalesce(Address.name, Address.address_text))
    name = norm(func.coalesce(Address.name, "")) + " " + norm(Address.address_text)
    in_label = sum(case((func.strpos(label, w) > 0, 1), else_=0) for w in words)
    in_name = sum(case((func.strpos(name, w) > 0, 1), else_=0) for w in words)
    rows = db.execute(
        select(Address, func.ST_X(Address.geom), func.ST_Y(Address.geom))
        .join(found, found.c.id == Address.id)
        .order_by(
            case((exact, 0), else_=1),
            in_label.desc(),
            in_name.desc(),
            case((Address.kind == "poi", 0), (Address.kind == "building", 1), else_=2),
            func.length(Address.address_text),
            Address.address_text,
            Address.id,
        )
        .limit(min(limit, MAX_LIMIT))
    )
    return [Found(address, lon, lat) for address, lon, lat in rows]


def nearest(*, db: Session, lon: float, lat: float, radius_m: float = 100.0, limit: int = 5) -> list[Found]:
    """The addresses within ``radius_m`` metres of the point (WGS 84), nearest first, at most ``limit``."""
    try:
        check_lonlat(lon, lat)
    except ValueError:
        raise Invalid("address.point_out_of_range") from None
    if not 0 < radius_m <= MAX_RADIUS_M:
        raise Invalid("address.radius_out_of_range", most=int(MAX_RADIUS_M))
    point = func.ST_Point(lon, lat, 4326)
    near = (
        select(Address.id)
        .order_by(Address.geom.op("<->")(point))
        .limit(min(limit, MAX_LIMIT) * NEAR_CANDIDATES)
        .subquery()
    )
    distance = cast(func.ST_Distance(func.geography(Address.geom), func.geography(point)), Float)
    rows = db.execute(
        select(Address, func.ST_X(Address.geom), func.ST_Y(Address.geom), distance)
        .join(near, near.c.id == Address.id)
        .where(distance <= radius_m)
        .order_by(distance, Address.id)
        .limit(min(limit, MAX_LIMIT))
    )
    return [Found(address, x, y, d) for address, x, y, d in rows]


def nearest_sql(lon: str, lat: str, radius: str) -> str:
    """A SELECT of the id, distance (metres) and label of the register address nearest to the point (``lon``,
    ``lat``: SQL expressions in WGS 84 degrees) within ``radius`` metres: what a new case is said to be
    near (the intake's one query)."""
    point = f"ST_Point({lon}, {lat}, 4326)"
    return f"""
        SELECT n.id, n.distance, n.label FROM (
            SELECT a.id, ST_Distance(a.geom::geography, {point}::geography) AS distance,
                coalesce(a.name, a.address_text) AS label
            FROM address a ORDER BY a.geom <-> {point} LIMIT {NEAR_CANDIDATES}
        ) n WHERE n.distance <= {radius} ORDER BY n.distance, n.id LIMIT 1
    """


def grid_chains(*, db: Session, codes: Iterable[str | None]) -> dict[str, list[Grid]]:
    """For each grid code, the current grids from the root down to it."""
    wanted = sorted({c for c in codes if c})
    if not wanted:
        return {}
    leaves = select(Grid.path).where(CURRENT, Grid.code.in_(wanted))
    grids = list(
        db.scalars(
            select(Grid)
            .options(defer(Grid.geom))
            .where(CURRENT, Grid.path.op("@>")(func.any(func.array(leaves.scalar_subquery()))))
        )
    )
    by_code = {g.code: g for g in grids}
    chains = {}
    for code in wanted:
        chain, grid = [], by_code.get(code)
        while grid is not None:
            chain.append(grid)
            grid = by_code.get(grid.parent_code) if grid.parent_code else None
        chains[code] = chain[::-1]
    return chains


def changed_in(*, db: Session, paths: Sequence[str], since: int, limit: int) -> list[Found]:
    """The addresses in the grid subtrees ``paths`` changed after ``since`` (a ``change_seq``), in the
    order of changes: a page of the phone's copy."""
    if not paths:
        return []
    mine = select(Grid.code).where(CURRENT, within(Grid.path, paths))
    rows = db.execute(
        select(Address, func.ST_X(Address.geom), func.ST_Y(Address.geom))
        .where(Address.grid_code.in_(mine), Address.change_seq > since)
        .order_by(Address.change_seq)
        .limit(limit)
    )
    return [Found(address, lon, lat) for address, lon, lat in rows]


SYNC_LIMIT = 1000  # addresses a page of the phone's copy


def sync_page(*, db: Session, paths: Sequence[str], since: int) -> SyncAddresses:
    """A page of the phone's copy: the addresses in the grid subtrees ``paths`` changed after ``since``."""
    found = changed_in(db=db, paths=paths, since=since, limit=SYNC_LIMIT + 1)
    page = found[:SYNC_LIMIT]
    return SyncAddresses(
        cursor=page[-1].address.change_seq if page else since,
        more=len(found) > SYNC_LIMIT,
        items=[
            AddressSyncItem(
                id=f.address.id,
                label=f.address.label,
                text=f.address.address_text,
                kind=f.address.kind,
                aliases=f.address.aliases,
                lon=f.lon,
                lat=f.lat,
                grid_code=f.address.grid_code,
            )
            for f in page
        ],
    )
