"""Adding and editing users (their home grid and department checked), listing them with their live devices,
setting their passwords."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from server.auth import passwords
from server.auth import service as auth_service
from server.auth.models import DeviceSession, User
from server.auth.principal import Principal
from server.auth.schemas import Role, UserCreate
from server.category import service as category_service
from server.errors import Conflict
from server.grid import service as grid_service
from server.users.schemas import UserEdit


def _check_home(db: Session, grid_code: str | None, department_code: str | None) -> None:
    """The home grid must exist, the department exist and be in use."""
    if grid_code:
        grid_service.get_grid(db=db, code=grid_code)
    if department_code:
        category_service.get_department(db=db, code=department_code)


def create_user(*, db: Session, data: UserCreate) -> User:
    same = [User.phone == data.phone]
    if data.username:
        same.append(func.lower(User.username) == data.username.lower())
    clash = db.scalar(select(User).where(or_(*same)).limit(1))
    if clash is not None and clash.phone == data.phone:
        raise Conflict("users.phone_taken", phone=data.phone, user_id=clash.id)
    if clash is not None:
        raise Conflict("users.username_taken", username=data.username, user_id=clash.id)
    _check_home(db, data.grid_code, data.department_code)
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


def live_devices(*, db: Session) -> dict[int, int]:
    """How many live sessions (devices logged in) each user has; users without one are left out."""
    now = datetime.now(UTC)
    query = (
        select(DeviceSession.user_id, func.count())
        .where(DeviceSession.revoked_at.is_(None), DeviceSession.expires_at > now)
        .group_by(DeviceSession.user_id)
    )
    return {user_id: count for user_id, count in db.execute(query)}


def edit_user(*, db: Session, user: User, data: UserEdit, by: Principal) -> User:
    """Change what ``data`` sends. An administrator cannot take their own admin role or disable themselves
    (nobody would be left to undo it). The user's open event streams re-check their scope at once."""
    sent = data.model_fields_set
    if user.id == by.user_id:
        if data.roles is not None and Role.ADMIN not in data.roles:
            raise Conflict("users.own_admin_role")
        if data.active is False:
            raise Conflict("users.own_account_disabled")
    _check_home(db, data.grid_code, data.department_code)
    if data.name is not None:
        user.name = data.name
    if data.roles is not None:
        user.roles = [r.value for r in Role if r in data.roles]  # in the order of the roles, once each
    if "grid_code" in sent:
        user.grid_code = data.grid_code
    if "department_code" in sent:
        user.department_code = data.department_code
    auth_service.notify_session_end(db, user.id)  # "re-check now": the streams take the new scope
    if data.active is not None and data.active != user.active:
        return auth_service.set_active(db=db, user=user, active=data.active)  # commits
    db.commit()
    return user


def set_password(*, db: Session, user: User, password: str) -> User:
    """Set a user's password (an administrator's act); the user's sessions stay."""
    user.password_hash = passwords.new_hash(password)
    db.commit()
    return user
