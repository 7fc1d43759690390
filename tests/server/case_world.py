"""People, places and photos for case tests on the demo city (历下区), through the real services."""

from __future__ import annotations

import io
import itertools
import uuid
from datetime import datetime

from geoalchemy2.shape import to_shape
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.auth.passwords import hash_password
from server.auth.principal import Principal
from server.auth.schemas import UserCreate
from server.case import actions, intake
from server.case import photos as case_photos
from server.case.models import Case
from server.case.schemas import ReportIn
from server.case.scope import scope_of
from server.grid import people as grid_people
from server.grid.models import CURRENT, Grid
from server.users import service as user_service

DISTRICT = "370102"  # 历下区, where the demo has unit grids
OTHER_DISTRICT = "370103"  # 市中区
PASSWORD = "correct horse 42"
_PASSWORD_HASH = hash_password(PASSWORD)  # hashed once: argon2 is slow on purpose
_phones = itertools.count(1)


def jpeg(lon: float | None = None, lat: float | None = None, color=(200, 80, 40)) -> bytes:
    """A real JPEG, geotagged when lon/lat are given."""
    image = Image.new("RGB", (320, 240), color)
    exif = Image.Exif()
    if lon is not None:
        gps = exif.get_ifd(0x8825)
        gps.update({1: "N", 2: (lat, 0.0, 0.0), 3: "E", 4: (lon, 0.0, 0.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def make_user(
    db: Session, roles: list[str], *, grid: str | None = None, department: str | None = None,
    inspects: str | None = None, name: str | None = None,
) -> Principal:  # fmt: skip
    """A user with ``roles``; bound to ``grid`` (command center), ``department``, or inspecting a grid."""
    n = next(_phones)
    user = user_service.create_user(
        db=db,
        data=UserCreate(
            name=name or f"测试{'/'.join(roles)}{n}",
            phone=f"1770000{n:04d}",
            roles=roles,
            grid_code=grid,
            department_code=department,
        ),
    )
    user.password_hash = _PASSWORD_HASH
    db.commit()
    if inspects:
        grid_people.assign(db=db, grid_code=inspects, user=user, role="inspector")
    return Principal.of(user)


def village_point(db: Session, district: str = DISTRICT, index: int = 0) -> tuple[str, float, float]:
    """A village of ``district`` and a point well inside it."""
    villages = list(
        db.scalars(
            select(Grid)
            .where(CURRENT, Grid.level == "village", Grid.path.op("~")(f"*.{district}.*"))
            .order_by(Grid.code)
            .limit(index + 1)
        )
    )
    village = villages[index]
    point = to_shape(village.geom).representative_point()
    return village.code, point.x, point.y


def report(db: Session, who: Principal, lon: float, lat: float, category: str = "E06010", **kw) -> Case:
    data = ReportIn(
        client_uuid=kw.pop("client_uuid", uuid.uuid4()), category=category, lon=lon, lat=lat, **kw
    )
    case, _ = intake.accept(db=db, principal=who, data=data, at=kw.pop("at", None))
    return case


# What a department does on a case it has signed for (签收): ``act`` signs first, as a department does.
AFTER_RECEIPT = ("report_handling", "request_extension")


def act(db: Session, who: Principal, case: Case, action: str, at: datetime | None = None, **fields) -> Case:
    db.refresh(case)
    # (a test naming the version it saw tests that, not the receipt)
    signs = action in AFTER_RECEIPT and case.state == "dispatched" and "version" not in fields
    if signs and not case.received_by_department_at:
        act(db, who, case, "receive", at=at)
    body = actions.body_of(action, version=fields.pop("version", case.version), **fields)
    return actions.act(
        db=db,
        principal=who,
        scope=scope_of(db=db, principal=who),
        code=case.code,
        action=action,
        body=body,
        at=at,
    )


def photo(db: Session, who: Principal, case: Case, role: str, data: bytes | None = None):
    point = to_shape(case.location)
    data = data or jpeg(point.x, point.y, color=(len(role) * 20, 120, 60))
    return case_photos.add_photo(
        db=db, principal=who, scope=scope_of(db=db, principal=who), code=case.code, role=role, data=data
    )[0]


def team(db: Session, department: str = "sanitation_lx") -> dict:
    """A village of 历下区 and a point in it, its inspector, the district's command-center staff and a user
    of ``department``."""
    village, lon, lat = village_point(db)
    return {
        "db": db,
        "village": village,
        "lon": lon,
        "lat": lat,
        "inspector": make_user(db, ["inspector"], inspects=village),
        "acceptor": make_user(db, ["acceptor"], grid=DISTRICT),
        "lead": make_user(db, ["shift_lead"], grid=DISTRICT),
        "dispatcher": make_user(db, ["dispatcher"], grid=DISTRICT),
        "department": make_user(db, ["department"], department=department),
    }


def light_from_limit(
    cal, *, limit_minutes: float, due: datetime, now: datetime, yellow_fraction: float
) -> str:
    """The light worked out afresh from a step's limit and due instant, as the rule says it (red from the due
    instant on, yellow once at most ``yellow_fraction`` of the limit's working time is left): the oracle the
    product's stored instants (``server.case.clock``) are checked against."""
    if now >= due:
        return "red"
    return "yellow" if cal.between(now, due) <= yellow_fraction * limit_minutes else "green"
