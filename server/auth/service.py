"""Users: create, find, list."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from server.auth.models import User
from server.auth.schemas import UserCreate
from server.errors import Conflict, NotFound


def create_user(*, db: Session, data: UserCreate) -> User:
    same = [User.phone == data.phone] + ([User.username == data.username] if data.username else [])
    clash = db.scalar(select(User).where(or_(*same)).limit(1))
    if clash is not None:
        field = "phone" if clash.phone == data.phone else "username"
        raise Conflict(f"a user with {field} {getattr(data, field)} already exists (id {clash.id})")
    user = User(name=data.name, phone=data.phone, username=data.username, roles=[r.value for r in data.roles])
    db.add(user)
    db.commit()
    db.refresh(user)
    return user


def list_users(*, db: Session, role: str | None = None) -> list[User]:
    query = select(User).order_by(User.id)
    if role:
        query = query.where(User.roles.contains([role]))
    return list(db.scalars(query))


def get_user(*, db: Session, user_id: int) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise NotFound(f"there is no user {user_id}")
    return user


def find_user(*, db: Session, key: str) -> User:
    """A user by phone or username, else by id."""
    user = db.scalar(select(User).where(or_(User.phone == key, User.username == key)).limit(1))
    if user is None and key.isdigit() and len(key) < 19:
        user = db.get(User, int(key))
    if user is None:
        raise NotFound(f"no user with phone, username or id {key!r}")
    return user
