"""The demo city's people: grid heads, inspectors in 历下区 and the command-center staff."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.auth.models import User
from server.auth.passwords import DEMO_PASSWORD
from server.auth.schemas import Role, UserCreate
from server.grid import people as grid_people
from server.grid import service as grid_service
from server.grid.models import CURRENT, Grid
from server.users import service

DISTRICT = "370102"  # 历下区: the district with unit grids
STAFF = [
    ("王建国", "13800000001", "wangjg", [Role.GRID_HEAD, Role.LEADER], "city"),
    ("李明", "13800000002", "liming", [Role.GRID_HEAD], "district"),
    ("陈静", "13800000003", "chenjing", [Role.GRID_HEAD], "street"),
    ("赵敏", "13800000010", "zhaomin", [Role.ACCEPTOR, Role.SHIFT_LEAD, Role.DISPATCHER], None),
    ("系统管理员", "13800000099", "admin", [Role.ADMIN], None),
]
INSPECTORS = ["张伟", "刘洋", "杨帆", "黄磊", "周婷", "吴军"]


def load_demo_people(*, db: Session) -> int:
    """Create the demo users and their assignments if missing; return how many users were added."""
    district = grid_service.get_grid(db=db, code=DISTRICT)
    street = db.scalar(select(Grid).where(CURRENT, Grid.parent_code == district.code).order_by(Grid.code))
    villages = list(
        db.scalars(select(Grid).where(CURRENT, Grid.parent_code == street.code).order_by(Grid.code))
    )
    grid_for = {"city": district.parent_code, "district": district.code, "street": street.code}
    people = [
        (name, phone, username, roles, grid_for.get(level)) for name, phone, username, roles, level in STAFF
    ]
    for i, name in enumerate(INSPECTORS):
        village = villages[i % len(villages)]
        people.append((name, f"1390000{i + 1:04d}", None, [Role.INSPECTOR], village.code))

    added = 0
    for name, phone, username, roles, grid_code in people:
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
