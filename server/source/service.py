"""The pollution-source register: importing a checked file (upserted by the register's own code, in one
transaction), listing and finding sources, and the cases near a source.

"Near" (docs/DOMAIN.md, the register): within ``source_near_radius_m`` (300 m) on the spheroid; a source
lists the cases near it received in the last ``source_near_days`` (90) days that the reader may see, open
ones first, then the newest. A case lists the active sources near it (``server.case.present``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from geoalchemy2.shape import to_shape
from sqlalchemy import func, literal_column, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from grids.registers import Register
from grids.sources import SourceRecord
from server.auth.models import User
from server.case.models import Case
from server.case.scope import Scope, visible
from server.case.states import OPEN_STATES
from server.category.models import Category
from server.config import get_settings
from server.errors import NotFound
from server.imports import end_import
from server.source.models import PollutionSource

BATCH = 1000  # sources written per statement
MAX_LIMIT = 200  # sources in one page of the list
MAX_NEAR_CASES = 50
VALUES = ("name", "kind", "address", "geom", "responsible_id", "notes", "active")

Progress = Callable[[str, int, int], None]


@dataclass
class ImportResult:
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    written: bool = False


def responsible_ids(*, db: Session, register: Register) -> dict[str, int]:
    """The user of each record's responsible phone; a phone of no active user is an error of its row."""
    phones = {r.phone for r in register.records}
    users = dict(db.execute(select(User.phone, User.id).where(User.phone.in_(phones), User.active)).all())
    for record in register.records:
        if record.phone not in users:
            register.error(
                f"{record.where}：责任人手机号 {record.phone} 不是任何在用用户的手机号："
                "请先添加这位网格员（或启用其账号），或改正手机号"
            )
    return users


def import_sources(
    *,
    db: Session,
    records: Sequence[SourceRecord],
    users: dict[str, int],
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Upsert ``records`` (checked, their phones resolved to ``users``) by code in one transaction: a source
    is rewritten (and its ``updated_at`` moved) only when something of it changed; sources the file does not
    hold stay as they are (a register may come in parts). On a dry run count and write nothing."""
    result = ImportResult()
    table = PollutionSource.__table__
    for start in range(0, len(records), BATCH):
        rows = [
            {
                "code": r.code, "name": r.name, "kind": r.kind, "address": r.address,
                "geom": f"SRID=4326;POINT({r.lon!r} {r.lat!r})", "responsible_id": users[r.phone],
                "notes": r.notes, "active": r.active,
            }
            for r in records[start : start + BATCH]
        ]  # fmt: skip
        statement = insert(table).values(rows)
        new = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.city_id, table.c.code],
            set_={**{v: new[v] for v in VALUES}, "updated_at": func.now()},
            where=tuple_(*(table.c[v] for v in VALUES)).is_distinct_from(tuple_(*(new[v] for v in VALUES))),
        ).returning(literal_column("xmax = 0"))
        inserted = db.scalars(statement).all()
        result.added += sum(inserted)
        result.changed += len(inserted) - sum(inserted)
        result.unchanged += len(rows) - len(inserted)
        if progress:
            progress("write", min(start + BATCH, len(records)), len(records))
    end_import(db, result, dry_run=dry_run)
    return result


@dataclass
class Found:
    source: PollutionSource
    responsible: str  # the member's name
    lon: float
    lat: float


def _found(rows) -> list[Found]:
    out = []
    for source, responsible in rows:
        point = to_shape(source.geom)
        out.append(Found(source, responsible, point.x, point.y))
    return out


def list_sources(
    *,
    db: Session,
    bbox: tuple[float, float, float, float] | None = None,
    kind: str | None = None,
    text: str | None = None,
    active_only: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Found], int]:
    """A page of the sources in ``bbox`` (WGS 84 west, south, east, north), of ``kind``, whose code, name
    or address holds ``text``, by code; and how many there are in all."""
    query = select(PollutionSource, User.name).join(User, User.id == PollutionSource.responsible_id)
    if bbox:
        query = query.where(PollutionSource.geom.op("&&")(func.ST_MakeEnvelope(*bbox, 4326)))
    if kind:
        query = query.where(PollutionSource.kind == kind)
    if text:
        columns = (PollutionSource.code, PollutionSource.name, PollutionSource.address)
        query = query.where(or_(*(c.contains(text, autoescape=True) for c in columns)))
    if active_only:
        query = query.where(PollutionSource.active)
    total = db.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.execute(query.order_by(PollutionSource.code).limit(limit).offset(offset)).all()
    return _found(rows), total


def get_source(*, db: Session, code: str) -> Found:
    row = db.execute(
        select(PollutionSource, User.name)
        .join(User, User.id == PollutionSource.responsible_id)
        .where(PollutionSource.code == code)
    ).one_or_none()
    if row is None:
        raise NotFound("source.not_found", code=code)
    return _found([row])[0]


@dataclass
class NearCase:
    case: Case
    category: str
    distance_m: float


def cases_near(
    *, db: Session, scope: Scope, lon: float, lat: float, now: datetime | None = None
) -> list[NearCase]:
    """The cases ``scope`` may see within the near radius of the point, received in the last near days:
    open ones first, then the newest (at most MAX_NEAR_CASES)."""
    settings = get_settings()
    point = func.ST_Point(lon, lat, 4326)
    distance = func.ST_Distance(func.geography(Case.location), func.geography(point))
    since = (now or datetime.now(UTC)) - timedelta(days=settings.source_near_days)
    rows = db.execute(
        select(Case, Category.name, distance)
        .join(Category, Category.id == Case.category_id)
        .where(
            visible(scope),
            Case.received_at >= since,
            # the index first: generous, a degree of longitude is >= 90 km below 36 N
            Case.location.op("&&")(func.ST_Expand(point, 2 * settings.source_near_radius_m / 90_000)),
            func.ST_DWithin(
                func.geography(Case.location), func.geography(point), settings.source_near_radius_m
            ),
        )
        .order_by(Case.state.not_in(OPEN_STATES), Case.received_at.desc(), Case.id.desc())
        .limit(MAX_NEAR_CASES)
    ).all()
    return [NearCase(case, category, distance_m) for case, category, distance_m in rows]
