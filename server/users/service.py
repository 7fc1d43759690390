"""Adding users (their home grid and department checked), listing them and setting their passwords."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from server.auth import passwords
from server.auth.models import User
from server.auth.schemas import UserCreate
from server.category import service as category_service
from server.errors import Conflict
from server.grid import service as grid_service


def create_user(*, db: Session, data: UserCreate) -> User:
    same = [User.phone == data.phone]
    if data.username:
        same.append(func.lower(User.username) == data.username.lower())
    clash = db.scalar(select(User).where(or_(*same)).limit(1))
    if clash is not None and clash.phone == data.phone:
        raise Conflict("users.phone_taken", phone=data.phone, user_id=clash.id)
    if clash is not None:
        raise Conflict("users.username_taken", username=data.username, user_id=clash.id)
    if data.grid_code:
        grid_service.get_grid(db=db, code=data.grid_code)
    if data.department_code:
        category_service.get_department(db=db, code=data.department_code)
    user = User(
        name=data.name,
        phone=data.phone,
        username=data.username,
        roles=[r.value for r in data.roles],
        department_code=data.department_code,
        grid_code=data.grid_code,
        password_hash=None if data.password is None else passwords.new_hash(data.password),
    )
    db.add(user)
    db.commit()
    db.refresh(user)
    return user


def list_users(*, db: Session, role: str | None = None) -> list[User]:
    query = select(User).order_by(User.id)
    if role:
        query = query.where(User.roles.contains([role]))
    return list(db.scalars(query))


def set_password(*, db: Session, user: User, password: str) -> User:
    """Set a user's password (an administrator's act); the user's sessions stay."""
    user.password_hash = passwords.new_hash(password)
    db.commit()
    return user
