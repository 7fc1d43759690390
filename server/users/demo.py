"""The demo cities' people: grid heads, inspectors in one district and the command-center staff, each city
described by a ``DemoPeople``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.auth.models import User
from server.auth.passwords import DEMO_PASSWORD
from server.auth.schemas import Role, UserCreate
from server.grid import people as grid_people
from server.grid import service as grid_service
from server.grid.models import CURRENT, Grid
from server.users import service

# A staff member: name, phone, username, roles, and the grid they head ("city", "district", "street": the
# city's, the district's, its first street's; None: no grid).
Staff = tuple[str, str, str, list[Role], str | None]


@dataclass(frozen=True)
class DemoPeople:
    """A demo city's people. Phones and usernames are unique in the whole deployment."""

    district: str  # the district with unit grids, whose first street's villages the inspectors patrol
    staff: list[Staff]
    inspectors: list[str]  # names, each given a village in turn
    inspector_phones: str  # the first 7 digits of the inspectors' phones, followed by 0001, 0002...


JINAN = DemoPeople(
    district="370102",  # 历下区
    staff=[
        ("王建国", "13800000001", "wangjg", [Role.GRID_HEAD, Role.LEADER], "city"),
        ("李明", "13800000002", "liming", [Role.GRID_HEAD], "district"),
        ("陈静", "13800000003", "chenjing", [Role.GRID_HEAD], "street"),
        ("赵敏", "13800000010", "zhaomin", [Role.ACCEPTOR, Role.SHIFT_LEAD, Role.DISPATCHER], None),
        ("系统管理员", "13800000099", "admin", [Role.ADMIN], None),
    ],
    inspectors=["张伟", "刘洋", "杨帆", "黄磊", "周婷", "吴军"],
    inspector_phones="1390000",
)
BEIJING = DemoPeople(
    district="110101",  # 东城区
    staff=[
        ("孙立新", "13700000001", "sunlx", [Role.GRID_HEAD, Role.LEADER], "city"),
        ("周京", "13700000010", "zhoujing", [Role.ACCEPTOR, Role.SHIFT_LEAD, Role.DISPATCHER], None),
        ("北京系统管理员", "13700000099", "bjadmin", [Role.ADMIN], None),
    ],
    inspectors=["马骏", "高岚", "罗晨", "谢宁"],
    inspector_phones="1370001",
)
DISTRICT = JINAN.district  # the first demo city's district with unit grids
# The platform's administrator: an account of the first city who works in the others too.
PLATFORM_ADMIN = UserCreate(
    name="平台管理员",
    phone="13600000001",
    username="platform",
    roles=[Role.ADMIN, Role.LEADER],
    password=DEMO_PASSWORD,
)


def load_demo_people(*, db: Session, people: DemoPeople = JINAN) -> int:
    """Create a demo city's users (in the session's city) and their assignments if missing; return how many
    users were added."""
    district = grid_service.get_grid(db=db, code=people.district)
    street = db.scalar(select(Grid).where(CURRENT, Grid.parent_code == district.code).order_by(Grid.code))
    villages = list(
        db.scalars(select(Grid).where(CURRENT, Grid.parent_code == street.code).order_by(Grid.code))
    )
    grid_for = {"city": district.parent_code, "district": district.code, "street": street.code}
    users = [
        (name, phone, username, roles, grid_for.get(level))
        for name, phone, username, roles, level in people.staff
    ]
    for i, name in enumerate(people.inspectors):
        village = villages[i % len(villages)]
        users.append((name, f"{people.inspector_phones}{i + 1:04d}", None, [Role.INSPECTOR], village.code))

    added = 0
    for name, phone, username, roles, grid_code in users:
        user = db.scalar(select(User).where(User.phone == phone))
        if user is None:
            user = service.create_user(
                db=db, data=UserCreate(name=name, phone=phone, username=username, roles=roles)
            )
            added += 1
        if not user.has_password:
            service.set_password(db=db, user=user, password=DEMO_PASSWORD)
        if grid_code is None:
            continue
        role = "inspector" if Role.INSPECTOR in roles else "head"
        if not any(a.user_id == user.id for a, _ in grid_people.assignments(db=db, grid_code=grid_code)):
            grid_people.assign(db=db, grid_code=grid_code, user=user, role=role)
    return added


def load_platform_admin(*, db: Session, also_cities: list[int]) -> int:
    """Create the platform administrator in the session's city if missing, working in ``also_cities`` too;
    return how many users were added (0 or 1)."""
    user = db.scalar(select(User).where(User.phone == PLATFORM_ADMIN.phone))
    added = user is None
    if added:
        user = service.create_user(db=db, data=PLATFORM_ADMIN)
    if sorted(user.also_cities) != sorted(also_cities):
        user.also_cities = list(also_cities)
        db.commit()
    return int(added)
